--- Create items safely when responses get lost: POST with an idempotency key.
--
-- The article retries GETs because they are idempotent. A POST is not: if
-- the server created the item and the answer was lost on the way back, a
-- blind retry creates it twice. So retryrun never repeats a POST that may
-- have reached the server, unless the policy says how that is safe. With
-- idempotency_key = true each logical call carries one Idempotency-Key,
-- the same on every attempt, and the server answers a repeat with the
-- item it already made.
--
-- Show it off (30 % of POSTs commit, then drop the connection):
--   build/todo-server --listen 127.0.0.1:0 --lose-response-rate 0.3 --seed 1
--   build/retryrun scripts/idempotent_post.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"

local API_URL = assert(arg[1], "usage: idempotent_post.lua API_URL")
-- Every call goes to the API as alice: a session holds the base URL and
-- the credentials, so a call names only its path.
local api = http.session{base = API_URL .. "/",
                         auth = {bearer = "alice-secret"}}

local create_safely = retry.policy{
  idempotency_key = true,
  on_retry = function(ev)
    print(("  %s: the item may exist; retrying with the same key")
          :format(ev.status or ev.error))
  end,
}

local summaries = {"buy milk", "call the plumber", "water the plants",
                   "renew the passport", "back up the laptop"}
for _, summary in ipairs(summaries) do
  local resp = api:post("items", {json = {summary = summary},
                                 retry = create_safely, expect = 201})
  print(("created item %d %q in %d attempt(s)%s"):format(resp:json().id,
    summary, resp.attempts,
    resp:header("Idempotent-Replayed") and ", replayed by the server" or ""))
end

-- What the server saw, and what is on the list: each summary once.
local stats = api:get("_stats"):json()
print(("server: %d responses lost, %d repeats answered from their key, "
       .. "%d items created"):format(stats.faults.lose_response,
                                     stats.idempotent_replays,
                                     stats.items_created))
local seen = {}
for _, item in ipairs(api:get("items", {expect = 200}):json()) do
  seen[item.summary] = (seen[item.summary] or 0) + 1
end
local duplicates = 0
for _, summary in ipairs(summaries) do
  if seen[summary] ~= 1 then
    print(("%q is on the list %d times"):format(summary, seen[summary] or 0))
    duplicates = duplicates + 1
  end
end
if duplicates > 0 then
  os.exit(1)
end
print(("GET /items: all %d items, no duplicates"):format(#summaries))

-- Without a key, the same lost answer is not retried: the call gives up at
-- once and says why.
for _ = 1, 20 do
  local ok, err = pcall(api.post, api, "items", {
    json = {summary = "without a key"}, expect = 201})
  if not ok then
    print("without a key: " .. tostring(err))
    break
  end
end
