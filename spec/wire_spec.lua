-- What goes on the wire and how an attempt is classed: every request that
-- reaches a server is an attempt, "sent" follows what was written, and the
-- messages for a response over a limit name the limit.
local http = require "retryrun.http"
local todo = require "spec.support.todo"

local AUTH = {Authorization = "Bearer alice-secret"}

--- Makes n items through curl (not through retryrun) and returns their ids.
local function make_items(srv, n)
  local reqs = {}
  for i = 1, n do
    reqs[i] = {method = "POST", path = "/items", token = "alice-secret",
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
    local attempts, retries = 0, 0
    local opts = {headers = AUTH, retry = {
      on_retry = function() retries = retries + 1 end}}
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
    assert.equal(1, s.connections_peak)
  end)
end)
