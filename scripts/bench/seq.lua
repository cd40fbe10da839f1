--- seq.lua - retryrun's contender for W1 (sequential) and W2 (faulty).
--
--   retryrun seq.lua URL N [TOKEN]
--
-- N GETs one after another, written the way a user would: the default policy
-- plus a `valid` predicate that decodes the JSON and wants a "summary" in the
-- first item, and the 1 ms full-jitter backoff every contender is given (so
-- W2 measures retrying, not sleeping). An `on_retry` hook counts the retries.
-- Prints "valid=N retries=R"; a call that gives up raises (exit 3).

local http  = require "retryrun.http"
local retry = require "retryrun.retry"

local url, n, token = arg[1], tonumber(arg[2]), arg[3]
assert(url and n, "usage: retryrun seq.lua URL N [TOKEN]")

local retries = 0

local function has_summary(resp)
  local items = resp:json()
  return items[1] ~= nil and items[1].summary ~= nil
end

local policy = retry.policy{
  valid = has_summary,
  backoff = {initial = 0.001, factor = 2, max = 10, jitter = "full"},
  on_retry = function() retries = retries + 1 end,
}

local opts = {
  headers = token and {Authorization = "Bearer " .. token} or nil,
  retry = policy,
}
local valid = 0
for _ = 1, n do
  local resp = http.get(url, opts)
  if resp.status == 200 and has_summary(resp) then
    valid = valid + 1
  end
end
print(("valid=%d retries=%d"):format(valid, retries))
