--- tasks.lua - how much memory many concurrent retryrun tasks take.
--
--   retryrun tasks.lua URL|- TASKS [TOKEN]
--
-- Spawns TASKS tasks at once. Each sleeps 0.2 s, so all of them are alive
-- together, then makes one GET under the policy seq.lua uses (common.lua)
-- (with URL "-", no GET: the tasks' own cost). At most 64 transfers run at
-- a time (run.limits); the rest queue on the loop. The benchmark reads the
-- peak resident memory of the process. Prints "valid=N retries=R".

local http  = require "retryrun.http"
local run   = require "retryrun.run"
local bench = dofile(arg[0]:match("^(.-)[^/]*$") .. "common.lua")

local url, tasks, token = arg[1], tonumber(arg[2]), arg[3]
assert(url and tasks, "usage: retryrun tasks.lua URL TASKS [TOKEN]")

local opts = bench.options(token)

run.limits{connections = 64, per_host = 64}

local handles = {}
for i = 1, tasks do
  handles[i] = run.spawn(function()
    run.sleep(0.2)
    if url == "-" then return true end
    return bench.valid(http.get(url, opts))
  end)
end

local valid = 0
for _, h in ipairs(handles) do
  if h:wait() then valid = valid + 1 end
end
bench.report(valid)
