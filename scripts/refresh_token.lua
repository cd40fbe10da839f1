--- Refresh an expired access token: a session with token auth.
--
-- The article's closing remark: a decorator gives you the hooks "to inject
-- an extra API call to refresh an access token". A session does it for
-- you: its auth.token function is called for the first token, and again
-- whenever the server refuses the one held (a 401), once however many
-- tasks were refused at the same time; the refused request is then sent
-- again with the new token, without spending one of its attempts.
--
-- Show it off with tokens that live one second (and the article's Facebook
-- fault, a 200 from /token without its access_token):
--   build/todo-server --listen 127.0.0.1:0 --token-ttl 1 \
--     --missing-field-rate 0.2 --seed 1
--   build/retryrun scripts/refresh_token.lua http://127.0.0.1:PORT

local http = require "retryrun.http"
local run = require "retryrun.run"

local API_URL = assert(arg[1], "usage: refresh_token.lua API_URL")

local api = http.session{base = API_URL, auth = {token = function()
  -- asking for a token twice is harmless, so this POST may be repeated
  -- (unsafe = true); a 200 without access_token is retried
  local resp = http.post(API_URL .. "/token", {
    json = {user = "alice", secret = "alice-secret"},
    retry = {unsafe = true, valid = function(r)
      return r:json().access_token ~= nil, "200 without access_token"
    end},
    expect = 200,
  })
  local body = resp:json()
  print(("  new token %s..., valid for %d s (%d attempt(s))")
        :format(body.access_token:sub(1, 8), body.expires_in, resp.attempts))
  return body.access_token
end}}

local function list_items()
  local resp = api:get("/items", {expect = 200})
  print(("  GET /items: %d, %d items"):format(resp.status, #resp:json()))
end

print("first call")
list_items()
print("again, at once: the token is still good")
list_items()
print("sleeping 1.5 s, past the token's lifetime")
run.sleep(1.5)
list_items()
