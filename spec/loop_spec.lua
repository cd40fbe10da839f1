-- The event loop and the host around it: run.limits and the per-host cap,
-- the standard functions the host (not a module) replaces, errors that
-- travel as values up to the one place that prints, a run that meets out
-- of memory in the loop.
local http = require "retryrun.http"
local run = require "retryrun.run"
local todo = require "spec.support.todo"

local BIN = (os.getenv("RETRYRUN_BUILD") or "build") .. "/retryrun"
local AUTH = {Authorization = "Bearer alice-secret"}

--- Runs a shell command; returns its exit code and its output (both
-- streams).
local function sh(cmd)
  local f = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"rc=$?\""))
  local out = f:read("a")
  f:close()
  local code = tonumber(out:match("rc=(%d+)\n$"))
  return code, (out:gsub("rc=%d+\n$", ""))
end

--- Runs a script in a new retryrun after the shell command `before`
-- (ulimit, an environment variable); returns its exit code and output.
local function run_script(body, before)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  local code, out = sh((before or "") .. " timeout 10 " .. BIN .. " "
                       .. path)
  os.remove(path)
  return code, out
end

--- The most connections todo-server had open at once while `n` tasks
-- each made one call to its slow /items, less the one asking for stats.
local function peak_of(srv, n)
  local list = {}
  for i = 1, n do list[i] = i end
  run.map(list, function()
    return http.get(srv.url .. "/items", {headers = AUTH}).status
  end)
  return srv:stats().connections_peak - 1
end

describe("run.limits", function()
  after_each(function() run.limits{per_host = false} end)

  describe("per_host", function()
    it("= false removes the per-host cap", function()
      local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "100"}
      run.limits{per_host = 2}
      run.limits{per_host = false}
      local peak = peak_of(srv, 12)
      assert.is_true(peak > 2, "peak " .. peak)
    end)

    it("= 0 removes it too", function()
      local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "100"}
      run.limits{per_host = 2}
      run.limits{per_host = 0}
      local peak = peak_of(srv, 12)
      assert.is_true(peak > 2, "peak " .. peak)
    end)

    it("left out keeps the cap", function()
      local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "100"}
      run.limits{per_host = 2}
      run.limits{connections = 256}
      local peak = peak_of(srv, 12)
      assert.is_true(peak <= 2, "peak " .. peak)
    end)

    it("out of range or not a number is an error naming the field",
       function()
      local msg = "bad argument #1 to 'limits' (per_host must be between "
                  .. "1 and 100000, or false for no cap)"
      assert.has_error(function() run.limits{per_host = -1} end, msg)
      assert.has_error(function() run.limits{per_host = 100001} end, msg)
      assert.has_error(function() run.limits{per_host = true} end, msg)
      assert.has_error(function() run.limits{per_host = "many"} end, msg)
    end)
  end)

  it("connections that is not a number is an error naming the field",
     function()
    assert.has_error(function() run.limits{connections = "x"} end,
      "bad argument #1 to 'limits' (connections must be between 1 and "
      .. "100000)")
  end)
end)

describe("the host's standard functions", function()
  it("are in place before a script requires anything", function()
    local code, out = run_script([[
local mine = coroutine.resume
print(mine == require("retryrun.stdlib").coroutine.resume)
]])
    assert.equal("true\n", out)
    assert.equal(0, code)
  end)

  it("are not changed by require 'retryrun.run'", function()
    local code, out = run_script([[
package.loaded["retryrun.run"] = nil
local function mine() end
coroutine.resume, coroutine.yield, os.execute = mine, mine, mine
require "retryrun.run"
print(coroutine.resume == mine, coroutine.yield == mine,
      os.execute == mine)
]])
    assert.equal("true\ttrue\ttrue\n", out)
    assert.equal(0, code)
  end)
end)

describe("libcurl that cannot start", function()
  it("is said in the call's error, and nothing else is printed",
     function()
    -- a library with libcurl's name and none of its functions
    local dir = os.tmpname()
    os.remove(dir)
    local cc = os.getenv("CC") or "cc"
    local built = sh(("mkdir %s && %s -shared -o %s/libcurl.so.4 -x c "
                      .. "/dev/null"):format(dir, cc, dir))
    if built ~= 0 then
      sh("rm -rf " .. dir)
      pending("no C compiler to build a fake libcurl with")
      return
    end
    local code, out = run_script([[
local http = require "retryrun.http"
local ok, err = pcall(http.get, "http://127.0.0.1:1/")
print(ok, (err:gsub("^[^ ]*: ", "")))
]], "LD_LIBRARY_PATH=" .. dir)
    sh("rm -rf " .. dir)
    assert.equal("false\tcannot start libcurl: libcurl has no "
                 .. "curl_global_init: is it older than 7.66?\n", out)
    assert.equal(0, code)
  end)
end)

