--- tasks.lua - how much memory many concurrent retryrun tasks take.
--
--   retryrun tasks.lua URL|- TASKS [TOKEN]
--
-- Spawns TASKS tasks at once. Each sleeps 0.2 s, so all of them are alive
-- together, then makes one GET with the default policy and the `valid`
-- predicate of seq.lua (with URL "-", no GET: the tasks' own cost). At most
-- 64 transfers run at a time (run.limits); the rest queue on the loop.
-- The benchmark reads the peak resident memory of the process.
-- Prints "valid=N retries=R".

local http  = require "retryrun.http"
local retry = require "retryrun.retry"
local run   = require "retryrun.run"

local url, tasks, token = arg[1], tonumber(arg[2]), arg[3]
assert(url and tasks, "usage: retryrun tasks.lua URL TASKS [TOKEN]")

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

run.limits{connections = 64, per_host = 64}

local handles = {}
for i = 1, tasks do
  handles[i] = run.spawn(function()
    run.sleep(0.2)
    if url == "-" then return true end
    local resp = http.get(url, opts)
    return resp.status == 200 and has_summary(resp)
  end)
end

local valid = 0
for _, h in ipairs(handles) do
  if h:wait() then valid = valid + 1 end
end
print(("valid=%d retries=%d"):format(valid, retries))
