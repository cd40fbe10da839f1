-- --chaos: faults made on the client side of each attempt, seeded and
-- reproducible, marked in -v, --log and the summary, and never sent.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local cjson = require "cjson"

local SCRIPT = [[
  local http, run = require "retryrun.http", require "retryrun.run"
  local list = {}
  for i = 1, 8 do list[i] = i end
  run.map(list, function()
    for _ = 1, 10 do
      pcall(http.get, arg[1] .. "/_echo", {retry = {attempts = 3,
        backoff = {initial = 0.001}}})
    end
  end)
]]

--- Runs SCRIPT against url with the options; returns the exit code, the
-- output, the --log records and the --summary-json object.
local function chaos_run(options, url, script, env)
  local path = common.write_script(script or SCRIPT)
  local log, sum = os.tmpname(), os.tmpname()
  local code, out = common.sh(("%s %s %s --log %s --summary-json %s %s %s")
    :format(env or "", common.quote(common.BIN), options, log, sum, path,
            common.quote(url)))
  local records = {}
  for line in io.lines(log) do records[#records + 1] = cjson.decode(line) end
  local f = assert(io.open(sum))
  local summary = cjson.decode(f:read("a"))
  f:close()
  os.remove(path)
  os.remove(log)
  os.remove(sum)
  return code, out, records, summary
end

--- Each task's attempts in order, as "attempt outcome chaos" words.
local function per_task(records)
  local tasks = {}
  for _, r in ipairs(records) do
    if r.event == "attempt" then
      local t = tasks[r.task] or {}
      tasks[r.task] = t
      t[#t + 1] = ("%d %s %s"):format(r.attempt, r.status or r.error,
                                      r.chaos or "-")
    end
  end
  return tasks
end

describe("--chaos", function()
  local SPEC = "'fail=0.2,status=502,latency=0.1:5ms,reset=0.1,seed=7'"

  it("gives the same faults to the same attempts with the same seed",
     function()
    local srv <close> = todo.start{}
    local _, _, a = chaos_run("--chaos " .. SPEC, srv.url)
    local _, _, b = chaos_run("--chaos " .. SPEC, srv.url)
    local _, _, c = chaos_run("--chaos " .. SPEC:gsub("seed=7", "seed=8"),
                              srv.url)
    assert.same(per_task(a), per_task(b))
    assert.are_not.same(per_task(a), per_task(c))
  end)

  it("counts a fault as an attempt that was never sent", function()
    local srv <close> = todo.start{}
    local code, out, records, summary = chaos_run("-v --chaos " .. SPEC,
                                                  srv.url)
    assert.equal(0, code)
    local n = {fail = 0, reset = 0, latency = 0, sent = 0, attempts = 0}
    for _, r in ipairs(records) do
      if r.event == "attempt" then
        n.attempts = n.attempts + 1
        if r.chaos then n[r.chaos] = n[r.chaos] + 1 end
        if r.chaos == "fail" then
          assert.equal(502, r.status)
          assert.is_false(r.sent)
        elseif r.chaos == "reset" then
          assert.equal("reset", r.error)
          assert.is_false(r.sent)
        else
          n.sent = n.sent + 1
        end
      end
    end
    assert.is_true(n.fail > 0 and n.reset > 0 and n.latency > 0)
    assert.equal(n.sent, srv:stats().requests)
    assert.same({spec = "fail=0.2 status=502 latency=0.1:5ms reset=0.1 "
                 .. "seed=7", fail = n.fail, reset = n.reset,
                 latency = n.latency}, summary.chaos)
    assert.equal(n.attempts, summary.endpoints[1].attempts)
    -- loudly marked: at the start and in every -v line of a fault
    assert.matches("^retryrun: CHAOS on: fail=0.2 status=502", out)
    assert.equal(n.fail, common.count(out, "  chaos: 502  %d+ ms  "))
    assert.equal(n.reset, common.count(out, "  chaos: reset  %d+ ms  "))
    assert.equal(n.latency, common.count(out, " ms %(chaos: %+5 ms%)  "))
  end)

  it("goes through the policy: a reset never sent retries a POST",
     function()
    local srv <close> = todo.start{}
    local code, out = chaos_run("--chaos reset=1,seed=1", srv.url, [[
      local ok, err = pcall(require("retryrun.http").post, arg[1] ..
        "/_echo", {body = "x", retry = {attempts = 2,
        backoff = {initial = 0.001}}})
      print(err.reason, #err.attempts, err.attempts[1].sent)
    ]])
    assert.equal(0, code)
    assert.matches("exhausted\t2\tfalse", out)
    assert.equal(0, srv:stats().requests)
  end)

  it("cuts a latency at the time the attempt has: a timeout, never sent",
     function()
    local srv <close> = todo.start{}
    local code, out, records = chaos_run("--fake-clock --chaos "
      .. "latency=1:3600s,seed=1", srv.url, [[
      local http, run = require "retryrun.http", require "retryrun.run"
      local t0 = run.now()
      local ok, err = pcall(http.get, arg[1] .. "/_echo", {retry = {
        attempts = 3, deadline = 5, backoff = {initial = 0.001}}})
      print(err.reason, #err.attempts, err.attempts[1].error,
            run.now() - t0 < 6)
      t0 = run.now()
      ok, err = pcall(http.get, arg[1] .. "/_echo", {timeout = 1,
        retry = {attempts = 2, deadline = 100, retry_on = {"timeout"},
        backoff = {initial = 0.001}}})
      print(err.reason, #err.attempts, err.attempts[2].error,
            run.now() - t0 < 3)
    ]])
    assert.equal(0, code, out)
    assert.matches("deadline\t1\ttimeout\ttrue\nexhausted\t2\ttimeout\t"
                   .. "true\n", out)
    assert.equal(0, srv:stats().requests)
    local n = 0
    for _, r in ipairs(records) do
      if r.event == "attempt" then
        n = n + 1
        assert.same({"timeout", false, "latency"}, {r.error, r.sent, r.chaos})
      end
    end
    assert.equal(3, n)
  end)

  it("takes RETRYRUN_CHAOS, and --seed when it names no seed", function()
    local srv <close> = todo.start{}
    local _, _, a = chaos_run("--seed 5 --chaos fail=0.3", srv.url)
    local _, _, b = chaos_run("--seed 5", srv.url, nil,
                              "RETRYRUN_CHAOS=fail=0.3")
    local _, _, c = chaos_run("--chaos fail=0.3,seed=5", srv.url)
    local _, _, d = chaos_run("--seed 5", srv.url)
    assert.same(per_task(a), per_task(b))
    assert.same(per_task(a), per_task(c))
    local faults = 0
    for _, r in ipairs(a) do faults = faults + (r.chaos and 1 or 0) end
    assert.is_true(faults > 0)
    for _, r in ipairs(d) do assert.is_nil(r.chaos) end
  end)

  it("refuses a malformed spec, suggesting the key meant", function()
    for _, case in ipairs{
      {"fial=0.1", "--chaos: unknown key 'fial' (did you mean 'fail'?); "
        .. "the keys are fail, status, latency, reset and seed"},
      {"fail=1.5", "--chaos: fail=1.5: want a probability from 0 to 1"},
      {"fail=0.1,fail=0.2", "--chaos: 'fail' is given twice"},
      {"fail=0.1,status=200", "--chaos: status=200: want a status from "
        .. "400 to 599"},
      {"latency=0.1", "--chaos: latency=0.1: want P:DURATION"},
      {"latency=0.1:5m", "--chaos: latency=0.1:5m: want P:DURATION"},
      {"seed=7", "--chaos: 'seed=7' injects nothing"},
      {"fail", "--chaos: 'fail' is not key=value"},
      {"fail=0.6,reset=0.6", "--chaos: fail and reset add up to more "
        .. "than 1"},
    } do
      local code, out = common.sh(("%s --chaos %s -e ''"):format(
        common.quote(common.BIN), common.quote(case[1])))
      assert.equal(2, code)
      assert.matches("retryrun: " .. case[2], out, 1, true)
    end
  end)
end)
