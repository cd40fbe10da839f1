--- The article's class-based decorators, as a family of policies.
--
-- In the article, class Retry holds MAX_TRIES and an is_valid method, and
-- its subclasses override one or the other; an instance of one is a
-- decorator. In retryrun a policy is both: `:extend{...}` derives a
-- "subclass" that overrides fields, and calling a policy on a function
-- decorates it. The decorated function makes one attempt per call; the
-- policy around it decides whether to call it again.
--
-- Show it off (500s and spurious 401s, each retried where it is expected):
--   build/todo-server --listen 127.0.0.1:0 --fail-rate 0.15 \
--     --spurious-401-rate 0.15 --seed 24
--   build/retryrun scripts/class_family.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"

local API_URL = assert(arg[1], "usage: class_family.lua API_URL")
-- Every call goes to the API as alice: a session holds the base URL and
-- the credentials, so a call names only its path.
local api = http.session{base = API_URL .. "/",
                         auth = {bearer = "alice-secret"}}

-- class Retry: up to MAX_TRIES = 3 retries (4 attempts), only on a 500.
-- retry_on = {} leaves the decision to `valid` alone, as in the article.
-- (The article's listing returns `status_code == 500` from is_valid; its
-- text, and this, mean the opposite.)
local Retry = retry.policy{
  attempts = 4,
  retry_on = {},
  valid = function(resp) return resp.status ~= 500 end,
  on_retry = function(ev)
    print(("  got %s, retrying in %.2f s"):format(ev.status or ev.error,
                                                  ev.delay))
  end,
}

-- class RetryOnAuthFailure(Retry): retries 4xx failures only.
local RetryOnAuthFailure = Retry:extend{
  valid = function(resp)
    return not (resp.status >= 400 and resp.status < 500)
  end,
}

-- class RetryOnServerError(Retry): retries any 5xx, up to 5 times.
local RetryOnServerError = Retry:extend{
  attempts = 6,
  valid = function(resp) return resp.status < 500 end,
}

-- The decorated functions. Each returns a response, as the article asks.
-- Inside a decorated function a call makes one attempt and hands back
-- whatever status it got, as requests.get does: the decorator around it
-- is the retry layer, and its `valid` is what judges the response.
local get_items = Retry(function()
  return api:get("items")
end)

local get_single_item = RetryOnServerError(function(item_id)
  return api:get("items/" .. item_id)
end)

local drop_item = RetryOnAuthFailure(function(item_id)
  return api:delete("items/" .. item_id)
end)

-- The article's scripts go on with resp.json(); this one also stops with
-- a clear message if a decorator let a failure through.
local function ok(resp)
  if not resp.ok then
    error(("%s %s: %d %s"):format(resp.method, resp.url, resp.status,
                                  resp.body), 2)
  end
  return resp
end

-- Something to work on: two items, each created once thanks to its
-- idempotency key, however often its POST is retried.
for _, summary in ipairs{"buy milk", "call the plumber"} do
  api:post("items", {json = {summary = summary}, expect = 201,
                     retry = {idempotency_key = true, retry_on = {401, 500}}})
end

print("get_items()")
for _, item in ipairs(ok(get_items()):json()) do
  print(("get_single_item(%d)"):format(item.id))
  print(("  %q"):format(ok(get_single_item(item.id)):json().summary))
  print(("drop_item(%d)"):format(item.id))
  ok(drop_item(item.id))
end
print("get_items()")
print(("  %d open items left"):format(#ok(get_items()):json()))
