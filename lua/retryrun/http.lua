--- HTTP calls that retry under a policy.
--
-- Every call goes through the retry engine in C: one logical call, as many
-- attempts as its policy allows, each judged by status and by the policy's
-- `valid` predicate.
--
-- @module retryrun.http
-- @usage
-- local http = require "retryrun.http"
-- local resp = http.get(API .. "/items", {headers = {Authorization = AUTH}})
-- for _, item in ipairs(resp:json()) do print(item.id, item.summary) end

local core = require "retryrun.core"
local retry = require "retryrun.retry"
local json_encode = require("retryrun.json").encode

local type, pairs, error, tostring = type, pairs, error, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local request_core, in_wrapper, uuid = core.request, core.in_wrapper,
                                       core.uuid

local http = {}

local EMPTY = {}
-- A POST with no body still sends Content-Length: 0.
local BODY_METHODS = {POST = true, PUT = true, PATCH = true}

local IDEMPOTENT = {GET = true, HEAD = true, PUT = true, DELETE = true,
                    OPTIONS = true, TRACE = true}

local OPTIONS = {method = true, url = true, headers = true, query = true,
                 body = true, json = true, timeout = true, retry = true,
                 expect = true, max_body = true, insecure = true,
                 cacert = true}

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

-- "a=1&b=x%20y" from {a = 1, b = "x y"}, keys sorted so URLs are stable;
-- a list value repeats the key.
local function encode_query(q)
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do
        parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(x)
      end
    else
      parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(v)
    end
  end
  return table.concat(parts, "&")
end

-- The policy for a call: the one named, fields over the default, none for
-- false; inside a policy(fn) wrapper a call that names none makes one
-- attempt.
local function resolve_policy(r, wrapped)
  if r == nil then
    return wrapped and retry.none or retry.default
  elseif r == false then
    return retry.none
  elseif retry.is_policy(r) then
    return r
  elseif type(r) == "table" then
    return retry.default:extend(r)
  end
  error("retry= takes a policy, a table of policy fields or false (got "
        .. type(r) .. ")", 4)
end

local ExpectError = {__name = "retryrun.ExpectError"}
ExpectError.__index = ExpectError
function ExpectError:__tostring() return self.message end

local function check_expect(resp, expect)
  local want = type(expect) == "table" and expect or {expect}
  for _, s in ipairs(want) do
    if resp.status == s then
      return resp
    end
  end
  local wanted = {}
  for i, s in ipairs(want) do wanted[i] = tostring(s) end
  error(setmetatable({
    message = ("%s %s: expected status %s, got %d %s"):format(resp.method,
      resp.url, table.concat(wanted, " or "), resp.status,
      resp.body:sub(1, 200):gsub("%s+", " ")),
    response = resp, status = resp.status, expected = want,
  }, ExpectError), 3)
end

