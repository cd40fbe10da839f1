-- Hard cases for the engine and the scheduler: each once crashed, hung or
-- lost work. Against todo-server on loopback.
local http = require "retryrun.http"
local run = require "retryrun.run"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH

describe("the give-up message", function()
  it("is built whatever the URL's length and the attempts' number",
     function()
    local url = "http://127.0.0.1:1/" .. ("x"):rep(1100)
    -- 200 attempts: waits of 0.1 ms each, shorter than common.FAST's;
    -- more retries than a host's budget pays for, so without one
    local ok, err = pcall(http.get, url, {retry = {attempts = 200,
      budget = false, backoff = {initial = 0.0001, factor = 1,
      max = 0.0001}}})
    assert.is_false(ok)
    assert.equal(200, #err.attempts)
    assert.matches("gave up after 200 attempts", err.message)
    local _, n = err.message:gsub("connect", "")
    assert.is_true(n >= 200)
  end)
end)

describe("a call where no task can wait", function()
  it("raises a clear error inside table.sort, and later calls work",
     function()
    local srv <close> = todo.start{}
    local ok, err = pcall(table.sort, {1, 2, 3}, function(a, b)
      http.get(srv.url .. "/items", {headers = AUTH})
      return a < b
    end)
    assert.is_false(ok)
    assert.matches("an HTTP call cannot wait here", err)
    assert.equal(200, http.get(srv.url .. "/items", {headers = AUTH}).status)
    assert.equal(1, srv:stats().requests)
  end)

  it("raises a clear error from run.sleep inside string.gsub", function()
    local ok, err = pcall(string.gsub, "ab", ".", function()
      run.sleep(0.01)
    end)
    assert.is_false(ok)
    assert.matches("sleep%(%) cannot wait here", err)
  end)
end)

describe("headers", function()
  it("refuses a list instead of a table of name = value", function()
    local ok, err = pcall(http.get, "http://127.0.0.1:1/",
                          {headers = {"Accept: x"}})
    assert.is_false(ok)
    assert.matches("headers must be a table of name = value %(got a " ..
                   "number key%)", err)
  end)
end)

describe("the slot queue", function()
  after_each(common.restore_limits)

  it("hands a slot on when the task it was handed to is cancelled",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "100"}
    run.limits{connections = 1}
    local get = function()
      return http.get(srv.url .. "/items", {headers = AUTH}).status
    end
    local a = run.spawn(get)
    local b = run.spawn(get)
    local c = run.spawn(get)
    run.sleep(0.01)            -- a runs, b and c wait in line
    b:cancel()
    assert.equal(200, a:wait())
    assert.is_false(pcall(b.wait, b))
    assert.equal(200, c:wait())
  end)

  it("serves the line first come, first served", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "20"}
    run.limits{connections = 1}
    local order = {}
    local busy = run.spawn(function()
      for i = 1, 5 do
        http.get(srv.url .. "/items", {headers = AUTH})
        order[#order + 1] = "a" .. i
      end
    end)
    local other = run.spawn(function()
      run.sleep(0.005)
      http.get(srv.url .. "/items", {headers = AUTH})
      order[#order + 1] = "b"
    end)
    busy:wait()
    other:wait()
    -- b joined the line during a1, so it goes before a2
    assert.equal("a1 b a2 a3 a4 a5", table.concat(order, " "))
  end)

  it("gives up when the deadline passes in line", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "1500"}
    run.limits{connections = 1}
    local first = run.spawn(function()
      return pcall(http.get, srv.url .. "/items", {headers = AUTH})
    end)
    run.sleep(0.01)
    local t0 = run.now()
    local ok, err = pcall(http.get, srv.url .. "/items", {headers = AUTH,
                                                          retry = {deadline = 0.3}})
    local took = run.now() - t0
    first:wait()
    assert.is_false(ok)
    assert.equal("deadline", err.reason)
    assert.is_true(took < 0.6, "took " .. took)
  end)
end)

describe("cancelling a task that runs run.map", function()
  it("raises in it and stops its workers", function()
    local finished = 0
    local h = run.spawn(function()
      return run.map({1, 2, 3}, function()
        run.sleep(2)
        finished = finished + 1
      end)
    end)
    run.sleep(0.02)
    h:cancel()
    local ok, err = pcall(h.wait, h)
    run.sleep(0.02)
    assert.is_false(ok)
    assert.matches("cancelled", err)
    assert.equal(0, finished)
  end)
end)

describe("a coroutine that waits on the loop", function()
  it("cannot be resumed by another task meanwhile", function()
    local co = coroutine.create(function()
      run.sleep(0.05)
      return "done"
    end)
    local owner = run.spawn(function() return coroutine.resume(co) end)
    run.sleep(0.01)
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.equal("cannot resume a coroutine that waits on an HTTP call " ..
                 "or a sleep", err)
    assert.same({true, "done"}, {owner:wait()})
  end)
end)
