--- Create an item, then read it back from an eventually consistent service.
--
-- The article's AWS story: create a resource, get its id back, and the
-- next call "fails to find that resource... until we repeat the call one
-- quarter-second later". Here the second call's policy treats that 404 as
-- "not there yet" and tries again a quarter-second later.
--
-- Show it off (a new item stays invisible for 250 ms):
--   build/todo-server --listen 127.0.0.1:0 --lag 250
--   build/retryrun scripts/create_then_read.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"

local API_URL = assert(arg[1], "usage: create_then_read.lua API_URL")
local AUTH = {Authorization = "Bearer alice-secret"}

local read_after_write = retry.policy{
  -- the id came from the server itself, so a 404 can only mean "not yet"
  valid = function(resp) return resp.status ~= 404, "404, not visible yet" end,
  backoff = {initial = 0.25, factor = 1, jitter = "none"},
  on_retry = function(ev)
    print(("  %s: retrying in %.2f s"):format(ev.reason, ev.delay))
  end,
}

local created = http.post(API_URL .. "/items", {
  headers = AUTH, json = {summary = "tag the new server",
                          description = "env=staging"},
  retry = {idempotency_key = true}, expect = 201,
}):json()
print(("created item %d"):format(created.id))

local url = API_URL .. "/items/" .. created.id

-- What a plain call sees right after the create:
local first = http.get(url, {headers = AUTH, retry = false})
print(("a plain GET at once: %d"):format(first.status))

-- The same call under the policy:
local resp = read_after_write:get(url, {headers = AUTH, expect = 200})
print(("read it back: %q (%s) after %d attempt(s) in %.2f s")
      :format(resp:json().summary, resp:json().description, resp.attempts,
              resp.elapsed))
