--- common.lua - what seq.lua, conc.lua and tasks.lua share: the workloads'
-- predicate and the request options every retryrun contender runs with.
--
--   local bench = dofile(arg[0]:match("^(.-)[^/]*$") .. "common.lua")
--
-- The options are the default policy plus a `valid` predicate that decodes
-- the JSON and wants a "summary" in the first item, the 1 ms full-jitter
-- backoff every contender is given (so W2 measures retrying, not sleeping),
-- and an `on_retry` hook that counts into `bench.retries`. With
-- BENCH_CACERT set in the environment (W5, W6) every call verifies the
-- https server against that file.

local retry = require "retryrun.retry"

local bench = {retries = 0}

--- The workloads' predicate: the first item of the JSON list has a "summary".
-- @param resp a response
-- @return true or false
-- @raise when the body is not JSON (the policy counts that as invalid)
function bench.has_summary(resp)
  local items = resp:json()
  return items[1] ~= nil and items[1].summary ~= nil
end

--- What a contender counts as valid: a 200 that passes the predicate.
-- @param resp the response a call returned
-- @return true or false
function bench.valid(resp)
  return resp.status == 200 and bench.has_summary(resp)
end

--- The options for http.get: the policy above, and TOKEN's bearer header.
-- @param token a bearer token, or nil for none
-- @return a table for http.get's second argument
function bench.options(token)
  return {
    headers = token and {Authorization = "Bearer " .. token} or nil,
    cacert = os.getenv("BENCH_CACERT"),
    retry = retry.policy{
      valid = bench.has_summary,
      backoff = {initial = 0.001, factor = 2, max = 10, jitter = "full"},
      on_retry = function() bench.retries = bench.retries + 1 end,
    },
  }
end

--- Prints the line run.sh reads, "valid=N retries=R".
-- @param valid how many calls ended valid
function bench.report(valid)
  print(("valid=%d retries=%d"):format(valid, bench.retries))
end

return bench
