-- todo-server's fault flags: each one happens at about its rate over a few
-- hundred requests (bounds of 4 standard deviations or more, seeded, so a
-- failure reproduces), /_stats counts exactly the faults that clients saw,
-- and the same --seed gives the same faults.

local todo = require "spec.support.todo"

local ALICE = "alice-secret"

--- n copies of a request.
local function times(n, req)
  local list = {}
  for i = 1, n do list[i] = req end
  return list
end

local function count(results, pred)
  local n = 0
  for _, r in ipairs(results) do
    if pred(r) then n = n + 1 end
  end
  return n
end

local function status_is(code)
  return function(r) return r.status == code end
end

--- Asserts that stats counted `n` faults `name`, and none of any other.
local function only_fault(stats, name, n)
  assert.equal(n, stats.faults[name], "faults." .. name)
  for k, got in pairs(stats.faults) do
    if k ~= name then assert.equal(0, got, "faults." .. k) end
  end
end

local function within(lo, n, hi)
  assert.is_true(n >= lo and n <= hi, ("%d is not in [%d, %d]"):format(n, lo, hi))
end

local function stop_ok(srv)
  assert.same({true, "exit", 0}, {srv:stop()})
end

local function post_item(summary)
  return {method = "POST", path = "/items", token = ALICE,
          json = ('{"summary":"%s","description":"d"}'):format(summary)}
end

