/* faults: the seeded generator and fault arithmetic of todo-server (see
 * faults.h). Pure functions over plain structs; no I/O, no clocks, no
 * locks. */
#include "faults.h"

static const char *const names[FAULT_COUNT] = {
  [FAULT_FAIL] = "fail",
  [FAULT_MISSING_FIELD] = "missing_field",
  [FAULT_SPURIOUS_401] = "spurious_401",
  [FAULT_LAG_404] = "lag_404",
  [FAULT_RESET] = "reset",
  [FAULT_SLOW] = "slow",
  [FAULT_THROTTLE] = "throttle",
  [FAULT_LOSE_RESPONSE] = "lose_response",
  [FAULT_OUTAGE] = "outage",
};

const char *fault_name(enum fault_kind kind)
{
  return (unsigned)kind < FAULT_COUNT ? names[kind] : "";
}

static uint64_t splitmix64(uint64_t *x)
{
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

void fault_rng_seed(struct fault_rng *rng, uint64_t seed)
{
  for(int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

uint64_t fault_rng_next(struct fault_rng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double fault_rng_unit(struct fault_rng *rng)
{
  return (double)(fault_rng_next(rng) >> 11) * 0x1.0p-53;
}

void fault_draw(struct fault_rng *rng, const struct fault_rates *rates,
                struct fault_draw *out)
{
  /* One number each, in this order, every time: the sequence a seed gives
   * never depends on which faults fired or applied. */
  out->reset = fault_rng_unit(rng) < rates->reset;
  out->throttle = fault_rng_unit(rng) < rates->throttle;
  out->fail = fault_rng_unit(rng) < rates->fail;
  out->spurious_401 = fault_rng_unit(rng) < rates->spurious_401;
  out->slow = fault_rng_unit(rng) < rates->slow;
  out->missing_field = fault_rng_unit(rng) < rates->missing_field;
  out->lose_response = fault_rng_unit(rng) < rates->lose_response;
}

uint64_t fault_outage_left(uint64_t start_ms, uint64_t len_ms, uint64_t now_ms)
{
  if(now_ms < start_ms || now_ms - start_ms >= len_ms)
    return 0;
  return len_ms - (now_ms - start_ms);
}

uint64_t fault_retry_after_s(uint64_t ms)
{
  uint64_t s = ms / 1000 + (ms % 1000 != 0);
  return s ? s : 1;
}
