-- What goes on the wire and how an attempt is classed: every request that
-- reaches a server is an attempt, "sent" follows what was written, and the
-- messages for a response over a limit name the limit.
local http = require "retryrun.http"
local common = require "spec.support.common"
local misbehave = require "spec.support.misbehave"
local todo = require "spec.support.todo"

local AUTH = common.AUTH

--- Makes n items through curl (not through retryrun) and returns their ids.
local function make_items(srv, n)
  local reqs = {}
  for i = 1, n do
    reqs[i] = {method = "POST", path = "/items", token = common.TOKEN,
               json = ('{"summary":"item %d","description":""}'):format(i),
               close = true}
  end
  local ids = {}
  for i, r in ipairs(srv:batch(reqs)) do
    assert.equal(201, r.status)
    ids[i] = todo.decode(r.body).id
  end
  return ids
end

--- Calls fn under pcall and returns the attempts it made: the response's
-- count, or the length of a give-up error's list.
local function attempts_of(fn, ...)
  local ok, r = pcall(fn, ...)
  if ok then
    return r.attempts
  end
  assert.is_table(r, tostring(r))
  return #r.attempts
end

describe("libcurl's resend on a dead keep-alive connection", function()
  it("never happens unseen: todo-server's count equals the attempts",
     function()
    local srv <close> = todo.start{"--reset-rate", "0.05", "--seed", "2"}
    local ids = make_items(srv, 20)
    assert.equal(0, srv:stats().faults.reset)  -- the seed spares them
    srv:reset_stats()
    local attempts, retries, on_reused = 0, 0, 0
    local opts = {headers = AUTH, retry = {on_retry = function(event)
      assert.equal("reset", event.error)
      retries = retries + 1
      if event.reason == "the server closed a reused keep-alive connection "
                        .. "without answering; the request may have "
                        .. "reached it" then
        on_reused = on_reused + 1
      end
    end}}
    for round = 1, 10 do
      for _, id in ipairs(ids) do
        local item = srv.url .. "/items/" .. id
        attempts = attempts + attempts_of(http.get, item, opts)
        attempts = attempts + attempts_of(http.put, item, {headers = AUTH,
          json = {summary = "round " .. round}, retry = opts.retry})
      end
    end
    for _, id in ipairs(ids) do
      attempts = attempts + attempts_of(http.delete,
                                        srv.url .. "/items/" .. id, opts)
    end
    local s = srv:stats()
    -- enough resets on reused connections to prove something
    assert.is_true(s.faults.reset >= 10, "resets: " .. s.faults.reset)
    assert.equal(s.requests, attempts)
    assert.equal(s.faults.reset, retries)
    -- most resets met a reused connection, where libcurl would resend
    assert.is_true(on_reused >= s.faults.reset / 2,
                   on_reused .. " of " .. s.faults.reset)
  end)
end)

