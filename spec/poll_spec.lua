-- http.poll against todo-server: --lag makes a new item 404 for a while,
-- so a poll sees "not ready" answers that are neither failures nor
-- retries; --fail-rate makes 500s that are retried inside a poll.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH

-- Creates an item for alice through any faults; returns its id.
local function create(srv, summary)
  return http.post(srv.url .. "/items", {headers = AUTH,
    json = {summary = summary or "polled"}, expect = 201,
    retry = {idempotency_key = true, attempts = 10, backoff = common.FAST},
  }):json().id
end

-- ready() for GET /items/<id>: a 404 is "not there yet".
local function visible(resp)
  if resp.status == 404 then return false end
  return resp.status == 200
end

-- Runs script (arg[1] is url) with the given retryrun options; returns the
-- exit code, what it printed, the summary JSON and the --log records.
local function observed(script, url, options)
  local json, log = os.tmpname(), os.tmpname()
  local path = common.write_script(script)
  local code, out = common.sh(("%s %s --summary-json %s --log %s %s %s")
    :format(common.quote(common.BIN), options or "", json, log,
            common.quote(path), common.quote(url)))
  local f = assert(io.open(json))
  local summary = todo.decode(f:read("a"))
  f:close()
  local records = {}
  for line in io.lines(log) do records[#records + 1] = todo.decode(line) end
  os.remove(path); os.remove(json); os.remove(log)
  return code, out, summary, records
end

-- The records of one event.
local function events(records, event)
  local list = {}
  for _, r in ipairs(records) do
    if r.event == event then list[#list + 1] = r end
  end
  return list
end

describe("http.poll()", function()
  it("polls through --lag until the item reads, then returns it", function()
    local srv <close> = todo.start{"--lag", "500"}
    local id = create(srv, "lagging")
    local resp = http.poll(srv.url .. "/items/" .. id, {headers = AUTH,
                           every = 0.05, ready = visible})
    assert.equal(200, resp.status)
    assert.equal("lagging", resp:json().summary)
    assert.is_true(resp.polls >= 2)
    -- every poll but the last saw the lag
    assert.equal(resp.polls - 1, srv:stats().faults.lag_404)
    assert.is_true(resp.poll_elapsed >= (resp.polls - 1) * 0.05)
    assert.equal(1, resp.attempts)
  end)

  it("counts polls apart from retries in --summary-json and --log",
     function()
    local srv <close> = todo.start{"--lag", "300", "--fail-rate", "0.4",
                                   "--seed", "9"}
    local code, out, s, records = observed([[
      local http = require "retryrun.http"
      local A = {Authorization = "Bearer alice-secret"}
      local id = http.post(arg[1] .. "/items", {headers = A,
        json = {summary = "s"}, expect = 201, retry = {idempotency_key =
        true, attempts = 10, backoff = {initial = 0.001}}}):json().id
      local resp = http.poll(arg[1] .. "/items/" .. id, {headers = A,
        every = 0.03, retry = {attempts = 10, backoff = {initial = 0.001}},
        ready = function(r) return r.status == 200 end})
      print(resp.polls)
    ]], srv.url, "-q")
    assert.equal(0, code, out)
    local polls = math.tointeger(tonumber(out))
    local stats = srv:stats()
    local ep
    for _, e in ipairs(s.endpoints) do
      if e.endpoint == "GET /items/{id}" then ep = e end
    end
    -- one call a poll; a not-ready answer is neither a retry nor a failure
    assert.equal(polls, ep.polls)
    assert.equal(polls - 1, ep.not_ready)
    assert.equal(polls - 1, stats.faults.lag_404)
    assert.equal(polls, ep.calls)
    assert.equal(polls, ep.ok)
    assert.equal(polls, s.polls)
    assert.equal(polls - 1, s.not_ready)
    -- the retries are the 500s, as the log shows them
    local retried, first_try, url = 0, 0, "/items/(%d+)$"
    for _, r in ipairs(events(records, "attempt")) do
      if r.url:find(url) and r.decision == "retry" then
        retried = retried + 1
        assert.equal(500, r.status)
      end
    end
    for _, r in ipairs(events(records, "call")) do
      if r.url:find(url) and r.attempts == 1 then first_try = first_try + 1 end
    end
    assert.equal(retried, ep.retries)
    assert.equal(first_try, ep.ok_first_try)
    assert.is_true(retried >= 1)          -- seed 9: the first poll's 500s
    -- one poll record a poll, the last one ready
    local rec = events(records, "poll")
    assert.equal(polls, #rec)
    for i, r in ipairs(rec) do
      assert.equal(i, r.poll)
      assert.equal(i < polls and "not_ready" or "ready", r.outcome)
      assert.equal(i < polls and 404 or 200, r.status)
      if i < polls then assert.equal(0.03, r.wait) end
      assert.equal("GET", r.method)
      assert.equal(1, r.v)
    end
  end)

  it("does not count a not-ready poll against the first-try rate",
     function()
    local srv <close> = todo.start{"--lag", "200"}
    local code, out, s = observed([[
      local http = require "retryrun.http"
      local A = {Authorization = "Bearer alice-secret"}
      local id = http.post(arg[1] .. "/items", {headers = A,
        json = {summary = "s"}, expect = 201}):json().id
      print(http.poll(arg[1] .. "/items/" .. id, {headers = A, every = 0.02,
        ready = function(r) return r.status == 200 end}).polls)
    ]], srv.url, "-q --summary --fail-if 'first_try_rate < 100%' "
                 .. "--fail-if 'retries > 0' --fail-if 'polls < 2'")
    assert.equal(0, code, out)
    assert.equal(s.calls, s.ok_first_try)
    assert.equal(1, s.flow10_first_try)
    local polls = math.tointeger(tonumber(out:match("^(%d+)\n")))
    assert.equal(polls, s.polls)
    assert.matches(("\nretryrun: %d calls, %d of them polls %%(%d not "
                    .. "ready%%)\n"):format(polls + 1, polls, polls - 1), out)
    assert.matches(("\n  GET /items/{id}: %d calls, %d attempts, 0 "
                    .. "retries, 0 gave up; %d polls, %d not ready\n")
                   :format(polls, polls, polls, polls - 1), out)
    assert.matches("ok first time 100 %%", out)
    -- polls is a measure of its own
    code, out = observed([[
      local http = require "retryrun.http"
      http.poll(arg[1] .. "/items/999999", {headers = {Authorization =
        "Bearer alice-secret"}, every = 0.01, deadline = 0.1,
        ready = function(r) return r.status == 200 end, retry = {raise =
        false}})
    ]], srv.url, "-q --fail-if 'polls > 1' --fail-if 'retries > 0'")
    assert.equal(4, code, out)
    assert.matches("retryrun: %-%-fail%-if polls > 1: polls %d+ > 1\n", out)
    assert.is_nil(out:find("retries > 0:", 1, true))
  end)

  it("stops at once when ready() returns nil and a reason", function()
    local srv <close> = todo.start{}
    local id = create(srv, "failed")
    local before = srv:stats().requests
    local ok, err = pcall(http.poll, srv.url .. "/items/" .. id .. "?key=k1",
      {headers = AUTH, every = 0.01, ready = function(resp)
        local job = resp:json()
        if job.summary == "failed" then
          return nil, "the job failed for " .. common.TOKEN
        end
        return true
      end})
    assert.is_false(ok)
    assert.is_true(http.is_poll_error(err))
    assert.equal("stopped", err.reason)
    assert.equal(1, err.polls)
    assert.equal(1, srv:stats().requests - before)
    assert.equal(200, err.response.status)
    -- the reason is redacted as any message: no credential of the call
    assert.equal(("GET %s/items/%d?key=REDACTED stopped at poll 1: the job "
                  .. "failed for REDACTED"):format(srv.url, id), err.message)
    assert.equal(err.message, tostring(err))
    assert.equal("the job failed for REDACTED", err.detail)
    assert.equal(("%s/items/%d?key=REDACTED"):format(srv.url, id),
                 err.request.url)
  end)

  it("raises past its deadline, saying how many polls it made", function()
    local srv <close> = todo.start{}
    local before = srv:stats().requests
    local ok, err = pcall(http.poll, srv.url .. "/items/999999",
      {headers = AUTH, every = 0.02, deadline = 0.3, ready = visible})
    assert.is_false(ok)
    assert.is_true(http.is_poll_error(err))
    assert.equal("deadline", err.reason)
    assert.equal(srv:stats().requests - before, err.polls)
    assert.is_true(err.polls >= 2)
    assert.is_true(err.elapsed >= 0.3 - 0.02 - 0.01 - 0.02 and
                   err.elapsed < 10)
    assert.equal(("GET %s/items/999999 not ready after %d polls in %.3g s "
                  .. "(deadline 0.3 s, last status 404)"):format(srv.url,
                  err.polls, err.elapsed):gsub("in [%d.]+ s", ""),
                 (err.message:gsub("in [%d.]+ s", "")))
    assert.equal(404, err.response.status)
  end)

  it("returns nil and the error with a policy's raise = false", function()
    local srv <close> = todo.start{}
    local resp, err = http.poll(srv.url .. "/items/999999", {headers = AUTH,
      every = 0.01, deadline = 0.05, retry = {raise = false},
      ready = visible})
    assert.is_nil(resp)
    assert.equal("deadline", err.reason)
  end)

  it("ends a slow poll's call at the polling's deadline", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local ok, err = pcall(http.poll, srv.url .. "/items/1",
      {headers = AUTH, deadline = 0.3, ready = visible})
    assert.is_false(ok)
    assert.equal("deadline", err.reason)
    assert.equal(0, err.polls)
    assert.matches("not ready after 0 polls in [%d.]+ s %(deadline 0.3 s: "
                   .. "poll 1 ran out of time: GET .* gave up after 1 "
                   .. "attempt", err.message)
    assert.is_true(err.elapsed < 4)       -- not the 5 s of the answer
  end)

  it("lets a short policy deadline bound each poll, not the polling",
     function()
    local srv <close> = todo.start{"--lag", "300"}
    local id = create(srv)
    local resp = http.poll(srv.url .. "/items/" .. id, {headers = AUTH,
      every = 0.05, deadline = 10, retry = {deadline = 0.04},
      ready = visible})
    assert.equal(200, resp.status)
    assert.is_true(resp.poll_elapsed > 0.04)
  end)

  it("ends by the deadline of a policy(fn) wrapper around it", function()
    local srv <close> = todo.start{}
    local before = srv:stats().requests
    local wrapped = retry.policy{attempts = 1, deadline = 0.2}(function()
      local r = http.poll(srv.url .. "/items/999999", {headers = AUTH,
                          every = 0.02, ready = visible})
      return r
    end)
    local ok, err = pcall(wrapped)
    assert.is_false(ok)
    assert.is_true(http.is_poll_error(err))
    assert.equal("deadline", err.reason)
    assert.matches("%(deadline 0.2 s, last status 404%)$", err.message)
    assert.equal(srv:stats().requests - before, err.polls)
    assert.is_true(err.elapsed < 5)       -- not the 300 s of its own
  end)

  it("polls with the method given", function()
    local srv <close> = todo.start{}
    local id = create(srv)
    local methods = {}
    local resp = http.poll(srv.url .. "/items/" .. id, {headers = AUTH,
      method = "HEAD", ready = function(r)
        methods[#methods + 1] = r.method
        return r.status == 200
      end})
    assert.same({"HEAD"}, methods)
    assert.equal("", resp.body)
  end)

  it("raises a clear error when ready() raises", function()
    local srv <close> = todo.start{}
    local ok, err = pcall(http.poll, srv.url .. "/items/1",
      {headers = AUTH, ready = function(resp) return resp.nothing.here end})
    assert.is_false(ok)
    assert.is_true(http.is_poll_error(err))
    assert.equal("error", err.reason)
    assert.equal(1, err.polls)
    assert.matches("^GET " .. common.literal(srv.url) .. "/items/1 failed: "
                   .. "ready%(%) raised at poll 1: .*poll_spec.lua:%d+: "
                   .. "attempt to index a nil value", err.message)
    assert.matches("attempt to index a nil value", err.cause)
  end)

  it("waits on a backoff schedule when given one", function()
    local srv <close> = todo.start{}
    local code, out, _, records = observed([[
      local http = require "retryrun.http"
      local ok, err = pcall(http.poll, arg[1] .. "/items/999999", {
        headers = {Authorization = "Bearer alice-secret"}, deadline = 0.25,
        backoff = {initial = 0.01, factor = 2, max = 0.04},
        ready = function(r) return r.status == 200 end})
      print(err.reason)
    ]], srv.url, "-q")
    assert.equal(0, code, out)
    assert.equal("deadline\n", out)
    local waits = {}
    for i, r in ipairs(events(records, "poll")) do
      waits[i] = r.wait
    end
    assert.same({0.01, 0.02, 0.04, 0.04}, {waits[1], waits[2], waits[3],
                                           waits[4]})
  end)

  it("shows each poll in the -v trace", function()
    local srv <close> = todo.start{"--lag", "200"}
    local id = create(srv)
    local path = common.write_script([[
      local http = require "retryrun.http"
      local n = 0
      http.poll(arg[1], {headers = {Authorization = "Bearer alice-secret"},
        every = 0.03, ready = function(r)
          n = n + 1
          if r.status == 404 then return false, "try " .. n .. "\27[2J" end
          return true
        end})
    ]])
    local code, out = common.sh(("%s -v --color=never %s %s"):format(
      common.quote(common.BIN), common.quote(path),
      common.quote(srv.url .. "/items/" .. id)))
    os.remove(path)
    assert.equal(0, code, out)
    assert.matches("task 1  GET " .. common.literal(srv.url) .. "/items/"
                   .. id .. "  poll 1  404  not ready %(try 1%?%[2J%), "
                   .. "next in 0.03 s\n", out)   -- no escape reaches it
    assert.matches("  poll %d+  200  ready\n", out)
    assert.is_nil(out:find("retry in", 1, true))
  end)

  it("refuses bad options at the script's line", function()
    local cases = {
      {{}, "http.poll needs ready = function%(resp%) returning true, false "
           .. "or nil, reason %(got nil%)"},
      {{ready = visible, every = 0}, "every must be a number of seconds from "
                                     .. "0.001 to 1e9 %(got 0%)"},
      {{ready = visible, deadline = "1"}, "deadline must be a number of "
                                          .. "seconds from 0.001 to 1e9"},
      {{ready = visible, deadline = math.huge}, "deadline must be a number"},
      {{ready = visible, every = 1, backoff = {}}, "give every or backoff, "
                                                   .. "not both"},
      {{ready = visible, backoff = 3}, "backoff must be a table like"},
      {{ready = visible, backoff = {intial = 1}}, "unknown backoff field "
                                                  .. "'intial'"},
      {{ready = visible, evry = 1}, "unknown http.poll option 'evry' %(did "
                                    .. "you mean 'every'%?%)"},
      {{ready = visible, url = "x"}, "http.poll takes the url as its first "
                                     .. "argument"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(function()
        local r = http.poll("http://127.0.0.1:9/", c[1])
        return r
      end)
      assert.is_false(ok)
      assert.matches("poll_spec.lua:%d+: " .. c[2], err)
    end
  end)
end)
