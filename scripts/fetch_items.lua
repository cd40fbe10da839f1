--- Fetch all todo items, retrying the 500s the service sometimes answers.
--
-- The article's first example: GET /items fails with a 500 about once in
-- 1,000 calls. A GET is idempotent, so it is safe to simply try again; the
-- article's loop does that up to MAX_TRIES = 3 more times. Here a policy
-- says the same thing, and every call made through it follows it.
--
-- Show it off with more 500s than the article's 0.1 %:
--   build/todo-server --listen 127.0.0.1:0 --fail-rate 0.2 --seed 1
--   build/retryrun scripts/fetch_items.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"

local API_URL = assert(arg[1], "usage: fetch_items.lua API_URL")
-- Every call goes to the API as alice: a session holds the base URL and
-- the credentials, so a call names only its path.
local api = http.session{base = API_URL .. "/",
                         auth = {bearer = "alice-secret"}}

-- MAX_TRIES = 3 retries: 4 attempts in all, retried on a 500 and nothing
-- else. retryrun waits a little (exponential backoff) before each retry.
local retry_on_500 = retry.policy{
  attempts = 4,
  retry_on = {500},
  on_retry = function(ev)
    print(("GET /items: got a %s, retrying in %.2f s"):format(ev.status,
                                                               ev.delay))
  end,
}

-- Something to fetch first. A POST is not idempotent: retryrun repeats it
-- only when it carries an idempotency key, so the server creates it once.
for _, summary in ipairs{"buy milk", "call the plumber", "water the plants"} do
  api:post("items", {json = {summary = summary},
                     retry = {idempotency_key = true}, expect = 201})
end

-- The article's code: get the items, then do something with each.
local resp = api:get("items", {retry = retry_on_500, expect = 200})
local todo_items = resp:json()
print(("fetched %d items in %d attempt(s):"):format(#todo_items,
                                                    resp.attempts))
for _, item in ipairs(todo_items) do
  print(("  %d  %s"):format(item.id, item.summary))
end
