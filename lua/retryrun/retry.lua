--- Retry policies: how many attempts, which outcomes are retried, how long
-- to wait, and the script's predicates and hooks.
--
-- A policy is made once from a table of fields, checked and compiled in
-- C (lua_policy.c), and never changes after; the engine reads the compiled
-- form on every call.
--
-- @module retryrun.retry
-- @usage
-- local retry = require "retryrun.retry"
-- local retry_on_missing_summary = retry.policy{
--   valid = function(resp) return resp:json().summary ~= nil end,
-- }
-- local items = retry_on_missing_summary:get(API .. "/items"):json()

local core = require "retryrun.core"
local check = require "retryrun.check"

local next, rawget, type = next, rawget, type
local fail = check.fail
local new_policy, policy_fields = core.policy, core.policy_fields

local retry = {}

--- The methods of every policy (retryrun.http adds the verbs: get, head,
-- delete, options, post, put, patch and request).
local Policy = core.Policy

-- A policy from fields over the parent's (a backoff table merged field by
-- field). core.policy checks every field, raising at the script's line
-- with the same message however the fields came: retry.policy, :extend,
-- or a call's retry = {...}.
local function make(fields, parent)
  if fields == nil then
    fields = {}
  else
    check.argtype(1, parent and "extend" or "policy", fields, "table")
  end
  if not parent then
    return new_policy(fields)
  end
  -- raw reads (next, rawget), as core.policy reads: no metamethod of the
  -- script's shows one field here and another there
  local p = policy_fields(parent)
  local backoff, more = p.backoff, rawget(fields, "backoff")
  for k, v in next, fields do p[k] = v end
  if type(backoff) == "table" and type(more) == "table" then
    for k, v in next, more do backoff[k] = v end
    p.backoff = backoff
  end
  return new_policy(p)
end

--- Makes a policy. It cannot change after: `:extend` makes another.
-- @tparam[opt] table fields any of: attempts, retry_on, valid, backoff,
--   deadline, timeout, connect_timeout, retry_after, max_retry_after,
--   unsafe, idempotency_key, before_attempt, on_retry, on_giveup, raise,
--   budget, breaker, when_open, key (the per-host guards: see
--   docs/reference.md), hedge
--   Ranges: attempts 1 to 1000; deadline, timeout and connect_timeout
--   0.001 to 1e9 seconds; max_retry_after, backoff.initial and
--   backoff.max 0 to 1e9 seconds; backoff.factor 1 to 1e9; retry_on
--   statuses 100 to 599; idempotency_key true, false or a header name;
--   hedge false or {delay = 0.001 to 1e9 seconds, max = 1 to 10}.
-- @return a Policy: its fields read back (`p.attempts`), it is callable
--   (`p(fn)` wraps fn), and it has the verbs (`p:get(url)`)
-- @raise at the script's line on an unknown field, a value of the wrong
--   type or out of range: the same message as `:extend` and a call's
--   `retry = {...}` give
function retry.policy(fields)
  return make(fields, nil)
end

--- Derives a policy: the fields given replace the parent's (a `backoff`
-- table is merged field by field).
-- @usage local RetryOnServerError = Retry:extend{attempts = 6}
function Policy:extend(fields)
  return make(fields, self)
end

--- The wait before retry `n` under this policy's backoff, drawn from the
-- run's seeded generator (`--seed`): for checking a policy's waits.
-- @tparam integer n the retry, 1 for the first
-- @tparam[opt] number prev the previous wait (decorrelated jitter)
-- @raise at the script's line when n or prev is not one
function Policy:delay(n, prev)
  if not (math.type(n) and math.tointeger(n) and n >= 1) then
    check.argerror(1, "delay", ("a retry number >= 1 expected, got %s")
                   :format(check.show(n)))
  end
  if prev ~= nil and not (type(prev) == "number" and prev >= 0) then
    check.argerror(2, "delay", ("a wait in seconds >= 0 expected, got %s")
                   :format(check.show(prev)))
  end
  local d = core.backoff(self, math.tointeger(n), prev)
  return d
end

--- The policy used by calls that name none: the defaults README.md lists.
retry.default = retry.policy{}

--- One attempt, and whatever status comes back is the answer (as curl or
-- requests would return it); only a failure with no response raises.
retry.none = retry.policy{attempts = 1, retry_on = {}}

--- True when v is a policy.
retry.is_policy = core.is_policy

--- True when err is a give-up error.
function retry.is_giveup(err)
  return getmetatable(err) == core.GiveUp
end

retry.Policy = Policy

return retry
