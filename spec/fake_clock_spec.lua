-- retryrun --fake-clock (and RETRYRUN_FAKE_CLOCK=1): every wait (backoff,
-- Retry-After, run.sleep, a deadline) ends at once in virtual time, and
-- run.now() moves on by the wait; transfers, and their timeouts, still
-- take real time. Against todo-server with faults.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

-- Runs BIN with `options` (a shell fragment) before a script made of
-- body, with url as arg[1]; `env` (a shell fragment) goes before BIN.
-- Returns the exit code, all it printed and the wall seconds it took.
local function run_with(options, body, url, env)
  local path = common.write_script(body)
  local code, out, took = common.sh(("%s timeout 120 %s %s %s %s"):format(
    env or "", common.quote(common.BIN), options, common.quote(path),
    common.quote(url or "")))
  os.remove(path)
  return code, out, took
end

-- A script that fails four times against --fail-rate 1 with a fixed wait
-- of `wait` seconds between attempts (three waits), then prints
-- "elapsed=" the seconds run.now() moved on.
local function backoff_script(wait)
  return ([[
    local http = require "retryrun.http"
    local run = require "retryrun.run"
    local t0 = run.now()
    local ok, err = pcall(http.get, arg[1] .. "/items", {
      headers = {Authorization = "Bearer alice-secret"},
      retry = {attempts = 4, deadline = 1000,
               backoff = {initial = %g, factor = 1, max = %g,
                          jitter = "none"}}})
    print("reason=" .. err.reason, "attempts=" .. #err.attempts)
    print(("elapsed=%%.3f"):format(run.now() - t0))
  ]]):format(wait, wait)
end

local function elapsed_of(out)
  return tonumber(out:match("elapsed=([%d.]+)"))
end

describe("retryrun --fake-clock", function()
  local srv

  setup(function() srv = todo.start{"--fail-rate", "1", "--seed", "3"} end)
  teardown(function() srv:stop() end)

  it("runs 60 s of backoff at once and run.now() counts the 60 s", function()
    srv:reset_stats()
    local code, out, took = run_with("--fake-clock", backoff_script(20),
                                     srv.url)
    assert.equal(0, code, out)
    assert.matches("reason=exhausted\tattempts=4\n", out, 1, true)
    assert.equal(4, srv:stats().requests)
    local elapsed = elapsed_of(out)
    -- three waits of 20 s, plus the (real) time of four requests
    assert.is_true(elapsed >= 60 and elapsed < 65, out)
    -- 60 s on the real clock; a generous bound on a loaded machine
    assert.is_true(took < 10, "took " .. took .. " s")
  end)

  it("leaves the waits real without it: 1.5 s of backoff takes 1.5 s",
     function()
    local code, out, took = run_with("", backoff_script(0.5), srv.url)
    assert.equal(0, code, out)
    assert.matches("reason=exhausted\tattempts=4\n", out, 1, true)
    assert.is_true(elapsed_of(out) >= 1.5, out)
    -- a wait never ends early; the upper bound only catches a hang
    assert.is_true(took >= 1.4 and took < 60, "took " .. took .. " s")
    -- the same script on the fake clock: the same virtual time, at once
    local code2, out2 = run_with("--fake-clock", backoff_script(0.5),
                                 srv.url)
    assert.equal(0, code2, out2)
    local elapsed = elapsed_of(out2)
    assert.is_true(elapsed >= 1.5 and elapsed < 5, out2)
  end)

  it("returns from run.sleep(3600) at once, run.now() 3600 s on", function()
    local code, out, took = run_with("--fake-clock", [[
      local run = require "retryrun.run"
      local t0, w0 = run.now(), os.time()
      run.sleep(3600)
      print(("slept=%.3f"):format(run.now() - t0))
    ]])
    assert.equal(0, code, out)
    local slept = tonumber(out:match("slept=([%d.]+)"))
    assert.is_true(slept >= 3600 and slept < 3605, out)
    assert.is_true(took < 10, "took " .. took .. " s")
  end)

  it("is RETRYRUN_FAKE_CLOCK=1 too; 0 or empty is the real clock",
     function()
    local script = [[
      local run = require "retryrun.run"
      local t0 = run.now()
      run.sleep(tonumber(arg[1]))
      print(("slept=%.3f"):format(run.now() - t0))
    ]]
    local code, out, took = run_with("", script, "3600",
                                     "RETRYRUN_FAKE_CLOCK=1")
    assert.equal(0, code, out)
    assert.is_true(tonumber(out:match("slept=([%d.]+)")) >= 3600, out)
    assert.is_true(took < 10, "took " .. took .. " s")
    for _, off in ipairs{"RETRYRUN_FAKE_CLOCK=0", "RETRYRUN_FAKE_CLOCK="} do
      code, out, took = run_with("", script, "0.3", off)
      assert.equal(0, code, out)
      assert.is_true(took >= 0.25, off .. " took " .. took .. " s")
    end
  end)

  it("refuses a RETRYRUN_FAKE_CLOCK that is not 1 or 0", function()
    local code, out = run_with("", "print('ran')", nil,
                               "RETRYRUN_FAKE_CLOCK=yes")
    assert.equal(2, code)
    assert.equal("retryrun: RETRYRUN_FAKE_CLOCK is 1 (on) or 0 (off), not "
                 .. "'yes'\nTry 'retryrun --help' for more information.\n",
                 out)
  end)

  it("stops a call at its deadline, counting virtual and real time",
     function()
    srv:reset_stats()
    -- waits of 20 s: attempts at 0, 20 and 40 s; the next would start
    -- past the deadline of 50 s
    local code, out, took = run_with("--fake-clock", [[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local t0 = run.now()
      local ok, err = pcall(http.get, arg[1] .. "/items", {
        headers = {Authorization = "Bearer alice-secret"},
        retry = {attempts = 10, deadline = 50,
                 backoff = {initial = 20, factor = 1, max = 20,
                            jitter = "none"}}})
      print("reason=" .. err.reason, "attempts=" .. #err.attempts)
      print(("elapsed=%.3f"):format(run.now() - t0))
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("reason=deadline\tattempts=3\n", out, 1, true)
    assert.equal(3, srv:stats().requests)
    local elapsed = elapsed_of(out)
    assert.is_true(elapsed >= 40 and elapsed <= 50, out)
    assert.is_true(took < 10, "took " .. took .. " s")
  end)

  it("marks the summary, the log records and the -v trace", function()
    local json, log = os.tmpname(), os.tmpname()
    local code, out = run_with(("-v --summary --summary-json %s --log %s "
      .. "--fake-clock"):format(common.quote(json), common.quote(log)),
      backoff_script(20), srv.url)
    assert.equal(0, code, out)
    local f = assert(io.open(json))
    local sum = todo.decode(f:read("a"))
    f:close()
    assert.equal("fake", sum.clock)
    assert.is_true(sum.clock_skipped >= 59.9 and sum.clock_skipped <= 60,
                   tostring(sum.clock_skipped))
    assert.equal(60, sum.endpoints[1].waited)
    -- call times count the virtual waits, attempt times are real
    assert.is_true(sum.endpoints[1].call_seconds.p50 >= 60)
    assert.is_true(sum.endpoints[1].attempt_seconds.p99 < 10)
    local n, last = 0, 0
    for line in io.lines(log) do
      local r = todo.decode(line)
      n = n + 1
      assert.equal("fake", r.clock)
      assert.is_true(r.elapsed >= last)
      last = r.elapsed
    end
    assert.equal(5, n)                   -- four attempts and the call
    assert.is_true(last >= 60 and last < 65)
    os.remove(json)
    os.remove(log)
    assert.matches("^retryrun: fake clock: waits take no real time; the "
                   .. "times below count them\n", out)
    assert.matches("\n%[%s*20%.%d+%] task 1  GET [^\n]+ attempt 2  500", out)
    assert.matches("retryrun: 1 call (fake clock: 60.00 s of waits took no "
                   .. "real time; call times count them)\n", out, 1, true)
  end)

  it("says the clock was real when it was", function()
    local json = os.tmpname()
    local code, out = run_with(("--summary-json %s"):format(
      common.quote(json)), backoff_script(0.001), srv.url)
    assert.equal(0, code, out)
    local f = assert(io.open(json))
    local sum = todo.decode(f:read("a"))
    f:close()
    os.remove(json)
    assert.equal("real", sum.clock)
    assert.equal(0, sum.clock_skipped)
  end)

  it("draws the same waits from the same --seed", function()
    local script = [[
      local http = require "retryrun.http"
      local waits = {}
      pcall(http.get, arg[1] .. "/items", {
        headers = {Authorization = "Bearer alice-secret"},
        retry = {attempts = 6, deadline = 1e6, backoff = {initial = 30},
                 on_retry = function(e)
                   waits[#waits + 1] = ("%.9f"):format(e.delay)
                 end}})
      print(table.concat(waits, " "))
    ]]
    local code1, out1 = run_with("--fake-clock --seed 7", script, srv.url)
    local code2, out2 = run_with("--seed 7 --fake-clock", script, srv.url)
    local code3, out3 = run_with("--fake-clock --seed 8", script, srv.url)
    assert.same({0, 0, 0}, {code1, code2, code3})
    assert.matches("^[%d.]+ [%d.]+ [%d.]+ [%d.]+ [%d.]+\n$", out1)
    assert.equal(out1, out2)
    assert.not_equal(out1, out3)
  end)
end)

describe("retryrun --fake-clock, with real I/O", function()
  it("honours Retry-After: 30 in virtual time", function()
    local srv <close> = todo.start{"--throttle-rate", "1",
                                   "--retry-after", "30"}
    local log = os.tmpname()
    local code, out, took = run_with(("--fake-clock --log %s"):format(
      common.quote(log)), [[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local t0 = run.now()
      local ok, err = pcall(http.get, arg[1] .. "/items", {
        headers = {Authorization = "Bearer alice-secret"},
        retry = {attempts = 2, backoff = {initial = 0.001}}})
      print("status=" .. err.attempts[2].status)
      print(("elapsed=%.3f"):format(run.now() - t0))
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("status=429\n", out, 1, true)
    local first = todo.decode(io.lines(log)())
    os.remove(log)
    assert.equal("retry_after", first.wait_cause)
    assert.equal(30, first.wait)
    local elapsed = elapsed_of(out)
    assert.is_true(elapsed >= 30 and elapsed < 35, out)
    assert.is_true(took < 10, "took " .. took .. " s")
  end)

  it("lets a transfer's timeout fire in real time", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "8000"}
    local code, out, took = run_with("--fake-clock", [[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local t0 = run.now()
      local ok, err = pcall(http.get, arg[1] .. "/items", {
        headers = {Authorization = "Bearer alice-secret"},
        retry = {attempts = 2, timeout = 0.5, deadline = 1000,
                 backoff = {initial = 100, max = 100,
                            jitter = "none"}}})
      print("errors=" .. err.attempts[1].error .. "," ..
            err.attempts[2].error)
      print(("elapsed=%.3f"):format(run.now() - t0))
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("errors=timeout,timeout\n", out, 1, true)
    -- two real timeouts of 0.5 s, and the 100 s wait between them virtual
    local elapsed = elapsed_of(out)
    assert.is_true(elapsed >= 101 and elapsed < 110, out)
    assert.is_true(took >= 0.9, "took " .. took .. " s")
    -- before either slow response (8 s) could have come
    assert.is_true(took < 7.5, "took " .. took .. " s")
  end)

  it("wakes a sleeping task only after a transfer in flight ends",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "1000"}
    local code, out, took = run_with("--fake-clock", [[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local order, t0 = {}, run.now()
      local function at() return ("%.1f"):format(run.now() - t0) end
      run.all{
        function() run.sleep(30); order[#order + 1] = "slept " .. at() end,
        function()
          http.get(arg[1] .. "/items", {headers = {Authorization =
            "Bearer alice-secret"}})
          order[#order + 1] = "fetched"
        end,
        function() run.sleep(0.2); order[#order + 1] = "napped" end,
      }
      print(table.concat(order, ", "))
    ]], srv.url)
    assert.equal(0, code, out)
    -- the order of the real clock: the short sleep ends while the 1 s
    -- transfer is in flight, the long one only after it, at 30 s
    assert.matches("^napped, fetched, slept 30%.%d\n$", out)
    assert.is_true(took >= 0.9 and took < 20, "took " .. took .. " s")
  end)
end)

describe("retryrun --help", function()
  it("lists --fake-clock", function()
    local code, out = common.sh(common.quote(common.BIN) .. " --help")
    assert.equal(0, code)
    assert.matches("--fake-clock", out, 1, true)
    assert.matches("RETRYRUN_FAKE_CLOCK=1", out, 1, true)
  end)

  it("suggests --fake-clock for a near miss", function()
    local code, out = common.sh(common.quote(common.BIN)
                                .. " --fake-clok x.lua")
    assert.equal(2, code)
    assert.matches("did you mean '--fake-clock'?", out, 1, true)
  end)
end)
