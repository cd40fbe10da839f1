--- spec.support.common: what the specs share, each thing in one place.
--
-- The build under test (`BUILD`, `BIN`), todo-server's default user
-- (`TOKEN`, `AUTH`), a backoff short enough for specs (`FAST`), running
-- build/retryrun on a script and reading all it printed (`sh`, `run`,
-- `write_script`), shell quoting, a clock that never goes back, and what
-- puts back the process-wide settings a spec changes (`restore_limits`,
-- `reseed`).
--
-- It uses only the standard library, so spec.support.todo and
-- spec.support.misbehave build on it too; `restore_limits` and `reseed`
-- require retryrun's own modules, and only when they are called.
--
-- How a spec cleans up, so that a failed assertion never leaks into the
-- next one:
--
-- * a server an `it` starts is held in a `local srv <close>`, which stops
--   it however the `it` ends (an explicit `srv:stop()` before that, to
--   check its exit, is fine: stopping twice is harmless);
-- * a server a `describe` shares is started in `setup` and stopped in
--   `teardown`, which busted runs even when a spec in the block failed;
-- * a process-wide setting a spec changes (`run.limits`, the jitter's
--   seed) is put back by `after_each` in the `describe` that changes it.
--
-- @usage
-- local common = require "spec.support.common"
-- local code, out = common.run([[print(arg[1])]], {args = {"x"}})
-- assert.same({0, "x\n"}, {code, out})

local M = {}

--- The build tree the specs test: `$RETRYRUN_BUILD`, default `build`.
M.BUILD = os.getenv("RETRYRUN_BUILD") or "build"

--- The retryrun binary of that build.
M.BIN = M.BUILD .. "/retryrun"

--- The secret of todo-server's default user alice, good as a bearer token.
M.TOKEN = "alice-secret"

--- Request headers that authenticate as alice. Shared: never change it.
M.AUTH = {Authorization = "Bearer " .. M.TOKEN}

--- A backoff of milliseconds, for specs that make retries but do not
-- measure their waits. Shared: never change it.
M.FAST = {initial = 0.001, factor = 2, max = 0.01}

--- Quotes a string for /bin/sh.
-- @param s a string (or anything tostring takes)
-- @return s in single quotes, its own single quotes escaped
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Escapes a string for use inside a Lua pattern, to match it as it is.
-- @param s a string
-- @return s with every punctuation character escaped
function M.literal(s)
  return (s:gsub("%p", "%%%0"))
end

--- How many times a Lua pattern matches in s.
-- @param s the text
-- @param pattern a Lua pattern (see `literal` for plain text)
-- @return the number of matches
function M.count(s, pattern)
  local _, n = s:gsub(pattern, "")
  return n
end

--- The whole of a file.
-- @param path the file
-- @return its bytes
-- @raise when it cannot be read
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- Runs a shell command and returns what it printed on stdout.
-- @param cmd a command line for /bin/sh
-- @return its stdout, whole
-- @raise when the shell cannot be started
function M.capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

--- Seconds on a clock that never goes back (/proc/uptime, 10 ms steps),
-- for measuring waits in specs.
-- @return seconds
function M.now()
  local f = io.open("/proc/uptime", "r")
  local t = f and tonumber(f:read("n"))
  if f then f:close() end
  return t or tonumber(M.capture("date +%s.%N"))
end

--- Sleeps for the given seconds (decimals allowed).
-- @param seconds how long
function M.sleep(seconds)
  os.execute(("sleep %.3f"):format(seconds))
end

--- Runs a shell command under /bin/sh.
-- @param cmd a command line; its stdout and stderr are both read
-- @return its exit code (128 + N for signal N), all it printed (both
--   streams, in order) and the seconds it took
function M.sh(cmd)
  local t0 = M.now()
  local out = M.capture("(" .. cmd .. ") 2>&1; echo \"rc=$?\"")
  local code = tonumber(out:match("rc=(%d+)\n$"))
  return code, (out:gsub("rc=%d+\n$", "")), M.now() - t0
end

--- Writes a script to a new temporary file.
-- @param body the script's text
-- @return the file's path; the caller removes it
-- @raise when the file cannot be written
function M.write_script(body)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

