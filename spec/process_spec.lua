-- The process: how a run ends when its main chunk fails, when a hook waits
-- past its call's deadline, on SIGINT and SIGTERM, in CPU-bound code and
-- around child processes, and what a script's own yield meets. Each case
-- runs build/retryrun on a script, under `timeout` so a hang fails.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local BIN, sh, count = common.BIN, common.sh, common.count
local AUTH = ("{Authorization = %q}"):format(common.AUTH.Authorization)

-- Runs a script to its end (at most 5 s).
local function run_script(body)
  return common.run(body, {timeout = 5})
end

-- Starts a script, sends it the signals after `delay` seconds each, and
-- waits for it; a watchdog kills it after 5 s (not `timeout`, which would
-- take the signals itself).
local function signal_script(body, signals, delay)
  local path = common.write_script(body)
  local kills = {}
  for i, s in ipairs(signals) do
    kills[i] = ("sleep %s; kill -%s $p"):format(delay or 0.3, s)
  end
  local code, out, took = sh(BIN .. " " .. path .. " & p=$!; " ..
                             "{ sleep 5; kill -KILL $p; } >/dev/null 2>&1 " ..
                             "& w=$!; " .. table.concat(kills, "; ") ..
                             "; wait $p; r=$?; kill $w; exit $r")
  os.remove(path)
  return code, out, took
end

describe("a main chunk that raises while other tasks work", function()
  it("prints its error, cancels the others with on_giveup, exits 1",
     function()
    local code, out, took, path = run_script([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      for i = 1, 2 do
        run.spawn(function()
          http.get("http://127.0.0.1:1/", {retry = {attempts = 10,
            backoff = {initial = 30, jitter = "none"},
            on_giveup = function(err) print("gave up: " .. err.reason) end}})
        end)
      end
      run.spawn(function() run.sleep(60) end)
      run.sleep(0.05)
      error("main broke")
    ]])
    assert.equal(1, code)
    assert.is_true(took < 2, "took " .. took)
    local p = common.literal(path)
    assert.matches("^retryrun: " .. p .. ":12: main broke\nstack " ..
                   "traceback:\n", out)
    assert.equal(2, count(out, "gave up: cancelled\n"))
    -- the tasks it stopped are not failures of their own
    assert.equal(0, count(out, "nothing waited on it"))
  end)

  it("stops a task waiting inside a hook, whose on_giveup still runs",
     function()
    local code, out, took = run_script([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      run.spawn(function()
        http.get("http://127.0.0.1:1/", {retry = {
          before_attempt = function() run.sleep(60) end,
          on_giveup = function(err) print("gave up: " .. err.message) end}})
      end)
      run.sleep(0.05)
      error("main broke")
    ]])
    assert.equal(1, code)
    assert.is_true(took < 2, "took " .. took)
    assert.matches("gave up: GET http://127.0.0.1:1/ gave up after 0 " ..
                   "attempts in 0%.%d s; cancelled\n", out)
  end)

  it("exits 3 when what it raised is a give-up error", function()
    local code, out, took = run_script([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      run.spawn(function() run.sleep(60) end)
      http.get("http://127.0.0.1:1/", {retry = {attempts = 1}})
    ]])
    assert.equal(3, code)
    assert.is_true(took < 2, "took " .. took)
    assert.matches("^retryrun: GET http://127.0.0.1:1/ gave up after 1 " ..
                   "attempt", out)
  end)
end)

describe("a hook that waits past its call's deadline", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  -- Runs one call under a policy with deadline = 0.3 and the given hook
  -- fields, and prints how it ended.
  local function bounded(url, fields)
    return run_script(([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local t0 = run.now()
      local ok, err = pcall(http.get, %q, {headers = %s,
        retry = {deadline = 0.3, backoff = {initial = 0.01}, %s}})
      print(ok, err.reason, string.format("%%.1f", run.now() - t0))
      print(err.message)
    ]]):format(url, AUTH, fields))
  end

  it("ends a sleep in before_attempt at the deadline", function()
    local code, out = bounded(srv.url .. "/items",
      "before_attempt = function() run.sleep(1e9) end")
    assert.equal(0, code)
    assert.matches("^false\tdeadline\t0%.[34]\n", out)
    assert.matches("\nGET " .. common.literal(srv.url) .. "/items " ..
                   "gave up after 0 attempts in 0%.[34] s; the deadline " ..
                   "of 0%.3 s is reached\n", out)
  end)

  it("ends a sleep in valid at the deadline", function()
    local code, out = bounded(srv.url .. "/items",
      "valid = function() run.sleep(1e9) end")
    assert.equal(0, code)
    assert.matches("^false\tdeadline\t0%.[34]\n", out)
    assert.matches("gave up after 1 attempt in 0%.[34] s: 200 invalid; " ..
                   "the deadline of 0%.3 s is reached", out)
  end)

  it("ends a sleep in on_retry at the deadline", function()
    local code, out = bounded("http://127.0.0.1:1/",
      "on_retry = function() run.sleep(1e9) end")
    assert.equal(0, code)
    assert.matches("^false\tdeadline\t0%.[34]\n", out)
    assert.matches("gave up after 1 attempt in 0%.[34] s: connect; " ..
                   "the deadline of 0%.3 s is reached", out)
  end)

  it("ends a task:wait() in valid at the deadline", function()
    local code, out = bounded(srv.url .. "/items", [[valid = function()
      local h = run.spawn(function() run.sleep(1) end)
      h:wait()
    end]])
    assert.equal(0, code)
    assert.matches("^false\tdeadline\t0%.[34]\n", out)
  end)

  it("bounds an HTTP call in before_attempt by the outer deadline",
     function()
    local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "3000"}
    local code, out = bounded(srv.url .. "/items", ([[
      before_attempt = function(req)
        http.get(%q)
      end]]):format(slow.url .. "/items"))
    assert.equal(0, code)
    assert.matches("^false\tdeadline\t0%.[34]\n", out)
  end)

  it("ends a sleep in on_giveup 1 s after the give-up, keeping it",
     function()
    -- the call gives up at once; its deadline is sooner than 1 s
    local code, out = bounded("http://127.0.0.1:1/",
      "attempts = 1, on_giveup = function() run.sleep(1e9) end")
    assert.equal(0, code)
    assert.matches("^false\texhausted\t1%.[01]\n", out)
    assert.matches("\nGET http://127.0.0.1:1/ gave up after 1 attempt", out)
  end)
