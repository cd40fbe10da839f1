-- retryrun.retry: policies and the decision per attempt, against
-- todo-server with its faults switched on. Faults and jitter are seeded.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local core = require "retryrun.core"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH
local FAST = common.FAST

-- A policy that counts its retries.
local function counting(fields)
  local counter = {n = 0, events = {}}
  fields.on_retry = function(ev)
    counter.n = counter.n + 1
    counter.events[#counter.events + 1] = ev
  end
  return retry.policy(fields), counter
end

describe("retry.policy", function()
  it("makes 4 attempts by default", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local ok, err = pcall(http.get, srv.url .. "/items",
                          {headers = AUTH, retry = {backoff = FAST}})
    assert.is_false(ok)
    assert.equal(4, #err.attempts)
  end)

  it("refuses an unknown field and suggests the right one", function()
    assert.has_error(function() retry.policy{atempts = 3} end,
                     "unknown policy field 'atempts' (did you mean 'attempts'?)")
  end)

  it("refuses a field of the wrong type", function()
    assert.has_error(function() retry.policy{valid = true} end,
                     "policy field 'valid' must be a function (got boolean)")
  end)

  it("refuses out-of-range values naming the field", function()
    assert.has_error(function() retry.policy{attempts = 0} end,
      "policy field 'attempts' must be a whole number from 1 to 1000 (got 0)")
    assert.has_error(function() retry.policy{backoff = {jitter = "ful"}} end,
      'backoff.jitter must be "full", "equal", "decorrelated" or "none" ' ..
      '(got ful)')
    assert.has_error(function() retry.policy{retry_on = {"conect"}} end,
      "retry_on: unknown failure class 'conect' (known: connect, dns, " ..
      'timeout, reset, tls, other, or a status like 503 or "5xx")')
  end)

  describe(":extend()", function()
    local Retry = retry.policy{attempts = 3, backoff = {initial = 0.5}}
    local Child = Retry:extend{backoff = {max = 1}}

    it("keeps the parent's fields", function()
      assert.equal(3, Child.attempts)
    end)

    it("merges backoff field by field", function()
      assert.same({initial = 0.5, max = 1}, Child.backoff)
    end)

    it("leaves the parent alone", function()
      assert.same({initial = 0.5}, Retry.backoff)
    end)
  end)
end)

describe("the decision per attempt", function()
  it("retries GETs on 500 until they succeed, attempts as made", function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "3"}
    local p, count = counting{attempts = 20, backoff = FAST}
    for _ = 1, 40 do
      local resp = p:get(srv.url .. "/items", {headers = AUTH})
      assert.equal(200, resp.status)
    end
    assert.equal(srv:stats().faults.fail, count.n)
    assert.is_true(count.n > 10)
  end)

  it("retries a 200 missing summary through valid()", function()
    local srv <close> = todo.start{"--missing-field-rate", "0.3",
                                   "--seed", "5"}
    http.post(srv.url .. "/items", {headers = AUTH,
      json = {summary = "a", description = "b"}, retry = {unsafe = true}})
    local p, count = counting{backoff = FAST, attempts = 10,
      valid = function(resp)
        for _, item in ipairs(resp:json()) do
          if item.summary == nil then return false, "no summary" end
        end
        return true
      end}
    for _ = 1, 30 do
      local items = p:get(srv.url .. "/items", {headers = AUTH}):json()
      assert.equal("a", items[1].summary)
    end
    assert.is_true(count.n > 0)
    assert.equal(srv:stats().faults.missing_field, count.n)
    assert.equal("no summary", count.events[1].reason)
  end)

  it("returns whatever status one attempt got with retry = false",
     function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local resp = http.get(srv.url .. "/items", {headers = AUTH,
                                                 retry = false})
    assert.equal(500, resp.status)
    assert.equal(1, srv:stats().requests)
  end)

  it("retries a spurious 401 only under a policy that asks for it",
     function()
    local srv <close> = todo.start{"--spurious-401-rate", "1"}
    local resp = http.get(srv.url .. "/items", {headers = AUTH,
                                                 retry = {backoff = FAST}})
    assert.equal(401, resp.status)
    assert.equal(1, resp.attempts)
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
      retry = {backoff = FAST, attempts = 3, retry_on = {401}}})
    assert.is_false(ok)
    assert.equal("exhausted", err.reason)
    assert.same({401, 401, 401}, {err.attempts[1].status,
      err.attempts[2].status, err.attempts[3].status})
  end)

  it("recovers from a spurious 401 in about its rate", function()
    local srv <close> = todo.start{"--spurious-401-rate", "0.2",
                                   "--seed", "9"}
    local RetryOnAuthFailure = retry.policy{backoff = FAST,
      valid = function(resp) return not (resp.status >= 400 and
                                          resp.status < 500) end}
    for _ = 1, 30 do
      assert.equal(200, RetryOnAuthFailure:get(srv.url .. "/items",
                                               {headers = AUTH}).status)
    end
  end)

  it("waits the Retry-After seconds a 429 gave", function()
    local srv <close> = todo.start{"--throttle-rate", "1",
                                   "--retry-after", "1"}
    local p, count = counting{attempts = 2, backoff = FAST}
    local t0 = run.now()
    local ok, err = pcall(p.get, p, srv.url .. "/items", {headers = AUTH})
    local took = run.now() - t0
    assert.is_false(ok)
    assert.equal(1, count.events[1].delay)
    assert.same({429, 429}, {err.attempts[1].status, err.attempts[2].status})
    assert.equal(1, err.attempts[1].delay)
    assert.is_true(took >= 1 and took < 3, "took " .. took)
  end)

  it("waits a Retry-After given as an HTTP date", function()
    local srv <close> = todo.start{"--throttle-rate", "1",
                                   "--retry-after", "2", "--retry-after-date"}
    local p, count = counting{attempts = 2, backoff = FAST}
    local resp = http.get(srv.url .. "/items", {headers = AUTH,
                                                 retry = false})
    assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$",
                   resp:header("Retry-After"))
    local ok = pcall(p.get, p, srv.url .. "/items", {headers = AUTH})
    assert.is_false(ok)
    -- a date has one-second resolution: 1 to 2 seconds from now
    assert.is_true(count.events[1].delay >= 0.5 and
                   count.events[1].delay <= 2.5,
                   "delay " .. count.events[1].delay)
  end)

  it("gives up at once on a Retry-After over max_retry_after, saying when",
     function()
    local srv <close> = todo.start{"--throttle-rate", "1",
                                   "--retry-after", "300"}
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH})
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
    assert.equal(300, err.retry_after)
    assert.matches("the server asked to be called again in 300 s " ..
                   "%(Retry%-After%), over max_retry_after %(120 s%)",
                   err.message)
  end)

  it("gives up a POST without a key at once after a lost response",
     function()
    local srv <close> = todo.start{"--lose-response-rate", "1"}
    local ok, err = pcall(http.post, srv.url .. "/items", {headers = AUTH,
      json = {summary = "once", description = ""}})
    assert.is_false(ok)
    assert.equal("unsafe", err.reason)
    assert.equal(1, #err.attempts)
    assert.equal("reset", err.attempts[1].error)
    assert.is_true(err.attempts[1].sent)
    assert.matches("POST is not idempotent and the request may have " ..
                   "reached the server %(set idempotency_key=true, or " ..
                   "unsafe=true if repeating it is harmless%)", err.message)
    assert.equal(1, srv:stats().items_created)
  end)

  it("retries a POST with an idempotency key and creates no duplicate",
     function()
    local srv <close> = todo.start{"--lose-response-rate", "0.5",
                                   "--seed", "11"}
    local p, count = counting{idempotency_key = true, attempts = 10,
                              backoff = FAST}
    for i = 1, 20 do
      local resp = p:post(srv.url .. "/items", {headers = AUTH,
        json = {summary = "item " .. i, description = ""}})
      assert.equal(201, resp.status)
    end
    local stats = srv:stats()
    assert.is_true(count.n > 0)
    assert.equal(count.n, stats.faults.lose_response)
    assert.equal(20, stats.items_created)
    assert.equal(stats.faults.lose_response, stats.idempotent_replays)
    local items = http.get(srv.url .. "/items", {headers = AUTH}):json()
    assert.equal(20, #items)
  end)

  it("retries a POST that never reached the server", function()
    local ok, err = pcall(http.post, "http://127.0.0.1:1/items",
      {json = {}, retry = {attempts = 3, backoff = FAST}})
    assert.is_false(ok)
    assert.equal("exhausted", err.reason)
    assert.equal(3, #err.attempts)
  end)

  it("never crosses the deadline", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local t0 = run.now()
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
      retry = {attempts = 1000, deadline = 0.5,
               backoff = {initial = 0.05, factor = 1.5, max = 0.2}}})
    local took = run.now() - t0
    assert.is_false(ok)
    assert.equal("deadline", err.reason)
    -- the slack is for a loaded machine's scheduling, not for another
    -- attempt (each takes a backoff of at least 0.05 s)
    assert.is_true(took < 0.65, "took " .. took)
    assert.matches("the deadline of 0.5 s is reached", err.message)
  end)

  it("caps an attempt's timeout at the deadline", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "2000"}
    local t0 = run.now()
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
      retry = {deadline = 0.3, timeout = 10}})
    local took = run.now() - t0
    assert.is_false(ok)
    assert.equal("timeout", err.attempts[1].error)
    assert.is_true(took < 0.6, "took " .. took)
  end)

  it("lets a before_attempt hook fetch a fresh token over HTTP", function()
    local srv <close> = todo.start{"--token-ttl", "1"}
    local calls = 0
    local token = http.post(srv.url .. "/token", {json = {user = "alice",
      secret = common.TOKEN}}):json().access_token
    local p = retry.policy{backoff = FAST, retry_on = {401},
      before_attempt = function(req, attempt)
        if attempt > 1 then
          calls = calls + 1
          token = http.post(srv.url .. "/token", {json = {user = "alice",
            secret = common.TOKEN}}):json().access_token
        end
        req.headers.Authorization = "Bearer " .. token
      end}
    run.sleep(1.2)   -- the token expires
    local resp = p:get(srv.url .. "/items")
    assert.equal(200, resp.status)
    assert.equal(2, resp.attempts)
    assert.equal(1, calls)
  end)

  it("reports a predicate that raises as the attempt's reason", function()
    local srv <close> = todo.start{}
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
      retry = {attempts = 2, backoff = FAST,
               valid = function(resp) return resp:json()[1].summary end}})
    assert.is_false(ok)
    assert.equal(2, #err.attempts)
    assert.is_true(err.attempts[1].invalid)
    assert.matches("attempt to index a nil value", err.attempts[1].reason)
    assert.matches("stack traceback", err.attempts[1].reason)
    assert.matches("200 invalid, 200 invalid", err.message)
  end)

  it("stops at once when a hook raises, naming the hook and the call",
     function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
      retry = {backoff = FAST, on_retry = function() error("boom") end}})
    assert.is_false(ok)
    assert.matches("^on_retry hook of GET " .. common.literal(srv.url) ..
                   "/items failed: .*boom", err)
    assert.equal(1, srv:stats().requests)
  end)

  it("runs on_giveup with the error, and raise=false returns it", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local seen
    local resp, err = http.get(srv.url .. "/items", {headers = AUTH,
      retry = {attempts = 2, backoff = FAST, raise = false,
               on_giveup = function(e) seen = e end}})
    assert.is_nil(resp)
    assert.equal(err, seen)
    assert.equal(500, err.response.status)
    assert.equal("GET", err.request.method)
    assert.matches("^GET .* gave up after 2 attempts in %d+%.%d s: 500, 500$",
                   tostring(err))
  end)

  it("hands hooks only the response of the attempt that got one",
     function()
    -- a 500, then a refused connection (no response), then a 500: each
    -- attempt's own, never the one before it
    local bad <close> = todo.start{"--fail-rate", "1"}
    local gone = todo.start{}
    gone:stop()
    local urls = {bad.url, gone.url, bad.url}
    local seen, final = {}, nil
    local _, err = http.get(bad.url .. "/items", {headers = AUTH,
      retry = {attempts = 3, backoff = FAST, raise = false,
        before_attempt = function(req, n)
          req.url = urls[n] .. "/items"
        end,
        on_retry = function(ev)
          seen[ev.attempt] = ev.response and ev.response.status or "none"
        end,
        on_giveup = function(e) final = e.response end}})
    assert.same({500, "none"}, seen)
    assert.equal(500, err.response.status)
    assert.equal(err.response, final)
    -- a give-up whose last attempt got no response has none
    urls[3] = gone.url
    _, err = http.get(bad.url .. "/items", {headers = AUTH,
      retry = {attempts = 3, backoff = FAST, raise = false,
        before_attempt = function(req, n)
          req.url = urls[n] .. "/items"
        end}})
    assert.equal("connect", err.attempts[3].error)
    assert.equal(500, err.attempts[1].status)
    assert.is_nil(err.response)
    -- nor when it ended on a redirect that is not followed
    local hop <close> = todo.start{}
    _, err = http.get(bad.url .. "/items", {headers = AUTH,
      retry = {attempts = 2, backoff = FAST, raise = false,
        before_attempt = function(req, n)
          if n == 2 then req.url = hop.url .. "/_redirect?to=ftp://h/x" end
        end}})
    assert.equal(500, err.attempts[1].status)
    assert.equal("other", err.attempts[2].error)
    assert.is_nil(err.response)
  end)

  it("keeps 2,000 sequential GETs valid, retries equal to faults", function()
    local srv <close> = todo.start{"--fail-rate", "0.01",
                                   "--missing-field-rate", "0.01",
                                   "--seed", "2000"}
    http.post(srv.url .. "/items", {headers = AUTH,
      json = {summary = "s", description = "d"}})
    srv:reset_stats()
    local p, count = counting{backoff = FAST, valid = function(resp)
      return resp:json()[1].summary ~= nil end}
    local valid = 0
    for _ = 1, 2000 do
      if p:get(srv.url .. "/items", {headers = AUTH}):json()[1].summary then
        valid = valid + 1
      end
    end
    local stats = srv:stats()
    assert.equal(2000, valid)
    assert.equal(stats.faults.fail + stats.faults.missing_field, count.n)
    assert.equal(2000 + count.n, stats.requests)
  end)
