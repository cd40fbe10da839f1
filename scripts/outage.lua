--- 64 clients through an outage: what retries do to a service that is down.
--
-- TASKS tasks each call GET /items in a loop, a call every 50 ms, for
-- SECONDS seconds, against a todo-server started with
-- `--outage START:LENGTH` (503 with Retry-After for LENGTH seconds). Two
-- policies:
--   plain     backoff only, as most retry loops are written: no retry
--             budget, Retry-After ignored (so no shared cool-down), and
--             every give-up is followed by the next call
--   defaults  retryrun's default policy (Retry-After honoured, and with
--             it whatever else the defaults hold)
--
-- usage: retryrun scripts/outage.lua API_URL plain|defaults OUTAGE_END
--            [TASKS [SECONDS]]
-- OUTAGE_END: seconds after this script starts when the outage ends (the
-- server's START + LENGTH; the script starts as the server does). The
-- last line is for scripts to read:
--   mode=plain calls=4012 attempts=5123 retries=1111 giveups=250 recover=0.06
-- recover: seconds from the outage's end until every task has had a call
-- go through again.

local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"

local USAGE = "usage: outage.lua API_URL plain|defaults OUTAGE_END "
              .. "[TASKS [SECONDS]]"
local API_URL = assert(arg[1], USAGE)
local MODE = assert(arg[2], USAGE)
local OUTAGE_END = assert(tonumber(arg[3]), USAGE)
local TASKS = assert(math.tointeger(tonumber(arg[4] or "64")), USAGE)
local SECONDS = assert(tonumber(arg[5] or "8"), USAGE)
local AUTH = {Authorization = "Bearer alice-secret"}

local POLICIES = {
  plain = retry.policy{retry_after = false, budget = false, raise = false},
  defaults = retry.default:extend{raise = false},
}
local policy = assert(POLICIES[MODE], USAGE)

local t0 = run.now()
local totals = {calls = 0, attempts = 0, giveups = 0}

--- One client: calls until SECONDS have passed; returns when it first
-- got through after the outage's end (seconds since t0), or nil.
local function client()
  local back
  while run.now() - t0 < SECONDS do
    local resp, err = policy:get(API_URL .. "/items", {headers = AUTH})
    totals.calls = totals.calls + 1
    totals.attempts = totals.attempts + (resp and resp.attempts or
                                         #err.attempts)
    if resp and resp.ok then
      local t = run.now() - t0
      if not back and t >= OUTAGE_END then back = t end
    else
      totals.giveups = totals.giveups + 1
    end
    run.sleep(0.05)
  end
  return back
end

local list = {}
for i = 1, TASKS do list[i] = i end
local backs = run.map(list, client)
local recover = 0
for i = 1, TASKS do
  recover = math.max(recover, (backs[i] or math.huge) - OUTAGE_END)
end
print(("mode=%s calls=%d attempts=%d retries=%d giveups=%d recover=%.2f")
      :format(MODE, totals.calls, totals.attempts,
              totals.attempts - totals.calls, totals.giveups, recover))
