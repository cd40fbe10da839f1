--- spec.support.misbehave: starts spec/support/misbehave.py, an HTTP
-- server that misbehaves on purpose (too many or too long headers, a body
-- that stops, a response lost on a reused connection), for a spec.
--
-- Like spec.support.todo it uses only the standard library and the curl
-- command-line tool, never the retryrun modules the specs test.
--
-- @usage
-- local misbehave = require "spec.support.misbehave"
-- local srv <close> = misbehave.start()
-- print(srv.url .. "/headers?n=10000", srv:stats().requests)

local todo = require "spec.support.todo"

local M = {}

local Server = {}
Server.__index = Server

--- Seconds a stop waits for the server to exit before killing it.
local STOP_TIMEOUT = 10

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Starts the server on 127.0.0.1 with a port it picks.
-- @return a server: `url`, `pid` and the methods below
-- @raise when it does not print its address (no python3)
function M.start()
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
  return setmetatable({url = url, pid = pid, pipe = pipe}, Server)
end

--- The requests the server saw, /_stats aside.
-- @return {requests = N}
function Server:stats()
  local p = assert(io.popen("curl -s --max-time 10 "
                            .. sh_quote(self.url .. "/_stats")))
  local out = p:read("a")
  p:close()
  return todo.decode(out)
end

--- Stops the server with SIGTERM, then SIGKILL after STOP_TIMEOUT
-- seconds. Calling it again does nothing.
function Server:stop()
  if not self.pipe then return end
  os.execute(([=[
kill -TERM %d 2>/dev/null
i=0
while [ $i -lt %d ]; do
  s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/%d/status \
      2>/dev/null)
  { [ -z "$s" ] || [ "$s" = Z ]; } && exit 0
  sleep 0.02; i=$((i+1))
done
kill -KILL %d 2>/dev/null]=]):format(self.pid, STOP_TIMEOUT * 50, self.pid,
                                     self.pid))
  self.pipe:close()
  self.pipe = nil
end

Server.__close = Server.stop
Server.__gc = Server.stop

return M
