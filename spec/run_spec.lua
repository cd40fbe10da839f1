-- retryrun.run: many tasks on one loop, against todo-server.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH
local FAST = common.FAST

describe("run.spawn()", function()
  it("runs a task and wait() returns its results", function()
    local h = run.spawn(function(a, b) return a + b, "x" end, 2, 3)
    local sum, x = h:wait()
    assert.equal(5, sum)
    assert.equal("x", x)
    assert.equal("done", h:status())
  end)

  -- it had the task's traceback appended (a table error gained a
  -- traceback field): the host prints that only when nothing waits
  it("raises the task's error from wait() as the task raised it",
     function()
    local h = run.spawn(function() error("broken task", 0) end)
    local ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.equal("broken task", err)
    assert.equal("failed", h:status())
    local t = {code = 7}
    h = run.spawn(function() error(t) end)
    ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.equal(t, err)
    assert.is_nil(t.traceback)
  end)

  it("lets tasks sleep at once, not in turn", function()
    local t0 = run.now()
    local hs = {}
    for i = 1, 50 do
      hs[i] = run.spawn(function() run.sleep(0.2); return i end)
    end
    for i = 1, 50 do assert.equal(i, hs[i]:wait()) end
    local took = run.now() - t0
    assert.is_true(took >= 0.2 and took < 0.6, "took " .. took)
  end)

  it("cancels a task at its next wait, running on_giveup", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "3000"}
    local gave_up
    local h = run.spawn(function()
      return http.get(srv.url .. "/items", {headers = AUTH, retry = {
        on_giveup = function(err) gave_up = err end}})
    end)
    run.sleep(0.1)
    local t0 = run.now()
    h:cancel()
    local ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.equal("cancelled", err.reason)
    assert.equal(err, gave_up)
    assert.is_true(run.now() - t0 < 1)
  end)

  it("lets a finished task's coroutine go while its handle is kept",
     function()
    local seen = setmetatable({}, {__mode = "k"})
    local hs = {}
    for i = 1, 3 do
      hs[i] = run.spawn(function()
        seen[coroutine.running()] = true
        run.sleep(0.01)
        return i
      end)
    end
    for i = 1, 3 do assert.equal(i, hs[i]:wait()) end
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(seen))
    assert.equal(2, hs[2]:wait())
    assert.equal("done", hs[2]:status())
  end)

  it("refuses a task waiting on itself", function()
    local h
    h = run.spawn(function() return pcall(function() return h:wait() end) end)
    local ok, err = h:wait()
    assert.is_false(ok)
    assert.matches("a task cannot wait on itself", err)
  end)
end)

describe("run.map()", function()
  local srv
  setup(function()
    srv = todo.start{"--slow-rate", "0.5", "--slow-ms", "100",
                     "--fail-rate", "0.2", "--seed", "4"}
  end)
  teardown(function() srv:stop() end)

  local function fetch(n)
    local resp = http.get(srv.url .. "/items", {headers = AUTH,
      retry = {attempts = 10, backoff = {initial = 0.05, max = 0.1}}})
    return resp.status * 1000 + n
  end

  it("returns results in the order of the list", function()
    local list = {}
    for i = 1, 40 do list[i] = i end
    local res = run.map(list, fetch, {concurrency = 7})
    for i = 1, 40 do assert.equal(200000 + i, res[i]) end
  end)

  it("takes about the time of the slowest, not the sum", function()
    local list = {}
    for i = 1, 32 do list[i] = i end
    local t0 = run.now()
    run.map(list, fetch, {concurrency = 1})
    local serial = run.now() - t0
    t0 = run.now()
    run.map(list, fetch, {concurrency = 32})
    local parallel = run.now() - t0
    assert.is_true(parallel * 4 < serial,
                   ("parallel %.2f s, serial %.2f s"):format(parallel, serial))
  end)

  it("raises the first error after the others finished", function()
    local finished = 0
    local ok, err = pcall(run.map, {1, 2, 3, 4}, function(i)
      run.sleep(0.01 * i)
      if i == 2 then error("item 2 failed") end
      finished = finished + 1
    end)
    assert.is_false(ok)
    assert.matches("item 2 failed", err)
    assert.equal(3, finished)
  end)

  it("cancels the others when asked", function()
    local finished = 0
    local ok, err = pcall(run.map, {1, 2, 3}, function(i)
      if i == 1 then error("first failed") end
      run.sleep(5)
      finished = finished + 1
    end, {on_error = "cancel"})
    assert.is_false(ok)
    assert.matches("first failed", err)
    assert.equal(0, finished)
  end)

  it("refuses a bad option", function()
    assert.has_error(function() run.map({}, print, {concurency = 2}) end,
                     "unknown option 'concurency' (known: concurrency, on_error)")
  end)
end)

