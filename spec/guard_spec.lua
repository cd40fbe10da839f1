-- The per-host guards against a retry storm: the retry budget, the
-- circuit breaker and the shared cool-down, against todo-server. Counts
-- come from the server's /_stats; times are bounds with slack.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH
local FAST = common.FAST

-- n tasks, each one GET /items under the policy fields; the give-up
-- reasons (or "ok") counted.
local function storm(url, n, fields)
  local list = {}
  for i = 1, n do list[i] = i end
  fields.raise = false
  local p = retry.policy(fields)
  local out = run.map(list, function()
    local r, err = p:get(url .. "/items", {headers = AUTH})
    return r and "ok" or err.reason
  end)
  local count = {}
  for _, why in ipairs(out) do count[why] = (count[why] or 0) + 1 end
  return count
end

-- Runs script with arg[1] = url under retryrun -v --summary-json --log;
-- returns the exit code, stderr, the summary and the give-up reasons of
-- the log's call records, counted.
local function summarised(script, url)
  local path, json, log = common.write_script(script), os.tmpname(),
                          os.tmpname()
  local code, err = common.sh(("%s -v --summary --summary-json %s --log %s "
    .. "%s %s 2>&1 >/dev/null"):format(common.quote(common.BIN), json, log,
    common.quote(path), common.quote(url)))
  local f = io.open(json)
  local summary = todo.decode(f:read("a"))
  f:close()
  local reasons = {}
  for line in io.lines(log) do
    local r = todo.decode(line)
    if r.event == "call" then
      reasons[r.reason] = (reasons[r.reason] or 0) + 1
    end
  end
  os.remove(path); os.remove(json); os.remove(log)
  return code, err, summary, reasons
end

