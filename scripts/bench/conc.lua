--- conc.lua - retryrun's contender for W3 and the concurrency sweep.
--
--   retryrun conc.lua URL N CONCURRENCY [TOKEN]
--
-- N GETs with CONCURRENCY tasks in flight through run.map, each under the
-- policy seq.lua uses (common.lua: the `valid` predicate, the 1 ms backoff).
-- The limits allow CONCURRENCY connections to the one host, so every task
-- has a connection of its own; BENCH_PER_HOST in the environment caps them
-- instead (W6: 1, every stream multiplexed on one HTTP/2 connection).
-- Prints "valid=N retries=R".

local http  = require "retryrun.http"
local run   = require "retryrun.run"
local bench = dofile(arg[0]:match("^(.-)[^/]*$") .. "common.lua")

local url, n, conc, token = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
assert(url and n and conc, "usage: retryrun conc.lua URL N CONCURRENCY [TOKEN]")

local opts = bench.options(token)

run.limits{connections = conc,
           per_host = tonumber(os.getenv("BENCH_PER_HOST")) or conc}

local calls = {}
for i = 1, n do calls[i] = i end

local oks = run.map(calls, function()
  return bench.valid(http.get(url, opts))
end, {concurrency = conc})

local valid = 0
for _, ok in ipairs(oks) do
  if ok then valid = valid + 1 end
end
bench.report(valid)
