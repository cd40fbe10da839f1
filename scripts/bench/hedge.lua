--- hedge.lua - retryrun's client for the hedging workload (WH).
--
--   retryrun hedge.lua URL N CONCURRENCY DELAY [TOKEN]
--
-- N GETs with CONCURRENCY tasks in flight, under the default policy, hedged
-- after DELAY seconds (hedge = {delay = DELAY, max = 2}) or, with DELAY 0,
-- not hedged. Prints "valid=N retries=R" as the other clients do (R: the
-- attempts beyond one per call: hedges here), then each call's latency as
-- "lat=SECONDS" lines for hedge.sh to take percentiles of.

local http  = require "retryrun.http"
local retry = require "retryrun.retry"
local run   = require "retryrun.run"

local url, n, conc, delay, token = arg[1], tonumber(arg[2]),
  tonumber(arg[3]), tonumber(arg[4]), arg[5]
assert(url and n and conc and delay,
       "usage: retryrun hedge.lua URL N CONCURRENCY DELAY [TOKEN]")

local policy = retry.policy{
  hedge = delay > 0 and {delay = delay, max = 2} or false,
  backoff = {initial = 0.001},
}
local headers = token and {Authorization = "Bearer " .. token} or nil

-- room for every hedge: a hedge never waits for a connection
run.limits{connections = 2 * conc, per_host = 2 * conc}

local calls = {}
for i = 1, n do calls[i] = i end
local results = run.map(calls, function()
  local resp = policy:get(url, {headers = headers})
  return {ok = resp.status == 200, elapsed = resp.elapsed,
          extra = resp.attempts - 1}
end, {concurrency = conc})

local valid, extra, lines = 0, 0, {}
for i, r in ipairs(results) do
  if r.ok then valid = valid + 1 end
  extra = extra + r.extra
  lines[i] = ("lat=%.6f"):format(r.elapsed)
end
print(("valid=%d retries=%d"):format(valid, extra))
print(table.concat(lines, "\n"))
