--- spec.support.todo: starts todo-server for a spec and talks to it.
--
-- Runs the binary under `$RETRYRUN_BUILD` (default `build`), listening on a
-- free loopback port, and drives it with the curl command-line tool, so it
-- works under plain lua5.4 and under the retryrun host alike. Uses only
-- the standard library, io.popen, lua-cjson and spec.support.common;
-- never the retryrun modules, which are what the specs test.
--
-- @usage
-- local todo = require "spec.support.todo"
-- local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "1"}
-- local r = srv:request("GET", "/items", {token = "alice-secret"})
-- print(r.status, srv:stats().faults.fail)
-- srv:stop()

local cjson = require "cjson"
local common = require "spec.support.common"

local M = {}

local Server = {}
Server.__index = Server

--- Seconds a stop waits for the server to exit before killing it.
local STOP_TIMEOUT = 10
--- Seconds curl gives one request.
local MAX_TIME = 20

local sh_quote, capture = common.quote, common.capture

--- Quotes a string for a curl config file (-K).
local function cfg_quote(s)
  s = tostring(s):gsub('[\\"\n\r\t]', {
    ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r",
    ["\t"] = "\\t",
  })
  return '"' .. s .. '"'
end

--- lua-cjson decodes every number as a float; ids and counts read
-- better as integers ("/items/7", not "/items/7.0").
local function integers(v)
  if type(v) == "number" then
    return math.tointeger(v) or v
  elseif type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
  end
  return v
end

--- Decodes JSON, with integral numbers as Lua integers.
-- @param text JSON text
-- @return the decoded value
-- @raise when text is not JSON
function M.decode(text)
  return integers(cjson.decode(text))
end