describe("an answer lost on a reused keep-alive connection", function()
  local srv
  setup(function() srv = misbehave.start() end)
  teardown(function() srv:stop() end)

  it("is an attempt of its own: on_retry fires and a DELETE counts two",
     function()
    local events = {}
    assert.equal("ok", http.get(srv.url .. "/ok").body)  -- the connection
    local before = srv:stats().requests
    -- the server deletes, then closes the connection without an answer;
    -- asked again, it has nothing left to delete
    local resp = http.delete(srv.url .. "/lost/item-1", {retry = {
      on_retry = function(event) events[#events + 1] = event end}})
    assert.equal(404, resp.status)
    assert.equal(2, resp.attempts)
    assert.equal(1, #events)
    assert.equal("reset", events[1].error)
    assert.equal("the server closed a reused keep-alive connection without "
                 .. "answering; the request may have reached it",
                 events[1].reason)
    assert.equal(before + 2, srv:stats().requests)
  end)

  it("is told from a redirect, whose hop follows a response", function()
    assert.equal("ok", http.get(srv.url .. "/ok").body)
    local before = srv:stats().requests
    local resp = http.get(srv.url .. "/redirect")
    assert.equal(200, resp.status)
    assert.equal("ok", resp.body)
    assert.equal(1, resp.attempts)
    assert.equal(before + 2, srv:stats().requests)
  end)

  it("is not repeated for a POST without a key", function()
    -- a POST gets a connection of its own, so it meets no stale one; its
    -- lost answer is a reset that may have reached the server
    assert.equal("ok", http.get(srv.url .. "/ok").body)
    local before = srv:stats().requests
    local ok, err = pcall(http.post, srv.url .. "/lost/item-2",
                          {body = "x"})
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
    assert.equal("reset", err.attempts[1].error)
    assert.is_true(err.attempts[1].sent)
    assert.equal(before + 1, srv:stats().requests)
  end)
end)

describe("a timeout on a reused keep-alive connection", function()
  it("is a timeout that was sent, and retry_on={'connect'} does not "
     .. "resend it", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "600"}
    local url = srv.url .. "/items"
    assert.equal(200, http.get(url, {headers = AUTH}).status)  -- warm-up
    local ok, err = pcall(http.get, url, {headers = AUTH, retry = {
      attempts = 3, retry_on = {"connect"}, timeout = 0.2}})
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
    assert.equal("timeout", err.attempts[1].error)
    assert.is_true(err.attempts[1].sent)
    assert.equal(2, srv:stats().requests)
  end)

  it("is a timeout that was sent when body bytes had come", function()
    local srv <close> = misbehave.start()
    assert.equal("ok", http.get(srv.url .. "/ok").body)  -- the connection
    local ok, err = pcall(http.get, srv.url .. "/drip?ms=1000", {retry = {
      attempts = 3, retry_on = {"connect"}, timeout = 0.3}})
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
    assert.equal("timeout", err.attempts[1].error)
    assert.is_true(err.attempts[1].sent)
    assert.equal(2, srv:stats().requests)
  end)
end)

describe("max_body", function()
  local srv
  setup(function() srv = misbehave.start() end)
  teardown(function() srv:stop() end)

  it("is not applied to a HEAD, which has no body", function()
    local resp = http.head(srv.url .. "/length?bytes=1000000",
                           {max_body = 10})
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
    assert.equal("1000000", resp:header("Content-Length"))
    assert.equal(1, resp.attempts)
  end)

  it("stops a GET whose Content-Length announces more", function()
    local ok, err = pcall(http.get, srv.url .. "/length?bytes=1000000",
                          {max_body = 10})
    assert.is_false(ok)
    assert.equal("too_large", err.attempts[1].error)
    assert.equal("Content-Length announces 1000000 bytes, over max_body of "
                 .. "10 bytes", err.attempts[1].reason)
  end)
end)

--- The give-up message of a call that makes one attempt, less the time.
local function message_of(url, opts)
  local ok, err = pcall(http.get, url, opts)
  assert.is_false(ok, "the call did not fail")
  return (err.message:gsub(" in [%d.]+ s:", " in T s:"))
end

describe("a response over a limit", function()
  local srv
  setup(function() srv = misbehave.start() end)
  teardown(function() srv:stop() end)

  it("with 10,000 header lines says the limit is on header lines",
     function()
    local url = srv.url .. "/headers?n=10000"
    assert.equal("GET " .. url .. " gave up after 1 attempt in T s: "
      .. "too_large; a response over a size limit is never retried "
      .. "(response headers over 500 lines, retryrun's limit)",
      message_of(url))
  end)

  it("with 300 KiB of headers says the limit is on their size", function()
    local url = srv.url .. "/headers?n=300&len=1024"
    assert.equal("GET " .. url .. " gave up after 1 attempt in T s: "
      .. "too_large; a response over a size limit is never retried "
      .. "(response headers over 256 KiB, retryrun's limit)",
      message_of(url))
  end)

  it("with a 1 MiB header line says libcurl's limit, not out of memory",
     function()
    local url = srv.url .. "/long-header?kib=1024"
    assert.equal("GET " .. url .. " gave up after 1 attempt in T s: "
      .. "too_large; a response over a size limit is never retried "
      .. "(a response header line over 100 KiB, libcurl's limit for one "
      .. "line)", message_of(url))
  end)

  it("with a body over max_body names max_body", function()
    local url = srv.url .. "/big?mib=1&length=0"
    assert.equal("GET " .. url .. " gave up after 1 attempt in T s: "
      .. "too_large; a response over a size limit is never retried "
      .. "(response body over max_body of 1000 bytes)",
      message_of(url, {max_body = 1000}))
  end)

  it("announced over max_body names both", function()
    local url = srv.url .. "/big?mib=1"
    assert.equal("GET " .. url .. " gave up after 1 attempt in T s: "
      .. "too_large; a response over a size limit is never retried "
      .. "(Content-Length announces 1048576 bytes, over max_body of 1000 "
      .. "bytes)", message_of(url, {max_body = 1000}))
  end)
end)

describe("out of memory storing a body", function()
  it("says so, and how large the body had grown", function()
    local srv <close> = misbehave.start()
    -- a sanitizer build reserves terabytes of address space up front
    local code = common.run("", {ulimit = "-v 100000"})
    if code ~= 0 then
      pending("retryrun cannot start under ulimit -v here")
      return
    end
    local _, out = common.run([[
local http = require "retryrun.http"
local ok, err = pcall(http.get, arg[1], {max_body = 1 << 30})
print(err.message)
]], {ulimit = "-v 100000", args = {srv.url .. "/big?mib=400"}})
    local grown = out:match("%(out of memory storing the response body, "
      .. "grown to (%d+) bytes, below max_body of 1073741824 bytes%)\n$")
    assert.is_truthy(grown, out)
    assert.is_true(tonumber(grown) > 1 << 20, out)
  end)
end)

describe("the open-file limit", function()
  local srv
  setup(function()
    srv = todo.start{"--slow-rate", "1", "--slow-ms", "200"}
  end)
  teardown(function() srv:stop() end)

  it("caps the transfers at once, so 100 calls under ulimit -n 100 all "
     .. "succeed", function()
    local code, out = common.run([[
local http = require "retryrun.http"
local run = require "retryrun.run"
local calls = {}
for i = 1, 100 do calls[i] = i end
local seen = {}
for _, s in ipairs(run.map(calls, function()
  local ok, r = pcall(http.get, arg[1] .. "/items", {retry = false,
    headers = {Authorization = "Bearer alice-secret"}})
  return ok and r.status or r.message
end, {concurrency = 100})) do seen[s] = (seen[s] or 0) + 1 end
for s, n in pairs(seen) do print(n, s) end
]], {ulimit = "-n 100", args = {srv.url}})
    assert.equal("100\t200\n", out)
    assert.equal(0, code)
  end)

  it("is raised to the hard limit where that has room", function()
    local _, out = common.run([[
for l in io.lines("/proc/self/limits") do
  local soft = l:match("^Max open files%s+(%d+)")
  if soft then print(soft) end
end
]], {ulimit = "-Sn 100; ulimit -Hn 4096"})
    assert.is_true(tonumber(out) > 1024, out)
  end)

  it("says so when the script holds every descriptor", function()
    local _, out = common.run([[
local http = require "retryrun.http"
assert(http.post(arg[1] .. "/items", {json = {summary = "s"},
  headers = {Authorization = "Bearer alice-secret"}}).status == 201)
local files = {}
repeat
  local f = io.open("/dev/null")
  files[#files + 1] = f
until not f
local ok, err = pcall(http.get, arg[1] .. "/items", {retry = false})
print(err.message)
]], {ulimit = "-n 40", args = {srv.url}})
    assert.equal("GET " .. srv.url .. "/items gave up after 1 attempt in T "
      .. "s: connect (no file descriptor left for a socket: all 40 that "
      .. "ulimit -n allows are open)\n",
      (out:gsub(" in [%d.]+ s:", " in T s:")))
  end)
end)

describe("an answer that is not HTTP", function()
  for _, kind in ipairs{"status", "text"} do
    it("is a failed attempt, counted and given up on (" .. kind .. ")",
       function()
      local srv <close> = misbehave.start()
      local events, gave_up = 0, nil
      local resp, err = http.get(srv.url .. "/garbage?kind=" .. kind,
        {retry = {attempts = 2, retry_on = {"other"}, raise = false,
                  backoff = {initial = 0.001},
                  on_retry = function() events = events + 1 end,
                  on_giveup = function(e) gave_up = e end}})
      assert.is_nil(resp)
      assert.equal("exhausted", err.reason)
      assert.equal(2, #err.attempts)
      assert.equal("other", err.attempts[1].error)
      assert.is_true(err.attempts[1].sent)
      assert.equal(1, events)
      assert.equal(err, gave_up)
      assert.equal(2, srv:stats().requests)
    end)
  end
end)
