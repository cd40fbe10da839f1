-- Cancels 20 calls in flight and in the slot queue, and a sleeping task:
-- run under valgrind to check that cancellation releases everything.
--   build/todo-server --listen 127.0.0.1:0 --slow-rate 1 --slow-ms 3000
--   valgrind --leak-check=full build/retryrun spec/support/cancel_inflight.lua URL/items
local http = require "retryrun.http"
local run = require "retryrun.run"
local url = arg[1]
run.limits{connections = 4}
local gave = 0
local hs = {}
for i = 1, 20 do
  hs[i] = run.spawn(function()
    return http.get(url, {retry = {on_giveup = function() gave = gave + 1 end}})
  end)
end
local sleeper = run.spawn(function() run.sleep(10) end)
run.sleep(0.1)
for i = 1, 20 do hs[i]:cancel() end
sleeper:cancel()
for i = 1, 20 do pcall(hs[i].wait, hs[i]) end
pcall(sleeper.wait, sleeper)
print("gave up", gave)