--- Runs build/retryrun with `--log` and options on a script and url.
-- @param options retryrun's other options, as shell words
-- @param body the script's text
-- @param url its arg[1]
-- @return the exit code, all it printed, and the log's records, decoded
function M.logged(options, body, url)
  local path, log = common.write_script(body), os.tmpname()
  local code, out = common.sh(("%s --log %s %s %s %s"):format(
    common.quote(common.BIN), common.quote(log), options,
    common.quote(path), common.quote(url)))
  os.remove(path)
  local records = {}
  for line in io.lines(log) do records[#records + 1] = M.decode(line) end
  os.remove(log)
  return code, out, records
end

--- The todo-server binary the specs use.
-- @return path, from `$RETRYRUN_BUILD` (default `build`)
function M.binary()
  return common.BUILD .. "/todo-server"
end

--- common.now and common.sleep, for specs that need no more than this
-- module.
M.now, M.sleep = common.now, common.sleep

--- Starts todo-server on 127.0.0.1 with a port it picks.
-- @param flags list of extra command-line flags (strings); the optional
--   field `stderr` names a file for the server's stderr (for `--log`)
-- @return a server: `url`, `port`, `pid` and the methods below
-- @raise when the server does not print its address (a bad flag, a
--   missing binary)
function M.start(flags)
  for _ = 1, 20 do
    local srv = M.start_once(flags)
    if common.fresh_port(srv.port) then return srv end
    srv:stop()
  end
  error("todo-server kept listening on ports this process used before", 2)
end

-- M.start's one attempt, on whatever port the system gives.
function M.start_once(flags)
  flags = flags or {}
  local argv = {sh_quote(M.binary()), "--listen", "127.0.0.1:0"}
  for _, f in ipairs(flags) do
    argv[#argv + 1] = sh_quote(f)
  end
  local redirect = flags.stderr and (" 2>" .. sh_quote(flags.stderr)) or ""
  -- the shell prints its own pid, then becomes the server
  local pipe = assert(io.popen("echo $$; exec " .. table.concat(argv, " ")
                               .. redirect, "r"))
  local pid = tonumber(pipe:read("l"))
  local line = pipe:read("l")
  local url, port = (line or ""):match("^listening on (http://127%.0%.0%.1:(%d+))$")
  if not url then
    local _, how, code = pipe:close()
    error(("todo-server did not start (%s %s); its first line was %q")
          :format(how, code, line), 3)
  end
  return setmetatable({url = url, port = tonumber(port), pid = pid,
                       pipe = pipe}, Server)
end

--- Counters from GET /_stats.
-- @return the decoded JSON object
function Server:stats()
  return M.decode(capture(("curl -s --max-time %d %s"):format(
    MAX_TIME, sh_quote(self.url .. "/_stats"))))
end

--- Zeroes the counters (DELETE /_stats).
-- @return the counters after the reset
function Server:reset_stats()
  return M.decode(capture(("curl -s --max-time %d -X DELETE %s"):format(
    MAX_TIME, sh_quote(self.url .. "/_stats"))))
end

--- Stops the server with SIGTERM and waits for it to exit; after
-- STOP_TIMEOUT seconds it is killed, so a hang fails instead of hanging.
-- Calling it again returns the same results.
-- @return as io.close: true when it exited 0, then "exit" or "signal" and
--   the code
function Server:stop()
  if self.pipe then
    common.stop_pid(self.pid, STOP_TIMEOUT)
    self.exit = table.pack(self.pipe:close())
    self.pipe = nil
  end
  return table.unpack(self.exit, 1, 3)
end

-- A server left running would hang the spec run: the pipe's own
-- finalizer waits for the process. So a server going out of scope (a
-- `local srv <close>`, or garbage after a failed spec) is stopped first;
-- Lua finalizes the server before the older pipe it holds.
Server.__close = function(self) self:stop() end
Server.__gc = Server.__close

--- Sends requests through one curl process and returns one result per
-- request, in the order given.
--
-- A request is a table: `method` (default GET), `path` (under the
-- server's URL) or `url`, `token` (sent as `Authorization: Bearer`),
-- `json` (a body sent as application/json), `body` and `headers` (a list
-- of "Name: value" strings) for anything else, and `close` (true: a new
-- connection for this request, so curl never silently re-sends it after
-- a reset).
--
-- A result has `status` (0 when no response came), `exit` (curl's exit
-- code: 52 for a reset connection), `time` (seconds), `headers` (lower-
-- case names) and `body` (only without `parallel`).
-- @param reqs list of requests
-- @param opts `parallel` = N sends up to N at once; `close` = true for all
-- @return list of results
function Server:batch(reqs, opts)
  opts = opts or {}
  local cfg = os.tmpname()
  local f = assert(io.open(cfg, "w"))
  local form = "\\n=> %{http_code} %{time_total} %{exitcode} %{urlnum} "
               .. "%{header_json}\\n<=\\n"
  for i, r in ipairs(reqs) do
    local lines = {}
    local function add(k, v) lines[#lines + 1] = k .. " = " .. cfg_quote(v) end
    if i > 1 then lines[#lines + 1] = "next" end
    lines[#lines + 1] = "silent"
    add("url", r.url or (self.url .. r.path))
    local method = r.method or "GET"
    -- always named: a body alone would turn curl's GET into a POST
    if method == "HEAD" then lines[#lines + 1] = "head"
    else add("request", method) end
    if r.token then add("header", "Authorization: Bearer " .. r.token) end
    if r.json then add("header", "Content-Type: application/json") end
    if r.close or opts.close then add("header", "Connection: close") end
    for _, h in ipairs(r.headers or {}) do add("header", h) end
    local body = r.json or r.body
    if body then add("data-raw", body) end
    if opts.parallel or method == "HEAD" then add("output", "/dev/null") end
    add("max-time", MAX_TIME)
    lines[#lines + 1] = "write-out = \"" .. form .. "\""
    f:write(table.concat(lines, "\n"), "\n")
  end
  f:close()
  local cmd = "curl -K " .. sh_quote(cfg) .. " 2>/dev/null"
  if opts.parallel then
    cmd = ("curl --parallel --parallel-immediate --parallel-max %d -K %s 2>/dev/null")
          :format(opts.parallel, sh_quote(cfg))
  end
  local out = capture(cmd)
  os.remove(cfg)

  local results = {}
  local pos = 1
  while true do
    local s, e, code, time, exit, num, hdrs =
      out:find("\n=> (%d+) ([%d.]+) (%d+) (%d+) (.-)\n<=\n", pos)
    if not s then break end
    local headers = {}
    local ok, decoded = pcall(cjson.decode, hdrs)
    for name, values in pairs(ok and type(decoded) == "table" and decoded or {}) do
      headers[name] = values[#values]
    end
    results[tonumber(num) + 1] = {
      status = tonumber(code), time = tonumber(time), exit = tonumber(exit),
      headers = headers, body = not opts.parallel and out:sub(pos, s - 1) or nil,
    }
    pos = e + 1
  end
  for i = 1, #reqs do
    assert(results[i], ("curl gave no result for request %d of %d"):format(
      i, #reqs))
  end
  return results
end

--- Sends one request (see batch for the fields of opts).
-- @param method "GET", "POST", ...
-- @param path the path under the server's URL
-- @param opts the other fields of a batch request
-- @return the result, with `json` set to the decoded body when it is JSON
--   (integral numbers as integers)
function Server:request(method, path, opts)
  local r = {}
  for k, v in pairs(opts or {}) do r[k] = v end
  r.method, r.path = method, path
  local res = self:batch({r})[1]
  local ok, decoded = pcall(M.decode, res.body)
  if ok then res.json = decoded end
  return res
end

return M