-- One logical call: checks the options, builds the request, runs it under
-- `policy` (or the one opts.retry names). Errors name the caller's line:
-- level 3 is the script's call of request, of a verb or of a policy verb,
-- which call this without a tail call.
local function call(method, url, opts, policy)
  if opts == nil then
    opts = EMPTY
  end
  for k in pairs(opts) do
    if not OPTIONS[k] then
      error(("unknown request option '%s'"):format(tostring(k)), 3)
    end
  end
  if type(url) ~= "string" or url == "" then
    error("request needs a url (a string)", 3)
  end
  if opts.query ~= nil then
    if type(opts.query) ~= "table" then
      error("query must be a table", 3)
    end
    local q = encode_query(opts.query)
    if q ~= "" then
      url = url .. (url:find("?", 1, true) and "&" or "?") .. q
    end
  end
  local headers = {}
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then
      error("headers must be a table of name = value", 3)
    end
    for k, v in pairs(opts.headers) do
      if type(k) ~= "string" then
        error("headers must be a table of name = value (got a " .. type(k)
              .. " key)", 3)
      end
      headers[k] = tostring(v)
    end
  end
  local body = opts.body
  if opts.json ~= nil then
    if body ~= nil then
      error("give body or json, not both", 3)
    end
    local ok, encoded = pcall(json_encode, opts.json)
    if not ok then
      error(encoded, 3)
    end
    body = encoded
    local has_type = false
    for k in pairs(headers) do
      if k:lower() == "content-type" then has_type = true end
    end
    if not has_type then headers["Content-Type"] = "application/json" end
  elseif body ~= nil and type(body) ~= "string" then
    error("body must be a string (use json= for a table)", 3)
  elseif body == nil and BODY_METHODS[method] then
    body = ""
  end
  local timeout, max_body = opts.timeout, opts.max_body
  if timeout ~= nil and (type(timeout) ~= "number" or
                         not (timeout >= 0.001)) then
    error("timeout must be a number of seconds, at least 0.001", 3)
  end
  if max_body ~= nil and (math.type(max_body) ~= "integer" or max_body < 1)
  then
    error("max_body must be a whole number of bytes >= 1", 3)
  end
  -- inside policy(fn), the wrapper's deadline bounds every attempt
  local left = in_wrapper()
  if left then
    timeout = math.max(math.min(timeout or left, left), 0.0001)
  end
  policy = policy or resolve_policy(opts.retry, left)
  local req = {method = method, url = url, headers = headers, body = body,
               max_body = max_body, insecure = opts.insecure,
               cacert = opts.cacert, timeout = timeout}
  -- one idempotency key per logical call, the same on every attempt
  local key = policy.idempotency_key
  if key and not IDEMPOTENT[method] then
    local name = key == true and "Idempotency-Key" or key
    local lname = name:lower()
    for k in pairs(headers) do
      if k:lower() == lname then req.idempotency_key = true end
    end
    if not req.idempotency_key then
      headers[name] = uuid()
      req.idempotency_key = true
    end
  end
  local resp, err = request_core(req, policy)
  if resp and opts.expect ~= nil then
    return check_expect(resp, opts.expect)
  end
  return resp, err
end

--- Makes one logical HTTP call under a retry policy.
-- @tparam table opts `method` ("GET"), `url`, `headers`, `query` (a table,
--   encoded into the URL), `body` (a string) or `json` (a table, encoded,
--   Content-Type set), `timeout` (seconds per attempt), `retry` (a policy,
--   a table of policy fields over the default, or false for one attempt),
--   `expect` (a status or a list: any other final status raises),
--   `max_body` (bytes, 64 MiB), `insecure`, `cacert`
-- @return the Response: `status`, `ok`, `body`, `headers`, `url`,
--   `elapsed`, `attempts`, `resp:json()`, `resp:header(name)`
-- @raise a give-up error when the policy runs out (or returns nil, err
--   with `raise = false`); an expect error carrying the response
function http.request(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'request' (table expected, got "
          .. type(opts) .. ")", 2)
  end
  local method = opts.method and tostring(opts.method):upper() or "GET"
  local resp, err = call(method, opts.url, opts)
  return resp, err
end

local function verb(method)
  local name = method:lower()
  return function(url, opts)
    if opts ~= nil then
      if type(opts) ~= "table" then
        error(("bad argument #2 to '%s' (table expected, got %s)")
              :format(name, type(opts)), 2)
      end
      if opts.method ~= nil or opts.url ~= nil then
        error(("http.%s takes the url as its first argument and no method "
               .. "(use http.request for that)"):format(name), 2)
      end
    end
    local resp, err = call(method, url, opts)
    return resp, err
  end
end

--- `http.get(url [, opts])`; likewise head, delete, post, put, patch.
http.get = verb("GET")
http.head = verb("HEAD")
http.delete = verb("DELETE")
http.options = verb("OPTIONS")
http.post = verb("POST")
http.put = verb("PUT")
http.patch = verb("PATCH")

-- For retryrun.retry's policy verbs: one call under a given policy.
http._call = call

http.Response = core.Response
http.ExpectError = ExpectError

--- True when err was raised by `expect=`.
function http.is_expect_error(err)
  return getmetatable(err) == ExpectError
end

return http
