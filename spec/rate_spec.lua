-- Client-side rate limits: run.limits{rate = ...} against todo-server,
-- counted from its /_stats. Times are asserted as lower bounds only: a
-- rate limit can only make a run slower than its arithmetic, never faster,
-- however busy the machine is.
local common = require "spec.support.common"
local http = require "retryrun.http"
local run = require "retryrun.run"
local todo = require "spec.support.todo"

--- Makes n GETs of url/_stats at once; returns the seconds they took.
local function burst_of(url, n)
  local list = {}
  for i = 1, n do list[i] = i end
  local t0 = run.now()
  run.map(list, function()
    return http.get(url .. "/_echo", {retry = false}).status
  end)
  return run.now() - t0
end

describe("run.limits{rate}", function()
  after_each(function() run.limits{rate = false} end)

  it("holds 50/s over 5 s", function()
    local srv <close> = todo.start{}
    run.limits{rate = {["127.0.0.1"] = "50/s"}}
    -- 250 requests at 50/s: the last may go 249 / 50 = 4.98 s after the
    -- first, and not before
    local took = burst_of(srv.url, 250)
    assert.is_true(took >= 4.9, ("250 requests in %.2f s"):format(took))
    assert.equal(250, srv:stats().requests)
  end)

  it("lets a burst go at once, then one request an interval", function()
    local srv <close> = todo.start{}
    run.limits{rate = "2/s burst 5"}
    local took = burst_of(srv.url, 7)
    -- five at once, the sixth 0.5 s later, the seventh 1 s later
    assert.is_true(took >= 0.99, ("7 requests in %.2f s"):format(took))
    assert.equal(7, srv:stats().requests)
  end)

  it("gives up at once, reason deadline, when the turn is past it",
     function()
    local srv <close> = todo.start{}
    run.limits{rate = "1/min"}
    assert.equal(200, http.get(srv.url .. "/_echo").status)
    local ok, err = pcall(http.get, srv.url .. "/_echo",
                          {retry = {deadline = 1}})
    assert.is_false(ok)
    assert.equal("deadline", err.reason)
    assert.equal(0, #err.attempts)
    assert.equal(1, srv:stats().requests)
  end)

  it("waits on the loop's timers, which a fake clock skips", function()
    local srv <close> = todo.start{}
    local path = common.write_script([[
      local http, run = require "retryrun.http", require "retryrun.run"
      run.limits{rate = "2/min"}
      local t0 = run.now()
      for _ = 1, 3 do http.get(arg[1] .. "/_echo") end
      print(("took %.1f"):format(run.now() - t0))
    ]])
    -- a minute of waits: a wait outside the loop's timers would hang
    -- here until `timeout` killed it
    local code, out = common.sh(("timeout 20 %s --fake-clock %s %s"):format(
      common.quote(common.BIN), path, srv.url))
    os.remove(path)
    assert.equal(0, code, out)
    assert.is_true(tonumber(out:match("took ([%d.]+)")) >= 60, out)
    assert.equal(3, srv:stats().requests)
  end)

  it("matches an origin before host:port, a host and \"*\"", function()
    run.limits{rate = {["*"] = "5/s", ["127.0.0.1"] = "10/s",
                       ["127.0.0.1:8080"] = "20/s",
                       ["http://127.0.0.1:8080"] = "30/min",
                       ["HTTPS://Example.COM"] = "40/s"}}
    assert.equal(0.5, run.rate("http://127.0.0.1:8080/items"))
    assert.equal(20, run.rate("https://127.0.0.1:8080/items"))
    assert.equal(10, run.rate("http://127.0.0.1:9/"))
    assert.equal(40, run.rate("https://user@example.com/a?b"))
    assert.equal(5, run.rate("http://example.com/"))
    run.limits{rate = false}
    assert.is_nil(run.rate("http://127.0.0.1:8080/items"))
  end)

  it("refuses a malformed rate or key, changing nothing", function()
    run.limits{rate = "7/s"}
    for _, case in ipairs{
      {"50/x", "bad rate '50/x': write N/s, N/min or N/h, optionally "
        .. "followed by ' burst B' (\"50/s\", \"3000/min burst 100\"), or "
        .. "\"adaptive\""},
      {"-5/s", "bad rate '-5/s'"},
      {"0/s", "rate '0/s' must be more than 0"},
      {"5/s burst 0", "the burst in rate '5/s burst 0' must be from 1"},
      {{["a b"] = "5/s"}, "bad rate key 'a b'"},
      {{["h:99999"] = "5/s"}, "bad rate key 'h:99999'"},
      {{["http://h/path"] = "5/s"}, "bad rate key 'http://h/path'"},
      {{h = 5}, "rate for 'h' must be a string such as \"50/s\" (got "
        .. "number)"},
      {7, "rate must be a rate such as \"50/s\""},
    } do
      local ok, err = pcall(run.limits, {rate = case[1], per_host = 3})
      assert.is_false(ok)
      assert.matches("limits' (" .. case[2], err, 1,
                     true)
    end
    assert.equal(7, run.rate("http://h/"))
  end)
end)

describe("run.limits{rate = \"adaptive\"}", function()
  after_each(function() run.limits{rate = false} end)

  --- GETs url one at a time until a 429, checking that no limit holds
  -- before it; returns the rate they were sent at.
  local function until_429(url)
    local n, t0, status = 0, run.now(), nil
    repeat
      assert.is_nil(run.rate(url))
      status = http.get(url, {retry = false}).status
      n = n + 1
    until status == 429
    return n / (run.now() - t0), n
  end

  it("sets no limit until a 429, then half the rate it sent at",
     function()
    local srv <close> = todo.start{"--throttle-rate", "0.05", "--seed", "3"}
    local other <close> = todo.start{}
    run.limits{rate = "adaptive"}
    local sent, n = until_429(srv.url .. "/_echo")
    assert.is_true(n > 5, n .. " requests")
    local r = assert(run.rate(srv.url))
    assert.is_true(r >= 1 and r <= sent * 0.75,
                   ("%g a second after %g"):format(r, sent))
    -- "*" keeps one limit a host: the other server has none
    assert.equal(200, http.get(other.url .. "/_stats").status)
    assert.is_nil(run.rate(other.url))
    -- then it grows back, a tenth of itself each second
    run.sleep(0.2)
    local later = run.rate(srv.url)
    assert.is_true(later > r, ("%g, then %g"):format(r, later))
  end)

  it("makes the requests after a 429 wait their turn", function()
    local srv <close> = todo.start{"--throttle-rate", "0.05", "--seed", "3"}
    run.limits{rate = "adaptive"}
    until_429(srv.url .. "/_echo")
    local r = assert(run.rate(srv.url))
    -- a 429 of a request sent at the lowered rate lowers it again, and it
    -- grows by a tenth a second: ten requests take at least nine intervals
    -- of 1.1 r
    local took = burst_of(srv.url, 10)
    assert.is_true(took >= 9 / (1.1 * r), ("10 requests in %.3f s at %g/s")
                   :format(took, r))
  end)
end)

describe("retryrun -v and the summary", function()
  it("say when a request waited for a rate limit, and for how long",
     function()
    local srv <close> = todo.start{}
    local path = common.write_script([[
      local http, run = require "retryrun.http", require "retryrun.run"
      run.limits{rate = "20/s"}
      run.map({1, 2, 3}, function() return http.get(arg[1]).status end)
    ]])
    local code, out = common.sh(("%s -v --summary %s %s"):format(
      common.quote(common.BIN), path, srv.url .. "/_stats"))
    os.remove(path)
    assert.equal(0, code)
    assert.equal(2, common.count(out,
      "  200  %d+ ms  after 0%.%d%d%d s for the rate limit  accept\n"))
    assert.matches("\n  rate limits: 2 requests waited 0%.1%d s in all; "
                   .. "adaptive rates lowered 0 times\n", out)
  end)

  it("say when an adaptive rate was lowered, and how often", function()
    local srv <close> = todo.start{"--throttle-rate", "1"}
    local path = common.write_script([[
      local http, run = require "retryrun.http", require "retryrun.run"
      run.limits{rate = "adaptive"}
      for _ = 1, 2 do http.get(arg[1], {retry = false}) end
    ]])
    local code, out = common.sh(("%s -v --summary %s %s"):format(
      common.quote(common.BIN), path, srv.url .. "/_echo"))
    os.remove(path)
    assert.equal(0, code)
    assert.equal(2, common.count(out, "%] rate limit  " .. srv.url:gsub("%p",
      "%%%0") .. "  lowered to [%d.]+/s after a 429 %(task 1%)\n"))
    assert.matches("\n  rate limits: 0 requests waited 0%.00 s in all; "
                   .. "adaptive rates lowered 2 times\n", out)
  end)
end)
