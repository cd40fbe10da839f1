--- The article's UI flow: 10 API calls, run many times, with or without retries.
--
-- The article: a service that fails 1 call in 1,000 breaks nearly 1 % of
-- the user flows that make 10 calls; retrying every call up to 3 times
-- makes a flow fail less than once in 100 million. This script measures
-- it. Each flow logs in, shows the list, adds an item, opens it, shows the
-- list again, adds another, opens it, ticks both off and shows the list.
--
-- Both modes judge every answer the same way: the status it should have
-- and every field it should carry (a 200 missing a field is a failure).
--   none   one attempt a call (retry = false); a flow stops at its first
--          bad answer
--   retry  retryrun's default policy (3 retries, backoff) plus a `valid`
--          predicate with those same checks, so a bad answer is retried
--
-- usage: retryrun scripts/ui_flow.lua API_URL [FLOWS [none|retry]]
-- The last line is for scripts to read:
--   mode=retry flows=1000 calls=10000 flows_failed=0 retries=17 seconds=1.4
-- Show it off with the article's failure rates (scripts/demo.sh does):
--   build/todo-server --listen 127.0.0.1:0 --fail-rate 0.001 \
--     --missing-field-rate 0.001 --seed 1

local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"

local USAGE = "usage: ui_flow.lua API_URL [FLOWS [none|retry]]"
local API_URL = assert(arg[1], USAGE)
local FLOWS = assert(math.tointeger(tonumber(arg[2] or "1000")), USAGE)
local MODE = arg[3] or "retry"
assert(MODE == "none" or MODE == "retry", USAGE)
local MAX_SHOWN = 3   -- failed flows described, at most

--- A predicate: the answer has `status` and its JSON object every field.
local function answer(status, ...)
  local fields = {...}
  return function(resp)
    if resp.status ~= status then
      return false, ("%d, not %d"):format(resp.status, status)
    end
    local body = resp:json()
    for _, name in ipairs(fields) do
      if body[name] == nil then
        return false, ("%d without %s"):format(resp.status, name)
      end
    end
    return true
  end
end

--- A predicate for GET /items: a 200 whose every item has id and summary.
local function list_of_items(resp)
  if resp.status ~= 200 then
    return false, ("%d, not 200"):format(resp.status)
  end
  for _, item in ipairs(resp:json()) do
    if item.id == nil or item.summary == nil then
      return false, "200 with an item without its id or summary"
    end
  end
  return true
end

-- The kinds of call in a flow: what a good answer is, and what makes the
-- call safe to repeat.
local CALLS = {
  -- asking for a token twice is harmless: the POST may be repeated
  token = {valid = answer(200, "access_token", "expires_in"), unsafe = true},
  list = {valid = list_of_items},
  -- one Idempotency-Key a create: a repeat never makes a second item
  create = {valid = answer(201, "id", "summary"), idempotency_key = true},
  read = {valid = answer(200, "id", "summary", "description")},
  done = {valid = answer(200, "id", "done")},
}

local calls, retries = 0, 0

-- In retry mode each kind gets the default policy plus its fields.
local function count_retry() retries = retries + 1 end
for _, kind in pairs(CALLS) do
  if MODE == "retry" then
    kind.policy = retry.default:extend{valid = kind.valid,
                                       unsafe = kind.unsafe,
                                       idempotency_key = kind.idempotency_key,
                                       on_retry = count_retry}
  else
    kind.policy = false
  end
end

--- One call of a flow: returns the decoded answer, or raises.
local function call(kind, method, path, opts)
  calls = calls + 1
  opts.method, opts.url, opts.retry = method, API_URL .. path, kind.policy
  local resp = http.request(opts)
  if MODE == "none" then
    local ok, why = kind.valid(resp)
    if not ok then
      error(("%s %s: %s"):format(method, path, why), 0)
    end
  end
  return resp:json()
end

--- The user's 10 calls.
local function flow(n)
  local c = CALLS
  local token = call(c.token, "POST", "/token", {
    json = {user = "alice", secret = "alice-secret"}}).access_token
  local auth = {Authorization = "Bearer " .. token}
  call(c.list, "GET", "/items", {headers = auth})
  local first = call(c.create, "POST", "/items", {headers = auth,
    json = {summary = ("flow %d: first"):format(n), description = "one"}})
  call(c.read, "GET", "/items/" .. first.id, {headers = auth})
  call(c.list, "GET", "/items", {headers = auth})
  local second = call(c.create, "POST", "/items", {headers = auth,
    json = {summary = ("flow %d: second"):format(n), description = "two"}})
  call(c.read, "GET", "/items/" .. second.id, {headers = auth})
  call(c.done, "DELETE", "/items/" .. first.id, {headers = auth})
  call(c.done, "DELETE", "/items/" .. second.id, {headers = auth})
  call(c.list, "GET", "/items", {headers = auth})
end

local started = run.now()
local failed = 0
for n = 1, FLOWS do
  local before = calls
  local ok, err = pcall(flow, n)
  if not ok then
    failed = failed + 1
    if failed <= MAX_SHOWN then
      print(("# flow %d failed at call %d: %s"):format(n, calls - before,
                                                      tostring(err)))
    end
  end
end
print(("mode=%s flows=%d calls=%d flows_failed=%d retries=%d seconds=%.2f")
      :format(MODE, FLOWS, calls, failed, retries, run.now() - started))