describe("the retry budget", function()
  it("keeps 64 tasks in a full outage to the bucket's retries", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local count = storm(srv.url, 64, {backoff = FAST})
    -- 500 tokens at 5 a retry: 100 retries in all, none refilled (no call
    -- succeeds); without a budget 64 x 3
    assert.equal(64 + 100, srv:stats().requests)
    assert.equal(64, count.budget + (count.exhausted or 0))
    assert.is_true(count.budget >= 64 - 100 // 3)
  end)

  it("pays a policy(fn) wrapper's retries from its inner call's host",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local fetch = retry.policy{backoff = FAST, raise = false}(function()
      return http.get(srv.url .. "/items", {headers = AUTH})
    end)
    local list = {}
    for i = 1, 64 do list[i] = i end
    local out = run.map(list, function()
      local _, err = fetch()
      return err.reason
    end)
    assert.equal(64 + 100, srv:stats().requests)
    local refused = 0
    for _, why in ipairs(out) do refused = refused + (why == "budget" and 1 or 0) end
    assert.is_true(refused >= 64 - 100 // 3, refused)
  end)

  it("is off with budget = false: every task makes every attempt",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local count = storm(srv.url, 64, {backoff = FAST, budget = false})
    assert.equal(64 * 4, srv:stats().requests)
    assert.same({exhausted = 64}, count)
  end)

  it("as a ratio allows 10 % of first attempts plus a floor a second",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local t0 = run.now()
    local count = storm(srv.url, 64, {backoff = FAST,
                                      budget = {ratio = 0.1,
                                                min_per_second = 2}})
    local seconds = run.now() - t0
    local retries = srv:stats().requests - 64
    assert.is_true(retries >= 6, retries)
    assert.is_true(retries <= 6.4 + 2 * (math.ceil(seconds) + 1), retries)
    assert.is_true(count.budget > 40)
  end)

  it("shows its state in -v and a row in the summary", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local code, err, summary, reasons = summarised([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local list = {}
      for i = 1, 40 do list[i] = i end
      run.map(list, function()
        http.get(arg[1] .. "/items", {retry = {raise = false,
          backoff = {initial = 0.001, max = 0.002}}})
      end)
    ]], srv.url)
    assert.equal(0, code)
    local host = "127.0.0.1:" .. srv.port
    assert.matches("budget " .. host .. ": 450/500 tokens", err, 1, true)
    assert.matches("budget " .. host .. ": 0/500 tokens, retry refused",
                   err, 1, true)
    local g = summary.guards[1]
    assert.equal(host, g.key)
    -- 40 tasks want 3 retries each; 100 are paid, the rest refused
    assert.equal(100, g.budget.allowed)
    assert.equal(0, g.budget.tokens)
    assert.equal(reasons.budget, g.budget.refused)
    assert.equal(40, reasons.budget + (reasons.exhausted or 0))
  end)

  it("takes a table with min_per_second alone as a ratio of 10 %",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local count = storm(srv.url, 64, {backoff = FAST,
                                      budget = {min_per_second = 5}})
    -- a bucket would allow 100 retries; 10 % of 64 is 6.4, over the floor
    local requests = srv:stats().requests
    assert.is_true(requests >= 64 + 5 and requests <= 64 + 7, requests)
    assert.is_true(count.budget >= 57, count.budget)
  end)

  it("counts no retry the open breaker stopped after its backoff",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local code, _, summary = summarised([[
      local http = require "retryrun.http"
      local p = {breaker = {consecutive = 3, break_for = 30},
                 budget = false, raise = false, backoff = {initial = 0.01}}
      for _ = 1, 3 do http.get(arg[1] .. "/items", {retry = p}) end
    ]], srv.url)
    assert.equal(0, code)
    -- the first call's third retry was decided, then the breaker opened;
    -- the other two failed fast: 3 requests, 2 of them retries
    assert.equal(3, srv:stats().requests)
    local e = summary.endpoints[1]
    assert.same({3, 3, 2}, {e.calls, e.attempts, e.retries})
    assert.equal(2, e.reasons["500"])
  end)

  it("takes back the cost of a retry the breaker or a cool-down stops",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local code, _, summary, reasons = summarised([[
      local retry = require "retryrun.retry"
      local R = {attempts = 2, raise = false, backoff = {initial = 0.01},
                 breaker = {consecutive = 1, break_for = 30}}
      for _ = 1, 3 do retry.policy(R):get(arg[1] .. "/items") end
    ]], srv.url)
    assert.equal(0, code)
    -- each call's retry was paid, then the open breaker stopped it
    assert.same({circuit_open = 3}, reasons)
    assert.equal(1, srv:stats().requests)
    assert.same({allowed = 0, refused = 0, tokens = 500},
                summary.guards[1].budget)
  end)

  it("never refuses a first attempt", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    storm(srv.url, 30, {backoff = FAST, budget = {tokens = 0}})
    assert.equal(30, srv:stats().requests)
  end)

  it("refuses unknown fields, and a bucket and a ratio at once", function()
    assert.has_error(function() retry.policy{budget = {tokns = 5}} end,
                     "unknown budget field 'tokns' (did you mean 'tokens'?)")
    assert.has_error(function() retry.policy{budget = {tokens = 5,
                                                       ratio = 0.1}} end,
                     "policy field 'budget' is a bucket (tokens, "
                     .. "retry_cost, timeout_cost, refill) or a ratio (ratio, "
                     .. "min_per_second), not both")
    -- a ratio's field alone makes a ratio; never half ignored
    assert.has_error(function() retry.policy{budget = {ratio = 0.1,
                                                       retry_cost = 1}} end,
                     "policy field 'budget' is a bucket (tokens, "
                     .. "retry_cost, timeout_cost, refill) or a ratio (ratio, "
                     .. "min_per_second), not both")
    assert.has_error(function() retry.policy{budget = 3} end,
                     "policy field 'budget' must be true, false or a table "
                     .. "like {tokens=500, retry_cost=5, timeout_cost=10, "
                     .. "refill=1} or {ratio=0.1, min_per_second=10} (got "
                     .. "number)")
    assert.has_error(function() retry.policy{budgte = false} end,
                     "unknown policy field 'budgte' (did you mean 'budget'?)")
  end)
end)

describe("the circuit breaker", function()
  local BREAKER = {consecutive = 3, break_for = 0.5}

  it("fails fast while open, and lets one probe through half-open",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local fields = {attempts = 1, breaker = BREAKER}
    assert.same({exhausted = 3}, storm(srv.url, 3, fields))
    assert.equal(3, srv:stats().requests)
    -- open: nothing reaches the server
    local t0 = run.now()
    assert.same({circuit_open = 20}, storm(srv.url, 20, fields))
    assert.is_true(run.now() - t0 < 0.4)
    assert.equal(3, srv:stats().requests)
    -- the break is over: one probe goes, the others fail fast meanwhile
    run.sleep(0.6)
    assert.same({circuit_open = 19, exhausted = 1},
                storm(srv.url, 20, fields))
    assert.equal(4, srv:stats().requests)
    -- the probe failed: open again
    assert.same({circuit_open = 5}, storm(srv.url, 5, fields))
    assert.equal(4, srv:stats().requests)
  end)

  it("keeps each host's state apart when calls alternate between them",
     function()
    local bad <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local good <close> = todo.start{}
    local p = retry.policy{attempts = 1, raise = false, breaker = BREAKER}
    local seen = {}
    for i = 1, 8 do
      local srv = i % 2 == 1 and bad or good
      local r, err = p:get(srv.url .. "/items", {headers = AUTH})
      seen[i] = r and r.status or err.reason
    end
    -- the bad host opens after its third failure; the good one never does
    assert.same({"exhausted", 200, "exhausted", 200, "exhausted", 200,
                 "circuit_open", 200}, seen)
    assert.equal(3, bad:stats().requests)
    assert.equal(4, good:stats().requests)
  end)

  it("with when_open = \"wait\" waits for the probe, then goes", function()
    local bad <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local good <close> = todo.start{}
    -- both servers under one key: the bad one trips it, the good one
    -- answers the probe
    local fields = {attempts = 1, breaker = BREAKER, key = "svc",
                    when_open = "wait"}
    assert.same({exhausted = 3}, storm(bad.url, 3, fields))
    local t0 = run.now()
    assert.same({ok = 20}, storm(good.url, 20, fields))
    assert.is_true(run.now() - t0 >= 0.4)
    assert.equal(20, good:stats().requests)
    assert.equal(3, bad:stats().requests)
  end)

  it("lets a task waiting for the probe be cancelled, and wakes the rest",
     function()
    local bad <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "400"}
    local p = retry.policy{attempts = 1, key = "svc-slow", when_open =
      "wait", breaker = {consecutive = 2, break_for = 0.2}, raise = false}
    for _ = 1, 2 do p:get(bad.url .. "/items") end
    run.sleep(0.25)
    local function get()
      local r, err = p:get(slow.url .. "/items", {headers = AUTH})
      return r and r.status or err.reason
    end
    local probe = run.spawn(get)
    run.sleep(0.05)
    local waiting = {}
    for i = 1, 5 do waiting[i] = run.spawn(get) end
    run.sleep(0.05)
    waiting[1]:cancel()
    assert.equal(200, probe:wait())
    assert.equal("cancelled", waiting[1]:wait())
    for i = 2, 5 do assert.equal(200, waiting[i]:wait()) end
    assert.equal(5, slow:stats().requests)
  end)

  it("lets the probe's task be cancelled: the next call is the probe",
     function()
    local bad <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local good <close> = todo.start{}
    local p = retry.policy{attempts = 1, key = "svc-cancel", when_open =
      "wait", breaker = {consecutive = 2, break_for = 0.2}, timeout = 20,
      raise = false}
    for _ = 1, 2 do p:get(bad.url .. "/items") end
    run.sleep(0.25)
    local probe = run.spawn(function()
      return select(2, p:get(slow.url .. "/items", {headers = AUTH})).reason
    end)
    run.sleep(0.05)
    local waiting = {}
    for i = 1, 3 do
      waiting[i] = run.spawn(function()
        local r, err = p:get(good.url .. "/items", {headers = AUTH})
        return r and r.status or err.reason
      end)
    end
    run.sleep(0.05)
    local t0 = run.now()
    probe:cancel()
    assert.equal("cancelled", probe:wait())
    -- not after the probe's lease (its timeout, 20 s)
    for i = 1, 3 do assert.equal(200, waiting[i]:wait()) end
    assert.is_true(run.now() - t0 < 10)
    assert.equal(3, good:stats().requests)
  end)

  it("with when_open = \"wait\" gives up when the break outlasts the "
     .. "deadline", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local fields = {attempts = 1, breaker = {consecutive = 2,
                    break_for = 30}, when_open = "wait", deadline = 5}
    storm(srv.url, 2, fields)
    local t0 = run.now()
    local _, err = retry.policy(fields):extend{raise = false}
      :get(srv.url .. "/items")
    assert.equal("circuit_open", err.reason)
    assert.is_true(run.now() - t0 < 1)
    assert.matches("circuit breaker of this host is open", err.message, 1,
                   true)
  end)

  it("opens on a failure ratio only past the minimum of calls", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local fields = {attempts = 1, breaker = {min_calls = 10, ratio = 0.5}}
    assert.same({exhausted = 9}, storm(srv.url, 9, {attempts = 1,
      breaker = {min_calls = 10, ratio = 0.5}}))
    storm(srv.url, 1, fields)
    assert.same({circuit_open = 4}, storm(srv.url, 4, fields))
    assert.equal(10, srv:stats().requests)
  end)

  it("with ratio = 0 opens on a failure, never on successes alone",
     function()
    local srv <close> = todo.start{}
    local fields = {attempts = 1, breaker = {ratio = 0, min_calls = 2}}
    assert.same({ok = 5}, storm(srv.url, 5, fields))
    assert.same({ok = 5}, storm(srv.url, 5, fields))
    local bad <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    fields.key = "ratio0"
    assert.same({exhausted = 2}, storm(bad.url, 2, fields))
    assert.same({circuit_open = 3}, storm(bad.url, 3, fields))
  end)

  it("is off unless asked", function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    assert.same({exhausted = 30}, storm(srv.url, 30, {attempts = 1}))
    assert.equal(30, srv:stats().requests)
  end)

  it("shows its changes in -v, a row in the summary, reasons in --log",
     function()
    local srv <close> = todo.start{"--fail-rate", "1", "--seed", "1"}
    local code, err, summary, reasons = summarised([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local R = {attempts = 1, breaker = {consecutive = 2, break_for = 0.2},
                 raise = false}
      for i = 1, 4 do http.get(arg[1] .. "/items", {retry = R}) end
      run.sleep(0.3)
      http.get(arg[1] .. "/items", {retry = R})
    ]], srv.url)
    assert.equal(0, code)
    local host = "127.0.0.1:" .. srv.port
    for _, line in ipairs{"breaker " .. host .. " open for 0.2 s",
                          "breaker " .. host .. " open: fail fast",
                          "breaker " .. host .. " half-open: this attempt "
                          .. "is the probe",
                          "breaker " .. host .. " open again for 0.2 s: the "
                          .. "probe failed",
                          "breaker " .. host .. ": opened 2 times, 2 calls "
                          .. "failed fast, 1 probe; open at the end"} do
      assert.matches(line, err, 1, true)
    end
    assert.same({state = "open", opened = 2, failed_fast = 2, probes = 1},
                summary.guards[1].breaker)
    assert.same({exhausted = 3, circuit_open = 2}, reasons)
    assert.equal(3, srv:stats().requests)
  end)

  it("refuses unknown fields and a bad when_open", function()
    assert.has_error(function() retry.policy{breaker = {brek_for = 1}} end,
      "unknown breaker field 'brek_for' (did you mean 'break_for'?)")
    assert.has_error(function() retry.policy{when_open = "block"} end,
      "policy field 'when_open' must be \"fail\" or \"wait\" (got block)")
    assert.has_error(function() retry.policy{breaker = {ratio = 2}} end,
      "policy field 'breaker.ratio' must be a number from 0 to 1 (got 2)")
    assert.has_error(function() retry.policy{breaker = {ratio = 0/0}} end,
      "policy field 'breaker.ratio' must be a number from 0 to 1 (got nan)")
    assert.has_error(function() retry.policy{breaker = {ratio = "x"}} end,
      "policy field 'breaker.ratio' must be a number from 0 to 1 (got "
      .. "string)")
    local bad_key = "policy field 'key' must be a name of 1 to 200 bytes, "
                    .. "no control characters (got another string)"
    for _, key in ipairs{"", ("k"):rep(201), "a\0b", "a\nb", "a\27[2J"} do
      assert.has_error(function() retry.policy{key = key} end, bad_key)
    end
    assert.equal("a b-\xc3\xa9", retry.policy{key = "a b-\xc3\xa9"}.key)
  end)