describe("run.all()", function()
  it("runs functions at once, results in order", function()
    local res = run.all{
      function() run.sleep(0.05); return "a" end,
      function() return "b" end,
    }
    assert.same({"a", "b"}, res)
  end)
end)

describe("limits", function()
  after_each(common.restore_limits)

  it("keeps connections to one host under the per-host cap", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "50"}
    run.limits{per_host = 4}
    local list = {}
    for i = 1, 40 do list[i] = i end
    run.map(list, function()
      return http.get(srv.url .. "/items", {headers = AUTH}).status
    end)
    local stats = srv:stats()
    assert.equal(40, stats.requests)
    -- the peak counts the connection that asked for /_stats as well
    local peak = stats.connections_peak - 1
    assert.is_true(peak <= 4, "peak " .. peak)
    assert.is_true(peak >= 2, "peak " .. peak)
  end)
end)

describe("the cap on transfers", function()
  after_each(common.restore_limits)

  it("keeps at most `connections` transfers in flight, the rest queued",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "30"}
    run.limits{connections = 3}
    local list = {}
    for i = 1, 30 do list[i] = i end
    local res = run.map(list, function(i)
      return http.get(srv.url .. "/items", {headers = AUTH}).status + i
    end)
    local stats = srv:stats()
    for i = 1, 30 do assert.equal(200 + i, res[i]) end
    local peak = stats.connections_peak - 1    -- less the /_stats call
    assert.is_true(peak <= 3 and peak >= 2, "peak " .. peak)
  end)

  it("cancels a task that waits for a slot", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "2000"}
    run.limits{connections = 1}
    local first = run.spawn(function()
      return pcall(http.get, srv.url .. "/items", {headers = AUTH})
    end)
    local queued = run.spawn(function()
      return http.get(srv.url .. "/items", {headers = AUTH})
    end)
    run.sleep(0.05)
    queued:cancel()
    first:cancel()
    local ok, err = pcall(queued.wait, queued)
    first:wait()
    assert.is_false(ok)
    assert.equal("cancelled", err.reason)
    assert.equal(0, #err.attempts)
  end)
end)

describe("scale", function()
  it("runs 10,000 tasks to the end with faults on", function()
    local srv <close> = todo.start{"--fail-rate", "0.01", "--seed", "10000"}
    local n, ok_count = 10000, 0
    local hs = {}
    for i = 1, n do
      hs[i] = run.spawn(function()
        return http.get(srv.url .. "/items", {headers = AUTH,
          retry = {backoff = FAST, attempts = 6}}).status
      end)
    end
    for i = 1, n do
      if hs[i]:wait() == 200 then ok_count = ok_count + 1 end
    end
    local stats = srv:stats()
    assert.equal(n, ok_count)
    assert.equal(n + stats.faults.fail, stats.requests)
  end)
end)

describe("coroutines in a script", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  it("keep their own yields apart from the loop's", function()
    local gen = coroutine.wrap(function()
      for _ = 1, 3 do
        local resp = http.get(srv.url .. "/items", {headers = AUTH})
        coroutine.yield(resp.status)
      end
      return "end"
    end)
    assert.same({200, 200, 200, "end"}, {gen(), gen(), gen(), gen()})
  end)

  it("resume() returns a coroutine's values after it waited", function()
    local co = coroutine.create(function(a)
      run.sleep(0.01)
      local b = coroutine.yield(a + 1)
      run.sleep(0.01)
      return b * 2
    end)
    assert.same({true, 2}, {coroutine.resume(co, 1)})
    assert.same({true, 10}, {coroutine.resume(co, 5)})
    assert.equal("dead", coroutine.status(co))
  end)

  it("report errors raised after a wait", function()
    local co = coroutine.create(function()
      run.sleep(0.01)
      error("after the wait")
    end)
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.matches("after the wait", err)
  end)
end)

