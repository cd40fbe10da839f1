-- Hedged attempts (policy field hedge = {delay=, max=}) against
-- todo-server. Which request is slow is the server's seeded choice: with
-- --slow-rate 0.5, seed 3 makes the first request slow and the next ones
-- fast, seed 11 makes the first four slow; with --fail-rate 0.5 as well,
-- seed 80 makes the first slow (and good), the second fail at once, the
-- third good and fast. Each spec checks the server's counts, so a changed
-- sequence fails loudly. The slow replies take seconds against delays of
-- 0.05 s: no outcome depends on how busy the machine is.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH
local SLOW_MS = 2000

-- Runs a script (arg[1] is url) with the options given; returns its exit
-- code, what it printed and its --log records, decoded.
local traced = todo.logged

describe("policy field hedge", function()
  it("reads back as given, and false turns it off", function()
    local p = retry.policy{hedge = {delay = 0.2, max = 3}}
    assert.same({delay = 0.2, max = 3}, p.hedge)
    assert.is_false(p:extend{hedge = false}.hedge)
    assert.is_nil(retry.policy{}.hedge)
  end)

  it("refuses an unknown field and suggests the right one", function()
    assert.has_error(function() retry.policy{hedge = {dealy = 1}} end,
                     "unknown hedge field 'dealy' (did you mean 'delay'?)")
    assert.has_error(function() retry.policy{hegde = {}} end,
                     "unknown policy field 'hegde' (did you mean 'hedge'?)")
  end)

  it("refuses values of the wrong type or out of range", function()
    assert.has_error(function() retry.policy{hedge = true} end,
      "policy field 'hedge' must be a table like {delay=0.05, max=2} or " ..
      "false (got true)")
    assert.has_error(function() retry.policy{hedge = {delay = 0}} end,
      "policy field 'hedge.delay' must be a number of seconds from 0.001 " ..
      "to 1e9 (got 0)")
    assert.has_error(function() retry.policy{hedge = {max = 11}} end,
      "policy field 'hedge.max' must be a whole number from 1 to 10 " ..
      "(got 11)")
    assert.has_error(function() retry.policy{hedge = {max = 1.5}} end,
      "policy field 'hedge.max' must be a whole number from 1 to 10 " ..
      "(got 1.5)")
  end)
end)