end)

describe("policy(fn)", function()
  it("retries a whole function, calls inside making one attempt each",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.4", "--seed", "21"}
    local p, count = counting{attempts = 30, backoff = FAST}
    local inner = 0
    local get_items = p(function(url)
      inner = inner + 1
      return http.get(url, {headers = AUTH})
    end)
    for _ = 1, 20 do
      assert.equal(200, get_items(srv.url .. "/items").status)
    end
    assert.equal(20 + count.n, inner)
    assert.equal(srv:stats().requests, inner)
  end)

  it("passes on an error it does not retry as the function raised it",
     function()
    local p = retry.policy{attempts = 1}
    local errors = {"plain", {code = 7}}
    for i, e in ipairs(errors) do
      local ok, got = pcall(p(function() error(e, 0) end))
      assert.is_false(ok)
      assert.equal(e, got, "error " .. i)
    end
    assert.is_nil(errors[2].traceback)
    local ok, got = pcall(p(function() error("at a line") end))
    assert.is_false(ok)
    assert.matches("^[^\n]*retry_spec%.lua:%d+: at a line$", got)
  end)

  it("judges the article's Retry by valid() alone", function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "8"}
    local Retry = retry.policy{retry_on = {}, attempts = 30, backoff = FAST,
      valid = function(resp) return resp.status ~= 500 end}
    local get_items = Retry(function()
      return http.get(srv.url .. "/items", {headers = AUTH})
    end)
    for _ = 1, 10 do assert.equal(200, get_items().status) end
    assert.is_true(srv:stats().faults.fail > 0)
  end)

  it("passes on an inner give-up its retry_on does not cover", function()
    local f = retry.policy{retry_on = {500}, backoff = FAST}(function()
      return http.get("http://127.0.0.1:1/")
    end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_true(retry.is_giveup(err))
    assert.equal(1, #err.attempts)
    assert.equal("connect", err.attempts[1].error)
  end)

  it("names the wrapped function and keeps the inner error as cause",
     function()
    local f = retry.policy{attempts = 2, backoff = FAST}(function()
      return http.get("http://127.0.0.1:1/")
    end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.matches("^function at .*retry_spec.lua:%d+ gave up after 2 " ..
                   "attempts in %d+%.%d s: connect, connect", err.message)
    assert.is_true(retry.is_giveup(err.cause))
    assert.equal("http://127.0.0.1:1/", err.cause.request.url)
  end)

  it("does not retry an error that is a bug", function()
    local calls = 0
    local f = retry.policy{backoff = FAST}(function()
      calls = calls + 1
      error("typo")
    end)
    assert.has_error(f)
    assert.equal(1, calls)
  end)

  it("never repeats a POST that may have reached the server", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local f = retry.policy{backoff = FAST}(function()
      return http.post(srv.url .. "/items", {headers = AUTH,
                                              json = {summary = "x"}})
    end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.equal("unsafe", err.reason)
    assert.equal(1, srv:stats().requests)
  end)
end)

describe("jitter", function()
  after_each(common.reseed)

  local function delays(jitter, n, seed)
    core.seed(seed)
    local p = retry.policy{backoff = {initial = 0.1, factor = 2, max = 5,
                                      jitter = jitter}}
    local out, prev = {}, 0
    for i = 1, n do
      out[i] = p:delay(i, prev)
      prev = out[i]
    end
    return out
  end

  it("none is the exponential series, capped", function()
    assert.same({0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5}, delays("none", 8, 1))
  end)

  it("full is within [0, b] and repeats with the seed", function()
    local d = delays("full", 12, 7)
    for i, v in ipairs(d) do
      assert.is_true(v >= 0 and v <= math.min(5, 0.1 * 2 ^ (i - 1)))
    end
    assert.same(d, delays("full", 12, 7))
    assert.are_not.same(d, delays("full", 12, 8))
  end)

  it("equal is within [b/2, b]", function()
    for i, v in ipairs(delays("equal", 12, 3)) do
      local b = math.min(5, 0.1 * 2 ^ (i - 1))
      assert.is_true(v >= b / 2 and v <= b)
    end
  end)

  it("decorrelated is within [initial, 3 * previous], capped", function()
    local d = delays("decorrelated", 20, 4)
    local prev = 0.1
    for _, v in ipairs(d) do
      assert.is_true(v >= 0.1 and v <= math.min(5, 3 * prev) + 1e-12)
      prev = v
    end
  end)

  it("the waits a call makes are the policy's, with the same seed",
     function()
    local expected = delays("full", 3, 99)
    core.seed(99)
    local p, count = counting{attempts = 4,
      backoff = {initial = 0.1, factor = 2, max = 5, jitter = "full"}}
    pcall(p.get, p, "http://127.0.0.1:1/")
    assert.same(expected, {count.events[1].delay, count.events[2].delay,
                           count.events[3].delay})
  end)
end)

describe("policy(fn) and expect=", function()
  it("judges the response an expect= error carries", function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "31"}
    local calls = 0
    local f = retry.policy{attempts = 20, backoff = FAST}(function()
      calls = calls + 1
      return http.get(srv.url .. "/items", {headers = AUTH, expect = 200})
    end)
    for _ = 1, 10 do assert.equal(200, f().status) end
    assert.equal(10 + srv:stats().faults.fail, calls)
  end)

  it("raises the expect= error when the policy accepts its response",
     function()
    local srv <close> = todo.start{}
    local f = retry.policy{backoff = FAST}(function()
      return http.get(srv.url .. "/items/12345", {headers = AUTH,
                                                    expect = 200})
    end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_true(http.is_expect_error(err))
    assert.equal(404, err.status)
    assert.equal(1, srv:stats().requests)
  end)
end)

describe("policy(fn) and its limits", function()
  it("bounds the calls inside by the wrapper's deadline", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "3000"}
    local f = retry.policy{deadline = 0.3, backoff = FAST}(function()
      return http.get(srv.url .. "/items", {headers = AUTH})
    end)
    local t0 = run.now()
    local ok, err = pcall(f)
    local took = run.now() - t0
    assert.is_false(ok)
    assert.is_true(took < 0.8, "took " .. took)
    assert.equal("timeout", err.cause.attempts[1].error)
  end)

  it("never repeats a POST whose key would not carry to the next run",
     function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local f = retry.policy{backoff = FAST}(function()
      return http.post(srv.url .. "/items", {headers = AUTH,
        json = {summary = "x"},
        retry = {idempotency_key = true, attempts = 2, backoff = FAST}})
    end)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.equal("unsafe", err.reason)
    assert.matches("a key does not carry from one run of the function " ..
                   "to the next", err.message)
    assert.equal(2, srv:stats().requests)
  end)
end)

describe("a policy once made", function()
  it("cannot change, so what it says is what it does", function()
    local p = retry.policy{attempts = 2}
    local ok, err = pcall(function() p.attempts = 5 end)
    assert.is_false(ok)
    assert.matches("retry_spec.lua:%d+: a policy cannot change: make "
                   .. "another with policy:extend{attempts = ...}", err)
    assert.is_false(pcall(function() p.on_retry = print end))
    assert.equal(2, p.attempts)
    assert.is_nil(p.on_retry)
    assert.equal("retryrun.Policy (attempts 2)", tostring(p))
  end)

  it("keeps its own copy of the tables it was made from", function()
    local fields = {retry_on = {503}, backoff = {initial = 1}}
    local p = retry.policy(fields)
    fields.retry_on[2] = 500
    fields.backoff.initial = 5
    p.retry_on[3] = 502
    assert.same({503}, p.retry_on)
    assert.equal(1, p.backoff.initial)
    assert.is_true(p:delay(1) <= 1)
  end)

  it("gives its fields to :extend, which makes another", function()
    local p = retry.policy{attempts = 2, backoff = {initial = 0.5}}
    local q = p:extend{backoff = {max = 3}}
    assert.equal(2, q.attempts)
    assert.same({initial = 0.5, max = 3}, q.backoff)
    assert.same({initial = 0.5}, p.backoff)
  end)
end)

describe("a policy(fn) wrapper", function()
  it("decides from the inner call's outcome, not its error's fields",
     function()
    local srv <close> = todo.start{"--reset-rate", "1"}
    local wrapped = retry.policy{attempts = 3, backoff = FAST}(function()
      local ok, err = pcall(http.post, srv.url .. "/items",
        {headers = AUTH, json = {summary = "s", description = "d"}})
      -- a script rewrites the error to look like a refused GET
      err.attempts[1].error, err.attempts[1].sent = "connect", false
      err.request.method, err.retry_after, err.reason = "GET", 0, "x"
      error(err)
    end)
    local ok, err = pcall(wrapped)
    assert.is_false(ok)
    assert.equal("unsafe", err.reason)
    assert.equal(1, #err.attempts)
    assert.equal("reset", err.attempts[1].error)
    assert.equal(1, srv:stats().requests)
  end)
end)

describe("a policy(fn) wrapper judging a value, not a Response", function()
  it("retries the function under valid(), claiming no method", function()
    local runs = 0
    local wrapped = retry.policy{attempts = 3, backoff = FAST,
      valid = function(v) return v.ready end}(function()
        runs = runs + 1
        return {ready = false}
      end)
    local ok, err = pcall(wrapped)
    assert.is_false(ok)
    assert.equal(3, runs)
    assert.equal("exhausted", err.reason)
    assert.is_nil(err.request.method)
  end)
end)

describe("a policy's guarantees against a script's tricks", function()
  it("reads the fields it is given raw, once", function()
    local p = retry.policy(setmetatable({}, {__index = {attempts = 5}}))
    assert.equal("retryrun.Policy (attempts 4)", tostring(p))
    assert.is_nil(p.attempts)
    local q = p:extend(setmetatable({}, {__pairs = function()
      return next, {attempts = 9}
    end}))
    assert.equal("retryrun.Policy (attempts 4)", tostring(q))
  end)

  it("keeps its metatable and its fields out of reach", function()
    local p = retry.policy{attempts = 2}
    assert.equal("retryrun.Policy", getmetatable(p))
    retry.Policy.attempts = 99       -- a method by a field's name
    assert.equal(2, p.attempts)
    assert.is_nil(retry.default.attempts)
    retry.Policy.attempts = nil
  end)

  it("names a wrong self at the script's line", function()
    local ok, err = pcall(function() retry.Policy.extend({}, {}) end)
    assert.is_false(ok)
    assert.matches("^spec/retry_spec.lua:%d+: bad argument #1 to 'extend' "
                   .. "%(retryrun.Policy expected, got table%)$", err)
  end)

  -- the debug library can give any userdata a type's metatable: one of
  -- another size is not read as that type (it was, past its end)
  it("takes no other userdata dressed as a Policy or a task", function()
    local forged = io.tmpfile()
    local file_mt = debug.getmetatable(forged)
    debug.setmetatable(forged, debug.getmetatable(retry.default))
    local not_policy = "retry= takes a policy, a table of policy fields or "
                       .. "false (got userdata)"
    assert.has_error(function()
      http.get("http://127.0.0.1:9/", {retry = forged})
    end, not_policy)
    assert.has_error(function()
      http.request{url = "http://127.0.0.1:9/", retry = forged}
    end, not_policy)
    assert.is_false(retry.is_policy(forged))
    assert.has_error(function() forged:get("http://127.0.0.1:9/") end,
                     "bad policy (make one with retry.policy{...})")
    local task = run.spawn(function() end)
    debug.setmetatable(forged, debug.getmetatable(task))
    local ok, err = pcall(function() forged:wait() end)
    assert.is_false(ok)
    assert.matches("retryrun%.Task expected", err)
    debug.setmetatable(forged, file_mt)
    forged:close()
  end)

  it("frees nothing of a userdata dressed as its private types", function()
    http.redact("http://u:p@h/")        -- the Box type exists from here
    local box_mt = debug.getregistry()["retryrun.Box"]
    debug.setmetatable(retry.policy{attempts = 3}, box_mt)
    collectgarbage()
    collectgarbage()                    -- a Box's __gc freed its bytes
    local _, err = pcall(http.get, "http://127.0.0.1:9/", {retry = false})
    local records
    for _, v in pairs(debug.getregistry()) do
      if type(v) == "table" and type(rawget(v, err)) == "userdata" then
        records = v
      end
    end
    local fake = retry.policy{attempts = 2}
    debug.setmetatable(fake, debug.getmetatable(rawget(records, err)))
    rawset(records, err, fake)
    local ok, again = pcall(retry.policy{attempts = 2,
      backoff = {initial = 0.001}}(function() error(err) end))
    assert.is_false(ok)
    assert.equal(err, again)
  end)

  it("draws the wait of a huge retry number as of a large one", function()
    local p = retry.policy{backoff = {jitter = "none", max = 10}}
    assert.equal(10, p:delay(2^31))
    assert.equal(10, p:delay(2^32 + 3))
  end)
end)

describe("a give-up's record", function()
  it("is no field of the error, and a lookalike has none", function()
    local srv <close> = todo.start{"--reset-rate", "1"}
    local runs = 0
    local wrapped = retry.policy{attempts = 3, backoff = FAST}(function()
      runs = runs + 1
      local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH})
      for k in pairs(err) do
        assert.is_string(k)          -- nothing hidden under another key
        if k ~= "message" then err[k] = nil end
      end
      error(err)
    end)
    local ok, err = pcall(wrapped)
    assert.is_false(ok)
    assert.equal(3, runs)            -- resets: retried on the record
    local fake = setmetatable({message = "x"}, core.GiveUp)
    runs = 0
    ok, err = pcall(retry.policy{attempts = 3, backoff = FAST}(function()
      runs = runs + 1
      error(fake)
    end))
    assert.is_false(ok)
    assert.equal(1, runs)            -- not retryrun's: an error, passed on
    assert.equal(fake, err)
  end)
end)