describe("a run out of memory around a failed task's error", function()
  it("reports it and exits 1, never a Lua panic", function()
    -- a sanitizer build reserves terabytes of address space up front
    if run_script("", "ulimit -v 100000;") ~= 0 then
      pending("retryrun cannot start under ulimit -v here")
      return
    end
    -- the task's error is a 40 MiB string, kept as it is with its
    -- traceback apart; printing it, or running out of memory anywhere
    -- near, must end in a message and exit 1
    local script = [[
local run = require "retryrun.run"
local t = run.spawn(function()
  local s = string.rep("x", 40 * 1024 * 1024)
  collectgarbage()
  error(s, 0)
end)
run.sleep(0.05)
]]
    local hit = 0
    for kib = 100000, 180000, 20000 do
      local code, out = run_script(script, "ulimit -v " .. kib .. ";")
      assert.is_falsy(out:find("PANIC", 1, true), out:sub(1, 200))
      assert.equal(1, code, out:sub(1, 200))
      assert.truthy(out == "retryrun: not enough memory\n" or
                    out:find("^retryrun: a task failed"), out:sub(1, 200))
      if out:find("not enough memory", 1, true) then hit = hit + 1 end
    end
    assert.is_true(hit > 0, "no limit ran out of memory")
  end)
end)

describe("the Lua state's garbage collector", function()
  it("starts generational; a script may switch it, and a full collection frees all", function()
    local code, out = run_script([[
local weak = setmetatable({}, {__mode = "v"})
weak[1] = {}
print(collectgarbage("incremental"), collectgarbage("generational"))
collectgarbage()
print(weak[1] == nil)
]])
    assert.equal(0, code, out)
    assert.equal("generational\tincremental\ntrue\n", out)
  end)

  -- Lua 5.4's own basic step in generational mode is a minor collection
  -- that also clears the debt a major one waits for: this script grew to
  -- 348 MB with it, and peaks at 18 MB without the steps.
  it("frees what aged when a script steps it often", function()
    local code, out = run_script([[
local peak, hold = 0, {}
for i = 1, 3000 do
  local t = {}
  for j = 1, 200 do t[j] = {j, tostring(j)} end
  hold[i % 50] = {("x"):rep(100000) .. i, t}    -- kept 50 rounds, dropped
  if i % 10 == 0 then collectgarbage("step") end
  peak = math.max(peak, collectgarbage("count") // 1024)
end
print(peak < 60, collectgarbage("step", 0), collectgarbage("step", 1) ~= nil)
print(pcall(collectgarbage, "step", "x"))
collectgarbage("incremental")
print(type(collectgarbage("step")), collectgarbage("generational"))
]])
    assert.equal(0, code, out)
    assert.equal("true\tfalse\ttrue\nfalse\tbad argument #2 to "
                 .. "'collectgarbage' (number expected, got string)\n"
                 .. "boolean\tincremental\n", out)
  end)

  -- A switch asked for inside a finalizer fails, and the mode stays.
  it("keeps the mode a switch in a finalizer could not change", function()
    local code, out = run_script([[
setmetatable({}, {__gc = function()
  print("in a finalizer:", collectgarbage("incremental"))
end})
collectgarbage()
local peak, hold = 0, {}
for i = 1, 3000 do
  local t = {}
  for j = 1, 200 do t[j] = {j, tostring(j)} end
  hold[i % 50] = {("x"):rep(100000) .. i, t}
  if i % 10 == 0 then collectgarbage("step") end
  peak = math.max(peak, collectgarbage("count") // 1024)
end
print(peak < 60, debug.getinfo(collectgarbage).nups,
      collectgarbage("incremental"))
]])
    assert.equal(0, code, out)
    assert.equal("in a finalizer:\tnil\ntrue\t0\tgenerational\n", out)
  end)
end)