describe("a hedged GET", function()
  it("sends a hedge when the first attempt is slow, and the hedge wins",
     function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local p = retry.policy{hedge = {delay = 0.05}}
    local resp = p:get(srv.url .. "/_echo", {headers = {["X-Probe"] = "1"}})
    assert.equal(200, resp.status)
    assert.equal(2, resp.attempts)
    assert.equal("1", resp:json().headers["X-Probe"])
    -- the slow one would have taken SLOW_MS: this answer is the hedge's
    assert.is_true(resp.elapsed < SLOW_MS / 1000)
    local stats = srv:stats()
    assert.equal(2, stats.requests)
    assert.equal(1, stats.faults.slow)
  end)

  it("sends no hedge when the first attempt answers in time", function()
    local srv <close> = todo.start{}
    local p = retry.policy{hedge = {delay = 5}}
    local resp = p:get(srv.url .. "/_echo")
    assert.equal(1, resp.attempts)
    assert.equal(1, srv:stats().requests)
  end)

  it("is not hedged when attempts = 1 leaves no room, and -v says so",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "300"}
    local code, out = traced("-v", [[
      local retry = require "retryrun.retry"
      local p = retry.policy{attempts = 1, hedge = {delay = 0.01}}
      print("attempts", p:get(arg[1] .. "/_echo").attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("GET http://127%.0%.0%.1:%d+/_echo  not hedged: " ..
                   "attempts = 1 leaves no room for a copy", out)
    assert.matches("attempts\t1", out)
    assert.equal(1, srv:stats().requests)
  end)

  it("sends hedges up to max in flight, each counted as an attempt",
     function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "11"}
    -- the first four requests are slow: max = 3 sends two hedges, no more,
    -- and attempts = 3 would stop a third anyway
    local p = retry.policy{attempts = 3, timeout = 0.5,
                           hedge = {delay = 0.05, max = 3},
                           retry_on = {}}
    local resp, err = p:extend{raise = false}:get(srv.url .. "/_echo")
    assert.is_nil(resp)
    assert.equal(3, #err.attempts)
    assert.is_nil(err.attempts[1].hedge)
    assert.is_true(err.attempts[2].hedge)
    assert.is_true(err.attempts[3].hedge)
    assert.equal(3, srv:stats().requests)
  end)

  it("does not end on a bad answer while another attempt is in flight",
     function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--fail-rate",
                                   "0.5", "--slow-ms", tostring(SLOW_MS),
                                   "--seed", "80"}
    local code, out, records = traced("-v", [[
      local retry = require "retryrun.retry"
      local p = retry.policy{attempts = 3, hedge = {delay = 0.05, max = 3}}
      local resp = p:get(arg[1] .. "/_echo")
      print("status", resp.status, "attempts", resp.attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("status\t200\tattempts\t3", out)
    assert.matches("attempt 2 %(hedge%)  500  %d+ ms  wait: 1 more in " ..
                   "flight", out)
    local decisions = {}
    for _, r in ipairs(records) do
      if r.event == "attempt" then decisions[r.attempt] = r.decision end
    end
    assert.same({"cancelled", "wait", "accept"}, decisions)
    assert.equal(3, srv:stats().requests)
  end)

  it("lets valid() judge each copy: only an accepted answer wins",
     function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    -- the first request is slow, its copies fast; the first answer to
    -- come back is refused, so the call waits for another copy
    local seen = 0
    local p = retry.policy{hedge = {delay = 0.05, max = 3},
                           valid = function()
                             seen = seen + 1
                             return seen > 1, "not yet"
                           end}
    local resp = p:get(srv.url .. "/_echo")
    assert.equal(200, resp.status)
    assert.equal(3, resp.attempts)
    assert.equal(2, seen)
    assert.equal(3, srv:stats().requests)
  end)

  it("judges a copy that ended while valid() waited", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms", "200",
                                   "--seed", "3"}
    -- the hedge answers first; valid() refuses it after a wait in which
    -- the first attempt's answer comes, and that answer then wins
    local seen = 0
    local p = retry.policy{hedge = {delay = 0.05},
                           valid = function()
                             seen = seen + 1
                             if seen == 1 then run.sleep(1) end
                             return seen > 1, "not yet"
                           end}
    local resp = p:get(srv.url .. "/_echo")
    assert.equal(200, resp.status)
    assert.equal(2, resp.attempts)
    assert.equal(2, seen)
    assert.equal(2, srv:stats().requests)
  end)

  it("follows the policy once every copy has failed", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--fail-rate",
                                   "0.5", "--slow-ms", "300", "--seed", "3"}
    -- the first request fails slowly, its hedge at once: out of attempts
    local p = retry.policy{attempts = 2, raise = false,
                           hedge = {delay = 0.05}}
    local resp, err = p:get(srv.url .. "/_echo")
    assert.is_nil(resp)
    assert.equal("exhausted", err.reason)
    assert.equal(500, err.attempts[1].status)
    assert.is_nil(err.attempts[1].hedge)
    assert.equal(500, err.attempts[2].status)
    assert.is_true(err.attempts[2].hedge)
    assert.equal(2, srv:stats().requests)
  end)

  it("cancels its attempts in flight when its task is cancelled", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms",
                                   tostring(SLOW_MS)}
    local p = retry.policy{hedge = {delay = 0.01, max = 3}}
    local h = run.spawn(function() return p:get(srv.url .. "/_echo") end)
    run.sleep(0.2)
    h:cancel()
    local ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.equal(3, #err.attempts)
    for i = 1, 3 do assert.equal("cancelled", err.attempts[i].error) end
  end)
end)

describe("a hedged POST", function()
  it("is not hedged without an idempotency key, and -v says so", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "300"}
    local code, out = traced("-v", [[
      local retry = require "retryrun.retry"
      local p = retry.policy{hedge = {delay = 0.01}, unsafe = true}
      local resp = p:post(arg[1] .. "/_echo", {body = "x"})
      print("attempts", resp.attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("POST http://127%.0%.0%.1:%d+/_echo  not hedged: not " ..
                   "idempotent and no idempotency key", out)
    assert.matches("attempts\t1", out)
    assert.equal(1, srv:stats().requests)
  end)

  it("is hedged with an idempotency key, the same on every copy", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local p = retry.policy{idempotency_key = true, hedge = {delay = 0.05}}
    local resp = p:post(srv.url .. "/items", {headers = AUTH,
                                              json = {summary = "once"}})
    assert.equal(201, resp.status)
    assert.equal(2, resp.attempts)
    local stats = srv:stats()
    assert.equal(2, stats.requests)
    assert.equal(1, stats.items_created)
    assert.equal(1, stats.idempotent_replays)
  end)
end)

describe("hedges in the trace, --log and the summary", function()
  it("are shown and counted", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local code, out, records = traced("-v --summary", [[
      local retry = require "retryrun.retry"
      retry.policy{hedge = {delay = 0.05}}:get(arg[1] .. "/_echo")
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("GET http://127%.0%.0%.1:%d+/_echo  hedge 2 after " ..
                   "0%.0%d+ s", out)
    assert.matches("attempt 2 %(hedge%)  200  %d+ ms  accept", out)
    assert.matches("attempt 1  cancelled  %d+ ms", out)
    assert.matches("GET /_echo: 1 call, 2 attempts, 0 retries", out)
    assert.matches("hedges: 1 sent, 1 won; attempts cancelled: 1", out)
    assert.equal(3, #records)
    assert.same({2, true, 200, "accept"}, {records[1].attempt,
      records[1].hedge, records[1].status, records[1].decision})
    assert.same({1, "cancelled", true, "cancelled"}, {records[2].attempt,
      records[2].error, records[2].sent, records[2].decision})
    assert.is_nil(records[2].hedge)
    assert.same({"call", 2, 1, true, 1}, {records[3].event,
      records[3].attempts, records[3].hedges, records[3].hedge_won,
      records[3].cancelled})
  end)
end)

describe("a hedged call whose first attempt wins", function()
  it("counts as ok first time: its hedge was no retry", function()
    -- every reply takes 1 s; the hedge goes at 0.5 s and ends 0.5 s
    -- after the first
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "1000"}
    local code, out, records = traced("--summary", [[
      local retry = require "retryrun.retry"
      retry.policy{hedge = {delay = 0.5}}:get(arg[1] .. "/_echo")
    ]], srv.url)
    assert.equal(0, code, out)
    local call = records[#records]
    assert.same({"call", 1}, {call.event, call.hedges})
    assert.falsy(call.hedge_won)
    assert.matches("hedges: 1 sent, 0 won", out, 1, true)
    assert.matches("ok first time 100 %", out, 1, true)
    assert.matches("a call failed first time 0 %", out, 1, true)
  end)
end)

-- Each copy of a hedged attempt meets the host's guards and gate (the
-- retry budget, the breaker, the cool-down, the rate limit, --chaos) and
-- a session's token renewal. Replies are slowed by hundreds of ms against
-- hedge delays of tens: the order of events does not depend on the load.
describe("a hedged attempt and the host's guards", function()
  it("pays each hedge from the retry budget, and sends none it refuses",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "500"}
    local code, out = traced("-v --summary", [[
      local retry = require "retryrun.retry"
      local p = retry.policy{attempts = 3, hedge = {delay = 0.05, max = 3},
                             budget = {tokens = 5, retry_cost = 5,
                                       refill = 0}}
      print("status", p:get(arg[1] .. "/_echo").status)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("status\t200", out)
    assert.matches("_echo  hedge 2 after", out)
    assert.matches("_echo  hedge not sent: the retry budget refuses it", out)
    assert.is_nil(out:find("hedge 3 after", 1, true))
    assert.matches("1 retry allowed, 1 refused", out)
    assert.equal(2, srv:stats().requests)
  end)

  it("sends no hedge beside the breaker's probe", function()
    local bad <close> = todo.start{"--fail-rate", "1"}
    local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "500"}
    local code, out = traced("-v", ([[
      local retry = require "retryrun.retry"
      local run = require "retryrun.run"
      local p = retry.policy{attempts = 1, key = "svc", raise = false,
                             breaker = {consecutive = 2, break_for = 0.2}}
      p:get(arg[1] .. "/_echo"); p:get(arg[1] .. "/_echo")
      run.sleep(0.3)
      local h = p:extend{attempts = 3, hedge = {delay = 0.02, max = 3}}
      print("status", h:get(SLOW .. "/_echo").status)
    ]]):gsub("SLOW", ("%q"):format(slow.url)) .. "", bad.url)
    assert.equal(0, code, out)
    assert.matches("breaker svc half%-open: this attempt is the probe", out)
    assert.matches("status\t200", out)
    assert.is_nil(out:find("hedge 2", 1, true))
    assert.equal(1, slow:stats().requests)
  end)

  it("sends no hedge while the host cools down", function()
    local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "1500"}
    local busy <close> = todo.start{"--throttle-rate", "1",
                                    "--retry-after", "3"}
    local code, out = traced("-v", ([[
      local retry = require "retryrun.retry"
      local run = require "retryrun.run"
      local p = retry.policy{key = "svc", hedge = {delay = 0.5}}
      local t = run.spawn(function()
        return p:get(arg[1] .. "/_echo").status
      end)
      -- a 429 from the same key while the first attempt is in flight
      run.sleep(0.05)
      p:extend{attempts = 1, raise = false}:get(BUSY .. "/_echo")
      print("status", t:wait())
    ]]):gsub("BUSY", ("%q"):format(busy.url)) .. "", slow.url)
    assert.equal(0, code, out)
    assert.matches("cool%-down svc 3%.0 s", out)
    assert.matches("_echo  hedge not sent: the host cools down", out)
    assert.matches("status\t200", out)
    assert.equal(1, slow:stats().requests)
  end)

  it("skips a hedge that would wait for the rate limit", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "500"}
    local code, out = traced("-v", [[
      local retry = require "retryrun.retry"
      local run = require "retryrun.run"
      run.limits{rate = "1/min"}
      local p = retry.policy{hedge = {delay = 0.05}}
      print("status", p:get(arg[1] .. "/_echo").status)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("_echo  hedge not sent: no turn of the rate limit is " ..
                   "free now", out)
    assert.matches("status\t200", out)
    assert.equal(1, srv:stats().requests)
  end)

  it("draws each copy's chaos fault by its own number, reproducibly",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "500"}
    local script = [[
      local retry = require "retryrun.retry"
      local p = retry.policy{attempts = 2, hedge = {delay = 0.05}}
      print("status", p:get(arg[1] .. "/_echo").status)
    ]]
    -- seed 5: attempt 1 goes out, its hedge fails with a 503 at once
    local lines = {}
    for i = 1, 2 do
      local code, out, records = traced(
        "-v --chaos 'fail=0.5,status=503,seed=5'", script, srv.url)
      assert.equal(0, code, out)
      assert.matches("attempt 2 %(hedge%)  chaos: 503  %d+ ms  wait: 1 " ..
                     "more in flight", out)
      assert.matches("status\t200", out)
      local got = {}
      for _, r in ipairs(records) do
        if r.event == "attempt" then
          got[#got + 1] = ("%d %s %s %s"):format(r.attempt,
            tostring(r.hedge), tostring(r.chaos), r.decision)
        end
      end
      lines[i] = got
    end
    assert.same({"2 true fail wait", "1 nil nil accept"}, lines[1])
    assert.same(lines[1], lines[2])
    assert.equal(2, srv:stats().requests)  -- attempt 1, once a run
  end)

  it("sends no copy whose chaos latency would outlast its time", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "300"}
    -- seed 3: attempt 1 goes at once, its hedge draws a 5 s latency
    local code, out = traced("-v --chaos 'latency=0.5:5s,seed=3'", [[
      local retry = require "retryrun.retry"
      local p = retry.policy{attempts = 2, timeout = 1,
                             hedge = {delay = 0.05}}
      local resp = p:get(arg[1] .. "/_echo")
      print("status", resp.status, "attempts", resp.attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("_echo  hedge not sent: its chaos latency outlasts its " ..
                   "time", out)
    assert.matches("status\t200\tattempts\t1", out)
    assert.equal(1, srv:stats().requests)
  end)
end)

describe("a hedged session call whose token is renewed", function()
  it("cancels the copies that carry the old token and sends it again",
     function()
    -- seed 3: the first request is slow, the rest fast
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local code, out, records = traced("-v", [[
      local http = require "retryrun.http"
      local calls = 0
      local s = http.session{base = arg[1],
        retry = {hedge = {delay = 0.05}},
        auth = {token = function()
          calls = calls + 1
          if calls == 1 then return "stale-token" end
          return http.post(arg[1] .. "/token", {json = {user = "alice",
            secret = "alice-secret"}, expect = 200}):json().access_token
        end}}
      local resp = s:get("/items")
      print("status", resp.status, "attempts", resp.attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("attempt 2 %(hedge%)  401  %d+ ms  renewed the " ..
                   "credentials: sent again", out)
    assert.matches("status\t200\tattempts\t2", out)
    local got = {}
    for _, r in ipairs(records) do
      if r.event == "attempt" and r.method == "GET" then
        got[#got + 1] = r.attempt .. " " .. r.decision
      end
    end
    assert.same({"2 renew", "1 cancelled", "2 accept"}, got)
    -- the slow first GET, its hedge (401), POST /token, the GET again
    assert.equal(4, srv:stats().requests)
  end)
end)

describe("hedges in --report", function()
  it("are in the call's history, numbered as in --log", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local json = os.tmpname()
    local code, out, records = traced("--report json=" .. json, [[
      local retry = require "retryrun.retry"
      retry.policy{hedge = {delay = 0.05}}:get(arg[1] .. "/_echo")
    ]], srv.url)
    assert.equal(0, code, out)
    local f = assert(io.open(json))
    local report = todo.decode(f:read("a"))
    f:close()
    os.remove(json)
    -- a copy is no retry: the task passed, not flaky
    assert.same({"passed", 0}, {report.cases[1].status,
                                report.cases[1].retries})
    local call = report.cases[1].calls[1]
    local got, logged = {}, {}
    for _, a in ipairs(call.history) do
      got[#got + 1] = ("%d %s %s"):format(a.attempt, tostring(a.hedge),
                                          a.decision)
    end
    for _, r in ipairs(records) do
      if r.event == "attempt" then
        logged[#logged + 1] = ("%d %s %s"):format(r.attempt,
          tostring(r.hedge), r.decision)
      end
    end
    assert.same({"2 true accept", "1 nil cancelled"}, got)
    assert.same(logged, got)
    assert.equal(2, call.attempts)
  end)
end)

describe("a hedged call under --fake-clock", function()
  it("sends its hedge after the real delay: a transfer is in flight",
     function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   tostring(SLOW_MS), "--seed", "3"}
    local code, out = traced("-v --fake-clock", [[
      local retry = require "retryrun.retry"
      local resp = retry.policy{hedge = {delay = 0.05}}:get(arg[1] ..
                                                              "/_echo")
      print("status", resp.status, "attempts", resp.attempts)
    ]], srv.url)
    assert.equal(0, code, out)
    assert.matches("hedge 2 after 0%.0%d+ s", out)
    assert.matches("attempt 2 %(hedge%)  200  %d+ ms  accept", out)
    assert.matches("status\t200\tattempts\t2", out)
    assert.equal(2, srv:stats().requests)
  end)
end)
