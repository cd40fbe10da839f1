--- conc.lua - retryrun's contender for W3 and the concurrency sweep.
--
--   retryrun conc.lua URL N CONCURRENCY [TOKEN]
--
-- N GETs with CONCURRENCY tasks in flight through run.map, each call checked
-- by the same `valid` predicate as seq.lua (decode the JSON, want a "summary"
-- in the first item) under the default policy with the 1 ms backoff. The
-- limits allow CONCURRENCY connections to the one host, so every task has a
-- connection of its own. Prints "valid=N retries=R".

local http  = require "retryrun.http"
local retry = require "retryrun.retry"
local run   = require "retryrun.run"

local url, n, conc, token = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
assert(url and n and conc, "usage: retryrun conc.lua URL N CONCURRENCY [TOKEN]")

local retries = 0

local function has_summary(resp)
  local items = resp:json()
  return items[1] ~= nil and items[1].summary ~= nil
end

local opts = {
  headers = token and {Authorization = "Bearer " .. token} or nil,
  retry = retry.policy{
    valid = has_summary,
    backoff = {initial = 0.001, factor = 2, max = 10, jitter = "full"},
    on_retry = function() retries = retries + 1 end,
  },
}

run.limits{connections = conc, per_host = conc}

local calls = {}
for i = 1, n do calls[i] = i end

local oks = run.map(calls, function()
  local resp = http.get(url, opts)
  return resp.status == 200 and has_summary(resp)
end, {concurrency = conc})

local valid = 0
for _, ok in ipairs(oks) do
  if ok then valid = valid + 1 end
end
print(("valid=%d retries=%d"):format(valid, retries))