end)

describe("SIGTERM", function()
  it("cancels every task, runs on_giveup, and exits 143", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local code, out, took = signal_script(([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      for i = 1, 3 do
        run.spawn(function()
          http.get("%s/items", {retry = {on_giveup = function(err)
            print("gave up: " .. err.reason)
            print(err.message)
          end}})
        end)
      end
      run.sleep(60)
    ]]):format(srv.url), {"TERM"})
    assert.equal(143, code)
    assert.is_true(took < 2, "took " .. took)
    assert.equal(3, count(out, "gave up: interrupted\n"))
    -- said once, as the last attempt
    assert.equal(3, count(out, "\nGET " .. common.literal(srv.url) ..
                          "/items gave up after 1 attempt in 0%.%d s: " ..
                          "interrupted\n"))
  end)

  it("stops at once when it comes a second time", function()
    local code, out = signal_script([[
      local said = false
      while true do
        local ok, err = pcall(function() while true do end end)
        if not said then
          print("caught: " .. err)
          io.stdout:flush()
          said = true
        end
      end
    ]], {"TERM", "TERM"})
    assert.equal(143, code)
    assert.equal("caught: interrupted\n", out)
  end)

  it("is documented in --help", function()
    local code, out = sh(BIN .. " --help")
    assert.equal(0, code)
    assert.matches("130 interrupted %(SIGINT%), 143 terminated %(SIGTERM%)",
                   out)
  end)
end)

describe("SIGINT", function()
  it("interrupts CPU-bound Lua code", function()
    local code, out, took = signal_script([[
      while true do end
    ]], {"INT"})
    assert.equal(130, code)
    assert.is_true(took < 2, "took " .. took)
    assert.matches("^retryrun: interrupted\nstack traceback:\n", out)
  end)

  it("interrupts a task spinning while the main chunk waits", function()
    local code, out, took = signal_script([[
      local run = require "retryrun.run"
      local h = run.spawn(function()
        local co = coroutine.wrap(function() while true do end end)
        co()
      end)
      local ok, err = pcall(h.wait, h)
      print("waited: " .. tostring(err))
    ]], {"INT"})
    assert.equal(130, code)
    assert.is_true(took < 2, "took " .. took)
    assert.matches("^waited: interrupted\n", out)
  end)

  it("is not lost when os.execute's child dies of it", function()
    local code, out = run_script([[
      print(os.execute("kill -INT $$"))
      print("went on")
    ]])
    assert.equal(130, code)
    assert.matches("^retryrun: interrupted\n", out)
  end)

  it("reaches os.execute's child when sent to retryrun alone", function()
    local code, out, took = signal_script([[
      print(os.execute("sleep 10"))
      print("went on")
    ]], {"INT"})
    assert.equal(130, code)
    assert.is_true(took < 3, "took " .. took)
    assert.matches("^retryrun: interrupted\n", out)
  end)

  it("counts io.popen's child dying of SIGTERM as SIGTERM", function()
    local code, out = run_script([[
      local f = io.popen("kill -TERM $$")
      f:read("a")
      print(f:close())
      print("went on")
    ]])
    assert.equal(143, code)
    assert.matches("^retryrun: interrupted\n", out)
  end)

  it("leaves a child's other endings as they are", function()
    local code, out = run_script([[
      print(os.execute("exit 3"))
      print(io.popen("kill -KILL $$"):close())
    ]])
    assert.equal(0, code)
    assert.equal("nil\texit\t3\nnil\tsignal\t9\n", out)
  end)
end)

describe("the give-up message of a call stopped in flight", function()
  it("says \"interrupted\" once", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local code, out = signal_script(([[
      local http = require "retryrun.http"
      local ok, err = pcall(http.get, "%s/items")
      print(err.message)
    ]]):format(srv.url), {"INT"})
    assert.equal(130, code)
    assert.matches("^GET " .. common.literal(srv.url) .. "/items gave " ..
                   "up after 1 attempt in 0%.%d s: interrupted\n$", out)
  end)
end)

describe("coroutine.yield where no script coroutine runs", function()
  it("raises an error the script's pcall catches, as in plain Lua",
     function()
    local srv <close> = todo.start{}
    local code, out = run_script(([[
      local http = require "retryrun.http"
      print(pcall(coroutine.yield, 1))
      print(coroutine.isyieldable())
      local resp = http.get("%s/items", {headers = %s, retry = {
        before_attempt = function() print(pcall(coroutine.yield)) end,
        valid = function()
          print(pcall(coroutine.yield))
          -- a coroutine of the script's own still yields to it
          print(coroutine.wrap(function() coroutine.yield("inner") end)())
          return true
        end}})
      print(resp.status)
    ]]):format(srv.url, AUTH))
    assert.equal(0, code)
    local E = "false\tattempt to yield from outside a coroutine\n"
    assert.equal(E .. "false\n" .. E .. E .. "inner\n200\n", out)
  end)
end)