describe("todo-server faults", function()

  describe("--fail-rate", function()
    it("answers 500 at about its rate, and counts each", function()
      local srv <close> = todo.start{"--fail-rate", "0.2", "--seed", "7"}
      local res = srv:batch(times(500, {path = "/items", token = ALICE}), {parallel = 8})
      local failed = count(res, status_is(500))
      assert.equal(500 - failed, count(res, status_is(200)))
      within(60, failed, 140)
      local s = srv:stats()
      only_fault(s, "fail", failed)
      assert.equal(500, s.requests)
      stop_ok(srv)
    end)

    it("answers --fail-status with a JSON error", function()
      local srv <close> = todo.start{"--fail-rate", "1", "--fail-status", "503"}
      local res = srv:batch(times(10, {path = "/items", token = ALICE}))
      for _, r in ipairs(res) do
        assert.equal(503, r.status)
        assert.equal('{"error":"injected failure"}', r.body)
      end
      assert.equal(10, srv:stats().faults.fail)
      stop_ok(srv)
    end)
  end)

  describe("--missing-field-rate", function()
    local srv, id

    setup(function()
      srv = todo.start{"--missing-field-rate", "0.25", "--seed", "11"}
      id = srv:request("POST", "/items", post_item("keep me")).json.id
      srv:request("POST", "/items", post_item("and me"))
    end)
    teardown(function() srv:stop() end)

    it("leaves summary out of GET /items/<id> at about its rate", function()
      srv:reset_stats()
      local res = srv:batch(times(300, {path = "/items/" .. id, token = ALICE}))
      local missing = 0
      for _, r in ipairs(res) do
        assert.equal(200, r.status)
        local item = todo.decode(r.body)
        assert.equal(id, item.id)
        assert.equal("d", item.description)
        if item.summary == nil then missing = missing + 1
        else assert.equal("keep me", item.summary) end
      end
      within(40, missing, 110)
      only_fault(srv:stats(), "missing_field", missing)
    end)

    it("leaves summary out of every item of GET /items at about its rate", function()
      srv:reset_stats()
      local res = srv:batch(times(200, {path = "/items", token = ALICE}))
      local missing = 0
      for _, r in ipairs(res) do
        assert.equal(200, r.status)
        local list = todo.decode(r.body)
        assert.equal(2, #list)
        local absent = count(list, function(it) return it.summary == nil end)
        assert.is_true(absent == 0 or absent == 2)
        if absent == 2 then missing = missing + 1 end
      end
      within(22, missing, 80)
      assert.equal(missing, srv:stats().faults.missing_field)
    end)

    it("leaves access_token out of POST /token at about its rate", function()
      srv:reset_stats()
      local res = srv:batch(times(200, {method = "POST", path = "/token",
        json = '{"user":"alice","secret":"alice-secret"}'}))
      local missing = 0
      for _, r in ipairs(res) do
        assert.equal(200, r.status)
        local body = todo.decode(r.body)
        assert.equal(3600, body.expires_in)
        if body.access_token == nil then missing = missing + 1 end
      end
      within(22, missing, 80)
      assert.equal(missing, srv:stats().faults.missing_field)
    end)

    it("never touches an error or an empty list", function()
      srv:reset_stats()
      for _, r in ipairs(srv:batch(times(50, {path = "/items/999", token = ALICE}))) do
        assert.equal(404, r.status)
      end
      for _, r in ipairs(srv:batch(times(50, {path = "/items", token = "bob-secret"}))) do
        assert.equal(200, r.status)
        assert.equal("[]", r.body)
      end
      assert.equal(0, srv:stats().faults.missing_field)
    end)
  end)

  describe("--spurious-401-rate", function()
    it("answers 401 to valid credentials at about its rate", function()
      local srv <close> = todo.start{"--spurious-401-rate", "0.2", "--seed", "5"}
      local res = srv:batch(times(400, {path = "/items", token = ALICE}), {parallel = 8})
      local refused = count(res, status_is(401))
      assert.equal(400 - refused, count(res, status_is(200)))
      within(48, refused, 112)
      only_fault(srv:stats(), "spurious_401", refused)
      stop_ok(srv)
    end)
  end)

  describe("--lag", function()
    it("hides a new item from GET /items/<id> for that long, counting each 404", function()
      local srv <close> = todo.start{"--lag", "700"}
      local reqs = {}
      for i = 1, 5 do reqs[i] = post_item("lagging " .. i) end
      for i = 1, 5 do reqs[5 + i] = {path = "/items/" .. i, token = ALICE} end
      reqs[11] = {path = "/items", token = ALICE}
      local t0 = todo.now()
      local res = srv:batch(reqs)
      assert.is_true(todo.now() - t0 < 0.6, "the batch was too slow to test --lag")
      for i = 1, 5 do
        assert.equal(201, res[i].status)
        assert.equal(404, res[5 + i].status)
        assert.equal(("{\"error\":\"no such item: %d\"}"):format(i), res[5 + i].body)
      end
      assert.equal(5, #todo.decode(res[11].body), "GET /items lists them at once")
      assert.equal(5, srv:stats().faults.lag_404)
      todo.sleep(0.75 - (todo.now() - t0))
      for i, r in ipairs(srv:batch(times(5, {path = "/items/1", token = ALICE}))) do
        assert.equal(200, r.status, "request " .. i)
      end
      only_fault(srv:stats(), "lag_404", 5)
      stop_ok(srv)
    end)
  end)

  describe("--reset-rate", function()
    it("closes the connection without a response at about its rate", function()
      local srv <close> = todo.start{"--reset-rate", "0.2", "--seed", "3"}
      -- a new connection each: curl would silently re-send a request
      -- whose reused connection was closed
      local res = srv:batch(times(400, {path = "/items", token = ALICE}),
                            {parallel = 8, close = true})
      local reset = count(res, function(r) return r.status == 0 and r.exit == 52 end)
      assert.equal(400 - reset, count(res, status_is(200)))
      within(48, reset, 112)
      local s = srv:stats()
      only_fault(s, "reset", reset)
      assert.equal(400, s.requests)
      stop_ok(srv)
    end)
  end)

  describe("--slow-rate", function()
    it("delays responses by --slow-ms at about its rate", function()
      local srv <close> = todo.start{"--slow-rate", "0.1", "--slow-ms", "600", "--seed", "9"}
      local res = srv:batch(times(200, {path = "/items", token = ALICE}), {parallel = 32})
      assert.equal(200, count(res, status_is(200)))
      -- far apart: a fast answer takes milliseconds, a slow one 0.6 s
      local slow = count(res, function(r) return r.time >= 0.55 end)
      within(6, slow, 40)
      only_fault(srv:stats(), "slow", slow)
      stop_ok(srv)
    end)

    it("holds up only its own connection", function()
      local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "500"}
      local t0 = todo.now()
      local res = srv:batch(times(16, {path = "/items", token = ALICE}), {parallel = 16})
      local elapsed = todo.now() - t0
      for _, r in ipairs(res) do
        assert.equal(200, r.status)
        assert.is_true(r.time >= 0.49, r.time)
      end
      assert.is_true(elapsed < 2.5, ("16 slow requests took %.2f s"):format(elapsed))
      assert.equal(16, srv:stats().faults.slow)
      stop_ok(srv)
    end)
  end)

  describe("a stop", function()
    it("is not held up by delayed responses", function()
      local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "10000"}
      local urls = (" %s/items"):format(srv.url):rep(8)
      os.execute(("curl -s -Z --parallel-immediate -m 20 -H 'Authorization: Bearer %s'%s >/dev/null 2>&1 &")
                 :format(ALICE, urls))
      local parked = 0
      for _ = 1, 100 do
        parked = srv:stats().faults.slow
        if parked == 8 then break end
        todo.sleep(0.05)
      end
      assert.equal(8, parked)
      local t0 = todo.now()
      assert.same({true, "exit", 0}, {srv:stop()})
      assert.is_true(todo.now() - t0 < 2, "the stop waited for the delays")
    end)
  end)

  describe("--throttle-rate", function()
    it("answers 429 with Retry-After at about its rate", function()
      local srv <close> = todo.start{"--throttle-rate", "0.2", "--retry-after", "7", "--seed", "13"}
      local res = srv:batch(times(400, {path = "/items", token = ALICE}), {parallel = 8})
      local throttled = 0
      for _, r in ipairs(res) do
        if r.status == 429 then
          throttled = throttled + 1
          assert.equal("7", r.headers["retry-after"])
        else
          assert.equal(200, r.status)
          assert.is_nil(r.headers["retry-after"])
        end
      end
      within(48, throttled, 112)
      only_fault(srv:stats(), "throttle", throttled)
      stop_ok(srv)
    end)
  end)

  describe("--retry-after-date", function()
    local MONTHS = {Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7,
                    Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12}

    --- Seconds of an IMF-fixdate, on a clock whose zero does not matter.
    local function seconds(date)
      local d, mon, y, h, m, sec =
        date:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
      assert.is_truthy(d, "not an HTTP date: " .. tostring(date))
      return os.time{year = tonumber(y), month = MONTHS[mon], day = tonumber(d),
                     hour = tonumber(h), min = tonumber(m), sec = tonumber(sec)}
    end

    it("sends Retry-After as the HTTP date that many seconds ahead", function()
      local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after", "30",
                                     "--retry-after-date"}
      local r = srv:request("GET", "/items", {token = ALICE})
      assert.equal(429, r.status)
      local ahead = seconds(r.headers["retry-after"]) - seconds(r.headers.date)
      assert.is_true(ahead == 30 or ahead == 29, "ahead " .. ahead)
      stop_ok(srv)
    end)

    it("does so for an outage too", function()
      local srv <close> = todo.start{"--outage", "0:100", "--retry-after-date"}
      local r = srv:request("GET", "/items", {token = ALICE})
      assert.equal(503, r.status)
      local ahead = seconds(r.headers["retry-after"]) - seconds(r.headers.date)
      assert.is_true(ahead >= 98 and ahead <= 100, "ahead " .. ahead)
      stop_ok(srv)
    end)
  end)

  describe("--lose-response-rate", function()
    it("commits a POST, then drops the connection, at about its rate", function()
      local srv <close> = todo.start{"--lose-response-rate", "0.3", "--seed", "17"}
      local reqs = {}
      for i = 1, 200 do reqs[i] = post_item("lost " .. i) end
      local res = srv:batch(reqs, {parallel = 8, close = true})
      local lost = count(res, function(r) return r.status == 0 and r.exit == 52 end)
      assert.equal(200 - lost, count(res, status_is(201)))
      within(30, lost, 90)
      local s = srv:stats()
      only_fault(s, "lose_response", lost)
      assert.equal(200, s.items_created, "every POST committed")
      assert.equal(200, #srv:request("GET", "/items", {token = ALICE}).json)
      stop_ok(srv)
    end)

    it("never drops a GET, nor a replay: a retry with the same key gets the item", function()
      local srv <close> = todo.start{"--lose-response-rate", "0.5", "--seed", "5"}
      assert.equal(50, count(srv:batch(times(50, {path = "/items", token = ALICE})),
                             status_is(200)))
      local req = post_item("exactly once")
      req.headers, req.close = {"Idempotency-Key: once"}, true
      local res = srv:batch(times(20, req))
      assert.equal(0, res[1].status, "seed 5 loses the first answer")
      for i = 2, 20 do
        assert.equal(201, res[i].status)
        assert.equal(res[2].body, res[i].body)
      end
      local s = srv:stats()
      assert.equal(1, s.items_created)
      assert.equal(1, s.faults.lose_response)
      assert.equal(19, s.idempotent_replays)
      stop_ok(srv)
    end)
  end)

  describe("--outage", function()
    it("answers 503 inside the window only, with the seconds left", function()
      local srv <close> = todo.start{"--outage", "0.6:0.6"}
      local t0 = todo.now()
      local get = {path = "/items", token = ALICE}
      local before = srv:batch(times(5, get))
      assert.is_true(todo.now() - t0 < 0.5, "too slow to test --outage")
      todo.sleep(0.7 - (todo.now() - t0))
      local during = srv:batch(times(5, get))
      assert.is_true(todo.now() - t0 < 1.15, "too slow to test --outage")
      todo.sleep(1.3 - (todo.now() - t0))
      local after = srv:batch(times(5, get))
      for i = 1, 5 do
        assert.equal(200, before[i].status)
        assert.equal(503, during[i].status)
        assert.equal("1", during[i].headers["retry-after"])
        assert.equal('{"error":"service unavailable (outage)"}', during[i].body)
        assert.equal(200, after[i].status)
      end
      only_fault(srv:stats(), "outage", 5)
      stop_ok(srv)
    end)

    it("sends Retry-After as the whole seconds left, rounded up", function()
      local srv <close> = todo.start{"--outage", "0:3"}
      local r = srv:request("GET", "/items", {token = ALICE})
      assert.equal(503, r.status)
      assert.equal("3", r.headers["retry-after"])
      assert.equal(1, srv:stats().faults.outage)
      stop_ok(srv)
    end)
  end)

  describe("--seed", function()
    local FLAGS = {"--fail-rate", "0.1", "--throttle-rate", "0.1",
                   "--spurious-401-rate", "0.1", "--missing-field-rate", "0.3",
                   "--reset-rate", "0.05", "--lose-response-rate", "0.1"}

    --- The faults seed meets in 200 requests, one string per request.
    local function trace(seed)
      local flags = {table.unpack(FLAGS)}
      flags[#flags + 1], flags[#flags + 2] = "--seed", tostring(seed)
      local srv <close> = todo.start(flags)
      local reqs = {}
      for i = 1, 200 do
        reqs[i] = i % 3 == 0 and post_item("seeded " .. i)
                  or {path = "/items/1", token = ALICE}
      end
      local out = {}
      for i, r in ipairs(srv:batch(reqs, {close = true})) do
        local ok, body = pcall(todo.decode, r.body)
        out[i] = r.status .. ((ok and r.status == 200 and body.summary == nil)
                              and " missing" or "")
      end
      local stats = srv:stats()
      stop_ok(srv)
      return out, stats.faults
    end

    it("gives the same faults for the same seed, other faults for another", function()
      local a, fa = trace(42)
      local b, fb = trace(42)
      local c = trace(43)
      assert.same(a, b)
      assert.same(fa, fb)
      assert.are_not.same(a, c)
      local kinds = {}
      for _, t in ipairs(a) do kinds[t] = true end
      for _, want in ipairs({"0", "200", "200 missing", "201", "401", "429", "500"}) do
        assert.is_true(kinds[want], "no '" .. want .. "' in the trace")
      end
    end)
  end)
end)
