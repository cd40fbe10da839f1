--- Create an item, then read it back from an eventually consistent service.
--
-- The article's AWS story: create a resource, get its id back, and the
-- next call "fails to find that resource... until we repeat the call one
-- quarter-second later". A 404 there is not a failure but "not there
-- yet", so the read is a poll: every quarter second until the item reads,
-- for at most ten seconds. A 500 on the way is still retried as a failure.
--
-- Show it off (a new item stays invisible for 250 ms):
--   build/todo-server --listen 127.0.0.1:0 --lag 250
--   build/retryrun -v scripts/create_then_read.lua http://127.0.0.1:PORT

local http = require "retryrun.http"

local API_URL = assert(arg[1], "usage: create_then_read.lua API_URL")
local api = http.session{base = API_URL .. "/",
                         auth = {bearer = "alice-secret"}}

local created = api:post("items", {
  json = {summary = "tag the new server", description = "env=staging"},
  retry = {idempotency_key = true}, expect = 201,
}):json()
print(("created item %d"):format(created.id))

local path = "items/" .. created.id

-- What a plain call sees right after the create:
local first = api:get(path, {retry = false})
print(("a plain GET at once: %d"):format(first.status))

-- The same read as a poll:
local resp = api:poll(path, {every = 0.25, deadline = 10,
  ready = function(r)
    -- the id came from the server itself, so a 404 can only mean "not yet"
    if r.status == 404 then return false end
    if r.status == 200 then return true end
    return nil, ("unexpected status %d"):format(r.status)   -- stop at once
  end,
})
print(("read it back: %q (%s) after %d poll(s) in %.2f s")
      :format(resp:json().summary, resp:json().description, resp.polls,
              resp.poll_elapsed))