describe("run.once()", function()
  it("runs fn once for the tasks that ask at once, all get its results",
     function()
    local runs = 0
    local function fetch()
      runs = runs + 1
      run.sleep(0.02)        -- the others ask while it runs
      return "tok-" .. runs, runs
    end
    local got = run.map({1, 2, 3, 4, 5, 6, 7, 8}, function()
      local tok, n = run.once("token", fetch)
      return tok .. "/" .. n
    end)
    assert.equal(1, runs)
    for i = 1, 8 do assert.equal("tok-1/1", got[i]) end
    -- over: the next call runs fn again
    assert.equal("tok-2", run.once("token", fetch))
    assert.equal(2, runs)
  end)

  it("raises fn's error, the same value, for every caller", function()
    local runs, raised = 0, {code = 7}
    local errs = run.map({1, 2, 3}, function()
      local ok, err = pcall(run.once, "k", function()
        runs = runs + 1
        run.sleep(0.01)
        error(raised)
      end)
      assert(not ok)
      return err
    end)
    assert.equal(1, runs)
    for i = 1, 3 do assert.equal(raised, errs[i]) end
  end)

  it("goes on for the others when the task that started it is cancelled",
     function()
    local runs = 0
    local function slow()
      runs = runs + 1
      run.sleep(0.02)
      return "done"
    end
    local first = run.spawn(run.once, "slow", slow)
    local second = run.spawn(run.once, "slow", slow)
    run.sleep(0.005)               -- both wait on the flight
    first:cancel()
    assert.has_error(function() first:wait() end)
    assert.equal("done", second:wait())
    assert.equal(1, runs)
  end)

  it("keeps keys apart, and refuses nil as a key", function()
    local a = run.once("a", function() return 1 end)
    local b = run.once("b", function() return 2 end)
    assert.equal(1, a)
    assert.equal(2, b)
    assert.has_error(function() run.once(nil, print) end,
      "bad argument #1 to 'once' (a key expected, got nil)")
  end)

  it("says so when fn asks for its own key, instead of a deadlock",
     function()
    local ok, err = pcall(run.once, "k", function()
      return run.once("k", function() return 1 end)
    end)
    assert.is_false(ok)
    assert.matches('once: fn asked for its own key "k" again', err)
    assert.is_nil(err:find("run.lua", 1, true))
  end)
end)

describe("run.lock()", function()
  it("lets one task at a time in, in the order they asked", function()
    local lock = run.lock()
    local inside, most, order = 0, 0, {}
    run.map({1, 2, 3, 4, 5}, function(i)
      lock:hold(function()
        inside = inside + 1
        most = math.max(most, inside)
        order[#order + 1] = i
        run.sleep(0.005)
        inside = inside - 1
      end)
    end)
    assert.equal(1, most)
    assert.same({1, 2, 3, 4, 5}, order)
  end)

  it("is released when fn raises, and hold() raises that error", function()
    local lock = run.lock()
    assert.has_error(function() lock:hold(error, "in the section", 0) end,
                     "in the section")
    assert.equal("ok", lock:hold(function() return "ok" end))
  end)

  it("refuses a second acquire and a release by another task", function()
    local lock = run.lock()
    lock:acquire()
    assert.has_error(function() lock:acquire() end,
                     "this task already holds the lock")
    local h = run.spawn(function() lock:release() end)
    local ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.matches("release%(%) of a lock this task does not hold", err)
    lock:release()
  end)

  it("drops a waiter that is cancelled from the line", function()
    local lock = run.lock()
    lock:acquire()
    local entered = {}
    local a = run.spawn(function() lock:hold(function() entered.a = 1 end) end)
    local b = run.spawn(function() lock:hold(function() entered.b = 1 end) end)
    run.sleep(0.01)                -- both wait in line
    a:cancel()
    assert.has_error(function() a:wait() end)
    lock:release()
    b:wait()
    assert.same({b = 1}, entered)
    assert.equal(1, lock:hold(function() return 1 end))
  end)
end)