--- Runs build/retryrun on a script and waits for it.
-- @param script the script's text, written to a temporary file and
--   removed after the run; or, with `opts.file`, the path of a script
-- @param opts optional: `args` (a list of arguments, each quoted),
--   `timeout` (seconds; past it `timeout` kills the run, which then exits
--   124: a hung script fails instead of hanging the suite), `ulimit` (the
--   shell's `ulimit` options to set first, e.g. "-n 100"), `file` (true:
--   `script` is a path)
-- @return as `sh`: the exit code, all it printed and the seconds it took;
--   then the script's path
function M.run(script, opts)
  opts = opts or {}
  local path = opts.file and script or M.write_script(script)
  local argv = {M.quote(M.BIN), M.quote(path)}
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = M.quote(a) end
  local cmd = table.concat(argv, " ")
  if opts.timeout then cmd = ("timeout %s %s"):format(opts.timeout, cmd) end
  if opts.ulimit then cmd = ("ulimit %s; exec %s"):format(opts.ulimit, cmd) end
  local code, out, took = M.sh(cmd)
  if not opts.file then os.remove(path) end
  return code, out, took, path
end

--- Runs build/retryrun with options on a script and url, and keeps what
-- it wrote on stderr: the -v trace, the summary.
-- @param options retryrun's own options, as shell words
-- @param body the script's text
-- @param url its arg[1]
-- @return the exit code and stderr's lines
function M.traced(options, body, url)
  local path = M.write_script(body)
  local code, out = M.sh(("%s %s %s %s 2>&1 >/dev/null"):format(
    M.quote(M.BIN), options, M.quote(path), M.quote(url)))
  os.remove(path)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return code, lines
end

-- Ports a server of this process has listened on. Specs that run inside
-- retryrun (busted --lua) share one process, whose retry budget, breaker
-- and cool-downs are kept per host and port: a new server on a port an
-- earlier spec drained would start with its guards already tripped.
-- busted loads this module afresh for each spec file and puts _G back
-- after it, so the list lives in the registry, which lasts as long as
-- the process and its guards do.
local registry = debug.getregistry()
local used_ports = registry["spec.support.used_ports"] or {}
registry["spec.support.used_ports"] = used_ports

--- Whether a server's port is new to this process; marks it as used.
-- @param port the port a server just started listening on
-- @return true the first time a port is seen
function M.fresh_port(port)
  if used_ports[port] then return false end
  used_ports[port] = true
  return true
end

--- Stops a process with SIGTERM and waits for it to exit; after `timeout`
-- seconds it is killed with SIGKILL, so a hang fails instead of hanging.
-- The process must be a child whose pipe the caller then closes: /proc
-- tells an exited (zombie) child from a running one, where kill -0 cannot.
-- @param pid the process id
-- @param timeout seconds to wait before SIGKILL
function M.stop_pid(pid, timeout)
  os.execute(([=[
kill -TERM %d 2>/dev/null
i=0
while [ $i -lt %d ]; do
  s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/%d/status 2>/dev/null)
  { [ -z "$s" ] || [ "$s" = Z ]; } && exit 0
  sleep 0.02; i=$((i+1))
done
kill -KILL %d 2>/dev/null]=]):format(pid, timeout * 50, pid, pid))
end

--- The caps `run.limits` sets when a spec has changed them: 256
-- connections, as the host starts with, and a per-host cap too high to
-- matter (a per-host cap, once set, cannot be unset).
M.LIMITS = {connections = 256, per_host = 100000}

--- Puts `run.limits` back to `LIMITS`; for `after_each` in a describe
-- whose specs change the limits.
function M.restore_limits()
  require("retryrun.run").limits(M.LIMITS)
end

--- Reseeds the jitter's generator as the host seeds it at start: from
-- `$RETRYRUN_SEED` when set, else from /dev/urandom. For `after_each` in a
-- describe whose specs call `core.seed`, so a fixed seed does not carry
-- into later specs.
function M.reseed()
  local seed = math.tointeger(tonumber(os.getenv("RETRYRUN_SEED") or ""))
  if not seed then
    local f = assert(io.open("/dev/urandom", "rb"))
    seed = string.unpack("<i8", f:read(8)) & math.maxinteger
    f:close()
  end
  require("retryrun.core").seed(seed)
end

return M
