--- spec.support.misbehave: starts spec/support/misbehave.py, an HTTP
-- server that misbehaves on purpose (too many or too long headers, a body
-- that stops, a response lost on a reused connection), for a spec.
--
-- Like spec.support.todo it uses only the standard library, the curl
-- command-line tool and spec.support.common, never the retryrun modules
-- the specs test.
--
-- @usage
-- local misbehave = require "spec.support.misbehave"
-- local srv <close> = misbehave.start()
-- print(srv.url .. "/headers?n=10000", srv:stats().requests)

local common = require "spec.support.common"
local todo = require "spec.support.todo"

local M = {}

local Server = {}
Server.__index = Server

--- Seconds a stop waits for the server to exit before killing it.
local STOP_TIMEOUT = 10

--- Starts the server on 127.0.0.1 with a port it picks.
-- @param tries (internal) starts so far on a port already used
-- @return a server: `url`, `pid` and the methods below
-- @raise when it does not print its address (no python3)
function M.start(tries)
  local pipe = assert(io.popen("echo $$; exec python3 "
                               .. "spec/support/misbehave.py", "r"))
  local pid = tonumber(pipe:read("l"))
  local line = pipe:read("l")
  local url = (line or ""):match("^listening on (http://127%.0%.0%.1:%d+)$")
  if not url then
    pipe:close()
    error(("misbehave.py did not start; its first line was %q"):format(line),
          2)
  end
  local srv = setmetatable({url = url, pid = pid, pipe = pipe}, Server)
  if common.fresh_port(tonumber(url:match("%d+$"))) then return srv end
  srv:stop()
  tries = (tries or 0) + 1
  if tries == 20 then
    error("misbehave.py kept listening on ports this process used before", 2)
  end
  return M.start(tries)
end

--- The requests the server saw, /_stats aside.
-- @return {requests = N}
function Server:stats()
  return todo.decode(common.capture("curl -s --max-time 10 "
                                    .. common.quote(self.url .. "/_stats")))
end

--- Stops the server with SIGTERM, then SIGKILL after STOP_TIMEOUT
-- seconds. Calling it again does nothing.
function Server:stop()
  if not self.pipe then return end
  common.stop_pid(self.pid, STOP_TIMEOUT)
  self.pipe:close()
  self.pipe = nil
end

Server.__close = Server.stop
Server.__gc = Server.stop

return M
