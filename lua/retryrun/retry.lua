--- Retry policies: how many attempts, which outcomes are retried, how long
-- to wait, and the script's predicates and hooks.
--
-- A policy is a plain table of fields (DESIGN.md lists them) checked and
-- compiled once; the engine in C reads the compiled form on every call.
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

local pairs, type, setmetatable = pairs, type, setmetatable
local fail, suggest = check.fail, check.suggest

local retry = {}

-- Each field and the types it takes.
local FIELDS = {
  attempts = "number", retry_on = "table", valid = "function",
  backoff = "table", deadline = "number", timeout = "number",
  connect_timeout = "number", retry_after = "boolean",
  max_retry_after = "number", unsafe = "boolean",
  idempotency_key = "boolean|string", before_attempt = "function",
  on_retry = "function", on_giveup = "function", raise = "boolean",
}
local BACKOFF_FIELDS = {initial = true, factor = true, max = true,
                        jitter = true}

local Policy = {}
Policy.__index = Policy
Policy.__name = "retryrun.Policy"

-- Errors below are raised at the script's line (check.fail) and read the
-- same whichever way the fields came: retry.policy, :extend, or a call's
-- retry = {...}.
local function check_fields(fields)
  for k, v in pairs(fields) do
    local want = type(k) == "string" and FIELDS[k]
    if not want then
      fail(("unknown policy field %s%s"):format(
        type(k) == "string" and "'" .. k .. "'" or check.show(k),
        type(k) == "string" and suggest(k, FIELDS) or ""))
    end
    if not want:find(type(v), 1, true) then
      fail(("policy field '%s' must be a %s (got %s)"):format(k,
           want:gsub("|", " or "), type(v)))
    end
  end
  if fields.backoff then
    for k in pairs(fields.backoff) do
      if not BACKOFF_FIELDS[k] then
        fail(("unknown backoff field %s%s"):format(
          type(k) == "string" and "'" .. k .. "'" or check.show(k),
          type(k) == "string" and suggest(k, BACKOFF_FIELDS) or ""))
      end
    end
  end
end

local function make(fields, parent)
  if fields == nil then
    fields = {}
  elseif type(fields) ~= "table" then
    fail("bad argument #1 to 'policy' (table expected, got "
         .. type(fields) .. ")")
  end
  check_fields(fields)
  -- a policy is its fields, plus _compiled: the parent's fields first
  local p = {}
  if parent then
    for k, v in pairs(parent) do
      if k ~= "_compiled" then p[k] = v end
    end
  end
  for k, v in pairs(fields) do p[k] = v end
  if parent and parent.backoff and fields.backoff then
    local b = {}
    for k, v in pairs(parent.backoff) do b[k] = v end
    for k, v in pairs(fields.backoff) do b[k] = v end
    p.backoff = b
  end
  local ok, compiled = pcall(core.compile, p)
  if not ok then
    fail(compiled)
  end
  p._compiled = compiled
  return setmetatable(p, Policy)
end

--- Makes a policy.
-- @tparam[opt] table fields any of: attempts, retry_on, valid, backoff,
--   deadline, timeout, connect_timeout, retry_after, max_retry_after,
--   unsafe, idempotency_key, before_attempt, on_retry, on_giveup, raise
--   Ranges: attempts 1 to 1000; deadline, timeout and connect_timeout
--   0.001 to 1e9 seconds; max_retry_after, backoff.initial and
--   backoff.max 0 to 1e9 seconds; backoff.factor 1 to 1e9; retry_on
--   statuses 100 to 599; idempotency_key true, false or a header name.
-- @return a Policy
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

--- A policy is callable: `policy(fn)` returns a function that runs fn and
-- retries it as a whole when it returns a response the policy rejects or a
-- call inside it gives up. Calls inside fn that name no policy make one
-- attempt: the wrapper is the retry layer.
function Policy:__call(fn)
  if type(fn) ~= "function" then
    fail("a policy wraps a function (got " .. type(fn) .. ")")
  end
  local call = core.call
  return function(...)
    return call(self, fn, ...)
  end
end

function Policy:__tostring()
  return ("retryrun.Policy (attempts %d)"):format(self.attempts or 4)
end

--- The wait before retry `n` under this policy's backoff, drawn from the
-- run's seeded generator (`--seed`): for checking a policy's waits.
-- @tparam integer n the retry, 1 for the first
-- @tparam[opt] number prev the previous wait (decorrelated jitter)
-- @raise at the script's line when n or prev is not one
function Policy:delay(n, prev)
  if not (math.type(n) and math.tointeger(n) and n >= 1) then
    fail(("bad argument #1 to 'delay' (a retry number >= 1 expected, got "
          .. "%s)"):format(check.show(n)))
  end
  if prev ~= nil and not (type(prev) == "number" and prev >= 0) then
    fail(("bad argument #2 to 'delay' (a wait in seconds >= 0 expected, "
          .. "got %s)"):format(check.show(prev)))
  end
  local d = core.backoff(self._compiled, math.tointeger(n), prev)
  return d
end

-- retryrun.http, found at the first call (it requires this module, so
-- it cannot be required at load).
local http
local function http_module()
  http = http or require("retryrun.http")
  return http
end

-- policy:get(url, opts) and the other verbs call through the policy.
for _, verb in pairs{"get", "head", "delete", "options", "post", "put",
                     "patch"} do
  local method = verb:upper()
  Policy[verb] = function(self, url, opts)
    if opts ~= nil and type(opts) ~= "table" then
      fail(("bad argument #2 to '%s' (table expected, got %s)")
           :format(verb, type(opts)))
    end
    local resp, err = http_module()._call(method, url, opts, self)
    return resp, err
  end
end

--- Calls through the policy with http.request's options.
function Policy:request(opts)
  local resp, err = http_module()._request(opts, self)
  return resp, err
end

--- The policy used by calls that name none: DESIGN.md's defaults.
retry.default = retry.policy{}

--- One attempt, and whatever status comes back is the answer (as curl or
-- requests would return it); only a failure with no response raises.
retry.none = retry.policy{attempts = 1, retry_on = {}}

--- True when v is a policy.
function retry.is_policy(v)
  return getmetatable(v) == Policy
end

--- True when err is a give-up error.
function retry.is_giveup(err)
  return getmetatable(err) == core.GiveUp
end

retry.Policy = Policy

return retry
