-- How a call ended, as the summary, --fail-if, --log, --report and -v all
-- say it: ok, gave up, not as expected (expect= raised on its answer),
-- or left to its policy(fn) wrapper (one of the wrapper's attempts, never
-- a give-up of the run).
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local q = common.quote

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

-- Runs body with url and more as its arguments, with -v, --summary, the
-- JSON summary, a log and a JSON report, and options; returns the exit
-- code, what it printed (stdout and stderr), and the summary, log records
-- and report, decoded.
local function observed(options, body, ...)
  local path = common.write_script(body)
  local sj, log, rep = os.tmpname(), os.tmpname(), os.tmpname()
  local args = {}
  for _, a in ipairs{...} do args[#args + 1] = q(a) end
  local code, out = common.sh(("%s -v --summary --summary-json %s --log %s "
    .. "--report json=%s %s %s %s"):format(q(common.BIN), sj, log, rep,
    options, q(path), table.concat(args, " ")))
  os.remove(path)
  local records = {}
  for line in slurp(log):gmatch("[^\n]+") do
    records[#records + 1] = todo.decode(line)
  end
  return code, out, todo.decode(slurp(sj)), records,
         todo.decode(slurp(rep))
end

-- The first endpoint of summary s named key.
local function endpoint(s, key)
  for _, e in ipairs(s.endpoints) do
    if e.endpoint == key then return e end
  end
  error("no endpoint " .. key)
end

-- The log's call records, in order.
local function calls(records)
  local t = {}
  for _, r in ipairs(records) do
    if r.event == "call" then t[#t + 1] = r end
  end
  return t
end

-- A wrapped function whose first n runs call the server that always resets
-- (arg[1]) and the rest the good one (arg[2]), under a policy of 3.
local WRAPPED = [[
  local http, retry = require "retryrun.http", require "retryrun.retry"
  local runs, BAD = 0, tonumber(arg[3])
  local get = retry.policy{attempts = 3, backoff = {initial = 0.001}}(
    function()
      runs = runs + 1
      return http.get((runs <= BAD and arg[1] or arg[2]) .. "/items",
                      {headers = {Authorization = "Bearer alice-secret"}})
    end)
  print(get().status)
]]

describe("a call inside a policy(fn) wrapper", function()
  local bad, good
  setup(function()
    bad = todo.start{"--reset-rate", "1"}
    good = todo.start{}
  end)
  teardown(function()
    bad:stop()
    good:stop()
  end)

  it("that the wrapper retried is its attempt, not a give-up", function()
    local code, out, s, records, report = observed(
      "--fail-if 'giveups > 0' --fail-if 'ok_rate < 100%'", WRAPPED,
      bad.url, good.url, "1")
    assert.equal(0, code, out)
    assert.matches("\n200\n", out)   -- the wrapper returned the 200
    -- -v: the inner call's failure goes to the wrapper, which retries it
    assert.matches("GET " .. common.literal(bad.url) .. "/items  attempt 1 "
                   .. " reset  %d+ ms  to the wrapper: reset\n", out)
    assert.matches("function at [^\n]*  attempt 1  reset  %d+ ms  retry in ",
                   out)
    assert.matches("GET /items: 2 calls, 2 attempts, 0 retries, 0 gave up, "
                   .. "1 left to a wrapper\n", out)
    assert.matches("after retries 0 of 2\n", out)
    -- the summary's JSON
    assert.equal(0, s.gave_up)
    assert.equal(1, s.to_wrapper)
    assert.equal(3, s.calls)
    assert.equal(2, s.ok)
    assert.equal(1, s.flow10_final)
    local e = endpoint(s, "GET /items")
    assert.same({2, 0, 1, 1}, {e.calls, e.gave_up, e.to_wrapper, e.ok})
    -- the log: the inner call's attempt and call, then the wrapper's
    local c = calls(records)
    assert.equal("to_wrapper", records[1].decision)
    assert.equal("to_wrapper", c[1].outcome)
    assert.equal("ok", c[2].outcome)
    assert.equal("ok", c[3].outcome)         -- the wrapper, after 2 attempts
    assert.equal(2, c[3].attempts)
    -- the report: passed after a retry, the inner call left to the wrapper
    assert.equal(1, report.flaky)
    local outcomes = {}
    for _, k in ipairs(report.cases[1].calls) do
      outcomes[#outcomes + 1] = k.outcome
    end
    assert.same({"to_wrapper", "ok", "ok"}, outcomes)
  end)

  it("whose wrapper gives up counts as that one give-up", function()
    local code, out, s, records, report = observed("--fail-if 'giveups > 0'",
      WRAPPED, bad.url, good.url, "3")
    assert.equal(3, code, out)
    assert.matches("retryrun: %-%-fail%-if giveups > 0: giveups 1 > 0", out)
    assert.equal(1, s.gave_up)
    assert.equal(3, s.to_wrapper)
    assert.equal(0, s.ok)
    local e = endpoint(s, "GET /items")
    assert.same({3, 0, 3}, {e.calls, e.gave_up, e.to_wrapper})
    local c = calls(records)
    assert.same({"to_wrapper", "to_wrapper", "to_wrapper", "gave_up"},
                {c[1].outcome, c[2].outcome, c[3].outcome, c[4].outcome})
    assert.matches("function at [^\n]*  attempt 3  reset  %d+ ms  give up: "
                   .. "attempts exhausted\n", out)
    assert.equal(1, report.failed)
  end)
end)

describe("a call inside a policy(fn) wrapper whose error", function()
  local bad, srv
  setup(function()
    bad = todo.start{"--reset-rate", "1"}
    srv = todo.start{}
  end)
  teardown(function()
    bad:stop()
    srv:stop()
  end)

  -- the report's calls, id -> entry
  local function report_calls(report)
    local t = {}
    for _, case in ipairs(report.cases) do
      for _, k in ipairs(case.calls) do t[k.call] = k end
    end
    return t
  end

  it("the function caught is a give-up or not as expected", function()
    local code, out, s, records, report = observed(
      "--fail-if 'giveups > 0'", [[
      local http, retry = require "retryrun.http", require "retryrun.retry"
      local f = retry.policy{attempts = 2}(function()
        local r, err = http.get(arg[1] .. "/items", {retry = {attempts = 1,
                                                              raise = false}})
        return err and "failed" or "ok"
      end)
      print(f())
      local g = retry.policy{attempts = 2}(function()
        return (pcall(http.get, arg[2] .. "/items", {expect = 200}))
      end)
      print(g())
    ]], bad.url, srv.url)
    assert.equal(4, code, out)
    assert.matches("\nfailed\n", out)
    assert.matches("\nfalse\n", out)
    assert.matches("retryrun: %-%-fail%-if giveups > 0: giveups 1 > 0", out)
    assert.matches("/items  attempt 1  reset  %d+ ms  give up: ", out)
    assert.matches("attempt 1  401  %d+ ms  accept; expect= refuses 401\n",
                   out)
    assert.is_nil(out:find("to the wrapper", 1, true))
    assert.same({1, 1, 0}, {s.gave_up, s.unexpected, s.to_wrapper})
    local e = endpoint(s, "GET /items")
    assert.same({2, 1, 1, 0}, {e.calls, e.gave_up, e.unexpected,
                               e.to_wrapper})
    local c = calls(records)
    assert.same({"gave_up", "ok", "unexpected", "ok"},
                {c[1].outcome, c[2].outcome, c[3].outcome, c[4].outcome})
    assert.equal("giveup", records[1].decision)
    local r = report_calls(report)
    assert.same({"gave_up", "unexpected"}, {r[c[1].call].outcome,
                                            r[c[3].call].outcome})
    assert.equal("giveup", r[c[1].call].history[1].decision)
  end)

  it("is a session's failed token renewal: the wrapper's one give-up",
     function()
    local code, out, s, records, report = observed(
      "--fail-if 'giveups > 0'", [[
      local http, retry = require "retryrun.http", require "retryrun.retry"
      local n = 0
      local sess = http.session{base = arg[1], auth = {token = function()
        n = n + 1
        if n > 1 then error("cannot renew") end
        return "stale"
      end}}
      local w = retry.policy{attempts = 2}(function()
        return sess:get("/items")
      end)
      print(pcall(w))
    ]], srv.url)
    assert.equal(4, code, out)
    assert.matches("false\tauth token function failed: [^\n]*cannot renew",
                   out)
    assert.matches("attempt 1  401  %d+ ms  to the wrapper: the credentials "
                   .. "could not be renewed\n", out)
    assert.matches("function at [^\n]*  attempt 1  error  %d+ ms  give up: "
                   .. "error is not retried\n", out)
    assert.same({1, 1}, {s.gave_up, s.to_wrapper})
    local c = calls(records)
    assert.same({"to_wrapper", "gave_up"}, {c[1].outcome, c[2].outcome})
    assert.same({"auth", "not_retryable"}, {c[1].reason, c[2].reason})
    local r = report_calls(report)
    assert.same({"to_wrapper", "gave_up"}, {r[c[1].call].outcome,
                                            r[c[2].call].outcome})
    assert.equal("to_wrapper", r[c[1].call].history[1].decision)
    -- the report gives the reason --log gives, inside a wrapper or not
    assert.same({"auth", "not_retryable"}, {r[c[1].call].reason,
                                            r[c[2].call].reason})
  end)

  it("is a plain error of the function's: recorded as its give-up",
     function()
    local code, out, s, records = observed("--fail-if 'giveups > 0'", [[
      local retry = require "retryrun.retry"
      local w = retry.policy{attempts = 2}(function() error("plain bug") end)
      print(pcall(w))
      print(select(2, pcall(retry.policy{}(function() error({1}) end)))[1])
    ]])
    assert.equal(4, code, out)
    assert.matches("false\t[^\n]*: plain bug\n", out)
    assert.matches("\n1\n", out)
    assert.matches("function at [^\n]*  attempt 1  error  %d+ ms  give up: "
                   .. "error is not retried\n", out)
    assert.equal(2, s.gave_up)
    local c = calls(records)
    assert.same({"gave_up", "gave_up"}, {c[1].outcome, c[2].outcome})
    assert.same({"giveup", "not_retryable"}, {records[1].decision,
                                              records[1].reason})
  end)
end)

describe("a policy(fn) wrapper whose task is cancelled", function()
  local srv, slow
  setup(function()
    srv = todo.start{}
    slow = todo.start{"--slow-rate", "1", "--slow-ms", "3000"}
  end)
  teardown(function()
    srv:stop()
    slow:stop()
  end)

  it("gives up as cancelled, its inner call's attempt shown", function()
    local code, out, s, records = observed("", [[
      local http, retry = require "retryrun.http", require "retryrun.retry"
      local run = require "retryrun.run"
      local f = retry.policy{attempts = 3}(function(i)
        return http.get((i == 1 and arg[1] or arg[2]) .. "/items",
                        {expect = 200})
      end)
      print(pcall(run.map, {1, 2}, function(i) return f(i) end,
                  {on_error = "cancel"}))
    ]], srv.url, slow.url)
    assert.equal(0, code, out)
    assert.matches("/items  attempt 1  cancelled  %d+ ms  to the wrapper: "
                   .. "cancelled\n", out)
    assert.matches("function at [^\n]*  attempt 1  cancelled  %d+ ms  give "
                   .. "up: cancelled\n", out)
    local byid = {}
    for _, r in ipairs(records) do
      if r.event == "call" then byid[r.task] = byid[r.task] or {}
        table.insert(byid[r.task], r) end
    end
    -- task 3 ran item 2: its inner call, then its wrapper
    local inner, wrapper = byid[3][1], byid[3][2]
    assert.same({"to_wrapper", "cancelled", 1},
                {inner.outcome, inner.reason, inner.attempts})
    assert.same({"gave_up", "cancelled"}, {wrapper.outcome, wrapper.reason})
    local e = endpoint(s, "GET /items")
    assert.equal(e.calls, e.attempts)        -- no call without its attempt
  end)
end)

describe("a call whose expect= raised", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  it("is not ok in the summary, --fail-if, the log or the report",
     function()
    local code, out, s, records, report = observed(
      "--fail-if 'ok_rate < 100%'", [[
      local http = require "retryrun.http"
      http.get(arg[1] .. "/items", {headers = {Authorization =
        "Bearer alice-secret"}, expect = 200})
      print(pcall(http.get, arg[1] .. "/items", {expect = 200}))
    ]], srv.url)
    assert.equal(4, code, out)
    assert.matches("false\tGET [^\n]*: expected status 200, got 401", out)
    assert.matches("attempt 1  401  %d+ ms  accept; expect= refuses 401\n",
                   out)
    assert.matches("GET /items: 2 calls, 2 attempts, 0 retries, 0 gave up, "
                   .. "1 not as expected\n    ok first time 50 %%, in the "
                   .. "end 50 %%", out)
    assert.matches("%-%-fail%-if ok_rate < 100%%: ok_rate 50 %% < 100 %%",
                   out)
    assert.same({2, 1, 1, 0}, {s.calls, s.ok, s.unexpected, s.gave_up})
    local e = endpoint(s, "GET /items")
    assert.same({1, 1, 0}, {e.ok, e.unexpected, e.gave_up})
    local c = calls(records)
    assert.same({"ok", "unexpected"}, {c[1].outcome, c[2].outcome})
    assert.same({"ok", "unexpected"}, {report.cases[1].calls[1].outcome,
                                       report.cases[1].calls[2].outcome})
  end)

  it("is not ok in a one-liner's summary", function()
    local sj = os.tmpname()
    local code, out = common.sh(("%s --summary --summary-json %s "
      .. "--fail-if 'first_try_rate < 100%%' get %s --expect 200"):format(
      q(common.BIN), sj, q(srv.url .. "/items")))
    local s = todo.decode(slurp(sj))
    assert.equal(1, code, out)          -- the expect error's own exit code
    assert.matches("1 not as expected", out)
    assert.same({1, 0, 0, 1}, {s.calls, s.ok, s.ok_first_try, s.unexpected})
  end)
end)
