--- Retry a 200 that lacks a field, with a policy made from a predicate.
--
-- The article's second failure mode: the call succeeds with a 200, but the
-- JSON is missing a field it should have; an immediate retry has it. The
-- article makes a retry decorator from a predicate,
--   retry_on_missing_id = mk_retryer(lambda resp: 'summary' in resp.json())
-- and so does retryrun: the policy's `valid` sees every response, and
-- false means "not a good answer, try again".
--
-- Show it off:
--   build/todo-server --listen 127.0.0.1:0 --missing-field-rate 0.3 --seed 2
--   build/retryrun scripts/predicate.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"

local API_URL = assert(arg[1], "usage: predicate.lua API_URL")
-- Every call goes to the API as alice: a session holds the base URL and
-- the credentials, so a call names only its path.
local api = http.session{base = API_URL .. "/",
                         auth = {bearer = "alice-secret"}}

local function say_retry(ev)
  print(("  %s: retrying in %.2f s"):format(ev.reason, ev.delay))
end

-- GET /items/<id> answers one item: it must have its summary.
local retry_on_missing_summary = retry.policy{
  valid = function(resp)
    return resp:json().summary ~= nil, "200 without a summary"
  end,
  on_retry = say_retry,
}

-- GET /items answers a list: every item in it must have its summary.
local retry_on_missing_summaries = retry.policy{
  valid = function(resp)
    for _, item in ipairs(resp:json()) do
      if item.summary == nil then
        return false, "200 with an item without a summary"
      end
    end
    return true
  end,
  on_retry = say_retry,
}

-- Something to read. The default policy retries a POST only with an
-- idempotency key, so the server creates each item once.
for _, summary in ipairs{"buy milk", "call the plumber", "water the plants"} do
  api:post("items", {json = {summary = summary},
                     retry = {idempotency_key = true}, expect = 201})
end

print("GET /items")
local resp = api:get("items", {retry = retry_on_missing_summaries})
local items = resp:json()
print(("  %d items after %d attempt(s)"):format(#items, resp.attempts))
for _, item in ipairs(items) do
  print(("GET /items/%d"):format(item.id))
  resp = api:get("items/" .. item.id, {retry = retry_on_missing_summary})
  print(("  %q after %d attempt(s)"):format(resp:json().summary,
                                           resp.attempts))
end