end)

describe("the shared cool-down", function()
  it("after a 429 with Retry-After: 2, no task's request arrives for 2 s",
     function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "2"}
    local t0 = run.now()
    local first = run.spawn(function()
      return select(2, http.get(srv.url .. "/items", {headers = AUTH,
        retry = {attempts = 2, raise = false}})).reason
    end)
    run.sleep(0.3)
    -- from the server's own counts, during the pause
    local during = run.spawn(function()
      run.sleep(1.2)
      return srv:stats().requests
    end)
    local count = storm(srv.url, 63, {attempts = 1})
    assert.equal("exhausted", first:wait())
    assert.equal(1, during:wait())
    assert.same({exhausted = 63}, count)
    assert.equal(1 + 1 + 63, srv:stats().requests)
    assert.is_true(run.now() - t0 >= 1.9)
  end)

  it("ends a call whose deadline comes first at once, saying why",
     function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "3"}
    http.get(srv.url .. "/items", {retry = {attempts = 1, raise = false}})
    local t0 = run.now()
    local _, err = http.get(srv.url .. "/items", {headers = AUTH,
      retry = {deadline = 1, raise = false}})
    assert.is_true(run.now() - t0 < 0.5)
    assert.equal("cool_down", err.reason)
    assert.matches("the host asked for a pause that ends after this "
                   .. "call's deadline", err.message, 1, true)
    assert.equal(1, srv:stats().requests)
  end)

  it("shows itself in -v and a row in the summary", function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "1"}
    local code, err, summary, reasons = summarised([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      local R = {attempts = 1, raise = false}
      http.get(arg[1] .. "/items", {retry = R})
      run.map({1, 2, 3}, function() http.get(arg[1] .. "/items",
                                             {retry = R}) end)
    ]], srv.url)
    assert.equal(0, code)
    local host = "127.0.0.1:" .. srv.port
    assert.matches("cool-down " .. host .. " 1.0 s (Retry-After)", err, 1,
                   true)
    -- each call that waits for it says so, not only the one that saw it
    assert.equal(3, select(2, err:gsub("cool%-down " .. host:gsub("%.", "%%.")
                                       .. ": this call waits", "")))
    assert.matches("cool-down " .. host .. ": 4 asked (longest 1.0 s, "
                   .. "Retry-After); 3 waits", err, 1, true)
    local cool = summary.guards[1].cool_down
    assert.equal(4, cool.asked)
    assert.equal(3, cool.waits)
    assert.is_true(cool.waited > 2 and cool.waited < 3.5, cool.waited)
    assert.same({exhausted = 4}, reasons)
  end)

  it("pauses the host that asked, not the one that redirected there",
     function()
    local a <close> = todo.start{}
    local b <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                 "30"}
    local _, err = http.get(a.url .. "/_redirect?to=" .. b.url .. "/items",
      {headers = AUTH, retry = {attempts = 1, raise = false}})
    assert.equal(429, err.response.status)
    -- a, which only redirected, is not paused; b is
    local r = http.get(a.url .. "/items", {headers = AUTH,
                                           retry = {deadline = 5}})
    assert.equal(200, r.status)
    local _, err2 = http.get(b.url .. "/items", {headers = AUTH,
      retry = {deadline = 5, raise = false}})
    assert.equal("cool_down", err2.reason)
    assert.equal(1, b:stats().requests)
  end)

  it("is capped by max_retry_after", function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "30"}
    http.get(srv.url .. "/items", {retry = {attempts = 1, raise = false,
                                            max_retry_after = 0.3}})
    local t0 = run.now()
    http.get(srv.url .. "/items", {retry = {attempts = 1, raise = false,
                                            deadline = 5}})
    local took = run.now() - t0
    assert.is_true(took >= 0.2 and took < 3, took)
    assert.equal(2, srv:stats().requests)
  end)

  it("ends at once a call whose max_retry_after is shorter than the pause "
     .. "another call began", function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "30"}
    http.get(srv.url .. "/items", {retry = {attempts = 1, raise = false}})
    local t0 = run.now()
    local _, err = http.get(srv.url .. "/items", {headers = AUTH,
      retry = {max_retry_after = 1, raise = false}})
    assert.is_true(run.now() - t0 < 0.9)
    assert.equal("cool_down", err.reason)
    assert.matches("lasts longer than its max_retry_after", err.message, 1,
                   true)
    assert.equal(1, srv:stats().requests)
  end)
end)
