--- Refresh an expired access token before a call, with a before_attempt hook.
--
-- The article's closing remark: a decorator gives you the hooks "to inject
-- an extra API call to refresh an access token". In retryrun the policy's
-- before_attempt runs before every attempt of every call made through it,
-- inside the script, so it can make HTTP calls of its own: here, POST /token
-- when the token it holds has expired (or the server just refused it).
--
-- Show it off with tokens that live one second (and the article's Facebook
-- fault, a 200 from /token without its access_token):
--   build/todo-server --listen 127.0.0.1:0 --token-ttl 1 \
--     --missing-field-rate 0.2 --seed 1
--   build/retryrun scripts/refresh_token.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"

local API_URL = assert(arg[1], "usage: refresh_token.lua API_URL")

local token, expires_at = nil, 0

-- POST /token. Asking for a token twice is harmless, so this POST may be
-- repeated (unsafe = true); a 200 without access_token is retried.
local function fetch_token()
  local resp = http.post(API_URL .. "/token", {
    json = {user = "alice", secret = "alice-secret"},
    retry = {unsafe = true, valid = function(r)
      return r:json().access_token ~= nil, "200 without access_token"
    end},
    expect = 200,
  })
  local body = resp:json()
  token = body.access_token
  -- renew a little early: the server counts from before our answer came
  expires_at = run.now() + body.expires_in - 0.25
  print(("  new token %s..., valid for %d s (%d attempt(s))")
        :format(token:sub(1, 8), body.expires_in, resp.attempts))
end

local with_fresh_token = retry.policy{
  before_attempt = function(req)
    if run.now() >= expires_at then
      fetch_token()
    end
    req.headers.Authorization = "Bearer " .. token
  end,
  -- a 401 means the token was refused after all: drop it and retry
  valid = function(resp) return resp.status ~= 401, "token refused" end,
  on_retry = function(ev)
    print(("  %s, retrying"):format(ev.reason or ev.status or ev.error))
    if ev.status == 401 then expires_at = 0 end
  end,
}

local function list_items()
  local resp = with_fresh_token:get(API_URL .. "/items", {expect = 200})
  print(("  GET /items: %d, %d items"):format(resp.status, #resp:json()))
end

print("first call")
list_items()
print("again, at once: the token is still good")
list_items()
print("sleeping 1.5 s, past the token's lifetime")
run.sleep(1.5)
list_items()
