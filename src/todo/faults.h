/* faults: todo-server's seeded fault generator and the pure arithmetic of
 * its fault decisions. Every request draws the same fixed sequence of
 * numbers whatever its route or outcome, so the same requests in the same
 * order meet the same faults for a given --seed. Knows nothing of HTTP,
 * sockets, threads or time sources: the caller serializes draws and passes
 * clock readings in. */
#ifndef TODO_FAULTS_H
#define TODO_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

/* The faults, in the order /_stats lists them. */
enum fault_kind {
  FAULT_FAIL,
  FAULT_MISSING_FIELD,
  FAULT_SPURIOUS_401,
  FAULT_LAG_404,
  FAULT_RESET,
  FAULT_SLOW,
  FAULT_THROTTLE,
  FAULT_LOSE_RESPONSE,
  FAULT_OUTAGE,
  FAULT_COUNT,
  FAULT_NONE = FAULT_COUNT
};

/* The /_stats key of a fault ("fail", "missing_field", ...); "" for none. */
const char *fault_name(enum fault_kind kind);

/* Probabilities in [0, 1]; 0 turns a fault off. */
struct fault_rates {
  double reset;
  double throttle;
  double fail;
  double spurious_401;
  double slow;
  double missing_field;
  double lose_response;
};

/* xoshiro256** state, seeded through splitmix64. */
struct fault_rng {
  uint64_t s[4];
};

/* What one request drew: each flag says its fault fires if it applies.
 * Which of them are used, and in which order, is the server's business
 * (see request.c); the draw itself never depends on it. */
struct fault_draw {
  bool reset;
  bool throttle;
  bool fail;
  bool spurious_401;
  bool slow;
  bool missing_field;
  bool lose_response;
};

void fault_rng_seed(struct fault_rng *rng, uint64_t seed);
uint64_t fault_rng_next(struct fault_rng *rng);
/* A uniform double in [0, 1). */
double fault_rng_unit(struct fault_rng *rng);

/* Draws one number for every random fault, always in the order of struct
 * fault_draw, and compares each with its rate. */
void fault_draw(struct fault_rng *rng, const struct fault_rates *rates,
                struct fault_draw *out);

/* Milliseconds left in the outage window [start_ms, start_ms + len_ms) at
 * now_ms (all measured from server start); 0 outside it. */
uint64_t fault_outage_left(uint64_t start_ms, uint64_t len_ms, uint64_t now_ms);

/* A Retry-After in whole seconds for ms milliseconds: rounded up, at
 * least 1. */
uint64_t fault_retry_after_s(uint64_t ms);

#endif
