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
local check = require "retryrun.check"
local json_encode = require("retryrun.json").encode

local type, pairs, ipairs, error, tostring = type, pairs, ipairs, error,
                                             tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local request_core, in_wrapper, uuid = core.request, core.in_wrapper,
                                       core.uuid
local plain_call = core.plain_call
local redact, idempotent = core.redact, core.idempotent
local fail, show, suggest = check.fail, check.show, check.suggest
local argtype = check.argtype

local http = {}

local EMPTY = {}
-- A POST with no body still sends Content-Length: 0.
local BODY_METHODS = {POST = true, PUT = true, PATCH = true}

-- The key under which a session's calls carry it in their options: a
-- function of the URL and the headers that adds the session's headers and
-- credentials where they may go, and returns the call's refresh function
-- and cookie jar (retryrun.session).
local SESSION = setmetatable({}, {__name = "session"})

-- retryrun.multipart and retryrun.session (with retryrun.run) are loaded
-- when a call first needs them, so a run that uses neither starts
-- without them; each wrapper tail-calls, adding no frame to the stack.
local function multipart_parts(spec)
  return require("retryrun.multipart").parts(spec)
end

local OPTIONS = {method = true, url = true, headers = true, query = true,
                 body = true, json = true, timeout = true, retry = true,
                 expect = true, max_body = true, insecure = true,
                 cacert = true, form = true, multipart = true,
                 compressed = true}

-- The options that make a body, one at most a call.
local BODIES = {"body", "json", "form", "multipart"}

-- Methods written in upper case whatever case the script gives; any
-- other token is sent as given (methods are case-sensitive).
local KNOWN_METHODS = {GET = true, HEAD = true, POST = true, PUT = true,
                       DELETE = true, OPTIONS = true, TRACE = true,
                       PATCH = true, CONNECT = true}

-- Whether the safety rule lets a method be repeated (core.idempotent),
-- remembered per method: a call then reads its policy's idempotency_key
-- only when it may need one.
local IDEMPOTENT = setmetatable({}, {__index = function(t, m)
  local v = idempotent(m)
  t[m] = v
  return v
end})

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

-- The number of keys in table t.
local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- True when headers has one named name, in any case.
local function has_header(headers, name)
  name = name:lower()
  for k in pairs(headers) do
    if type(k) == "string" and k:lower() == name then return true end
  end
  return false
end

-- Raises unless query (or form: what) value v for key k is a string or
-- a number.
local function check_query_value(k, v, what)
  local t = type(v)
  if (t ~= "string" and t ~= "number") or v ~= v or v == 1 / 0 or
     v == -1 / 0 then
    fail(("%s value for '%s' must be a string, a number or a list of "
          .. "them (got %s)"):format(what, k, show(v)))
  end
end

-- "a=1&b=x%20y" from {a = 1, b = "x y"}, keys sorted so URLs are stable;
-- a list value repeats the key. Keys are strings or numbers, values
-- strings, numbers or lists of them; anything else raises, naming what
-- the table is ("query", or "form").
local function encode_query(q, what)
  what = what or "query"
  local keys = {}
  for k in pairs(q) do
    if type(k) ~= "string" and type(k) ~= "number" then
      fail(("%s keys must be strings or numbers (got %s)")
           :format(what, type(k)))
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      if count(v) ~= #v then
        fail(("%s value for '%s' must be a string, a number or a list "
              .. "of them (got a table that is not a list)"):format(what, k))
      end
      for _, x in ipairs(v) do
        check_query_value(k, x, what)
        parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(x)
      end
    else
      check_query_value(k, v, what)
      parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(v)
    end
  end
  return table.concat(parts, "&")
end

-- url with the encoded query q added to its query: after any query it
-- has (with "&"), before any #fragment (which never reaches the server).
local function add_query(url, q)
  local base, fragment = url:match("^([^#]*)(#.*)$")
  if not base then
    base, fragment = url, ""
  end
  local sep = "?"
  if base:find("?", 1, true) then
    sep = base:find("[?&]$") and "" or "&"
  end
  return base .. sep .. q .. fragment
end

-- Raises unless m is a method; the method to send: a known one in upper
-- case, another token as given. A missing method is GET.
local function method_of(m, opts)
  if m == nil then
    -- as curl does: a body makes a POST, which the safety rule then
    -- judges as one
    for _, k in ipairs(BODIES) do
      if opts[k] ~= nil then return "POST" end
    end
    return "GET"
  elseif type(m) ~= "string" then
    fail(("method must be a string (got %s)"):format(type(m)))
  end
  local up = m:upper()
  return KNOWN_METHODS[up] and up or m
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
  fail("retry= takes a policy, a table of policy fields or false (got "
       .. type(r) .. ")")
end

local ExpectError = {__name = "retryrun.ExpectError"}
ExpectError.__index = ExpectError
function ExpectError:__tostring() return self.message end

local EXPECT_FORMS = 'a status (200 or "200"), a class ("2xx") or a ' ..
                     "list of them"

-- One expect= entry as a status (an integer) or a class ("2xx"), or nil.
local function expect_entry(v)
  if type(v) == "string" then
    if v:find("^[1-5][xX][xX]$") then
      return v:sub(1, 1) .. "xx"
    end
    v = v:find("^%d%d%d$") and tonumber(v)
  end
  local s = math.type(v) and math.tointeger(v)
  if s and s >= 100 and s <= 599 then
    return s
  end
end

-- expect= as a list of statuses and classes, checked before the call:
-- raises at the script's line on anything else.
local function compile_expect(expect)
  if type(expect) ~= "table" then
    local e = expect_entry(expect)
    if not e then
      fail(("expect must be %s (got %s)"):format(EXPECT_FORMS,
                                                 show(expect)))
    end
    return {e}
  end
  if #expect == 0 or count(expect) ~= #expect then
    fail(("expect must be %s (got a table that is not a non-empty list)")
         :format(EXPECT_FORMS))
  end
  local want = {}
  for i, v in ipairs(expect) do
    want[i] = expect_entry(v)
    if not want[i] then
      fail(("expect entry %d must be a status (200 or \"200\") or a class "
            .. "(\"2xx\") (got %s)"):format(i, show(v)))
    end
  end
  return want
end

-- Returns resp when its status is one of want (compile_expect's list),
-- else raises an ExpectError carrying it.
local function check_expect(resp, want, req)
  local status = resp.status
  for _, s in ipairs(want) do
    if status == s or (type(s) == "string" and
                       s:byte() - 48 == status // 100) then
      return resp
    end
  end
  local wanted = {}
  for i, s in ipairs(want) do wanted[i] = tostring(s) end
  error(setmetatable({
    -- the body may echo the request's credentials: redacted with them,
    -- then cut, so that no part of one shows
    message = ("%s %s: expected status %s, got %d %s"):format(resp.method,
      redact(resp.url, req), table.concat(wanted, " or "), status,
      redact(resp.body:sub(1, 4096), req):sub(1, 200):gsub("%s+", " ")),
    response = resp, status = status, expected = want,
  }, ExpectError), 3)
end

-- One logical call: checks the options, builds the request, runs it under
-- `policy` (or the one opts.retry names). Every error about the options is
-- raised at the script's line (check.fail), before anything is sent.
local function call(method, url, opts, policy)
  if opts == nil then
    opts = EMPTY
  else
    for k in pairs(opts) do
      if not OPTIONS[k] and k ~= SESSION then
        fail(("unknown request option %s%s"):format(
          type(k) == "string" and "'" .. k .. "'" or show(k),
          type(k) == "string" and suggest(k, OPTIONS) or ""))
      end
    end
  end
  if type(url) ~= "string" or url == "" then
    fail("request needs a url (a string)")
  end
  if opts.query ~= nil then
    if type(opts.query) ~= "table" then
      fail(("query must be a table (got %s)"):format(type(opts.query)))
    end
    local q = encode_query(opts.query)
    if q ~= "" then
      url = add_query(url, q)
    end
  end
  -- a copy, checked with the rest of the request by core.request (which
  -- raises at the script's line): anything but a table goes there as it is
  local headers = opts.headers
  if headers == nil then
    headers = {}
  elseif type(headers) == "table" then
    headers = {}
    for k, v in pairs(opts.headers) do
      -- a number goes on the wire as tostring writes it, and is hidden
      -- like any other value of a secret header
      headers[k] = math.type(v) and tostring(v) or v
    end
  end
  local refresh, cookies
  if opts[SESSION] and type(headers) == "table" then
    refresh, cookies = opts[SESSION](url, headers)
  end
  -- one body at most: body=, or one made from json=, form= or multipart=
  local body, parts, content_type = opts.body, nil, nil
  local json, form, multipart = opts.json, opts.form, opts.multipart
  if (body ~= nil and 1 or 0) + (json ~= nil and 1 or 0) +
     (form ~= nil and 1 or 0) + (multipart ~= nil and 1 or 0) > 1 then
    local given
    for _, k in ipairs(BODIES) do
      if opts[k] ~= nil then
        if given then
          fail(("give %s or %s, not both"):format(given, k))
        end
        given = k
      end
    end
  end
  if json ~= nil then
    local ok, encoded = pcall(json_encode, json)
    if not ok then
      fail(encoded)
    end
    body, content_type = encoded, "application/json"
  elseif form ~= nil then
    if type(form) ~= "table" then
      fail(("form must be a table of name = value (got %s)")
           :format(type(form)))
    end
    body = encode_query(form, "form")
    content_type = "application/x-www-form-urlencoded"
  elseif multipart ~= nil then
    -- libcurl writes its Content-Type, with the boundary
    parts = multipart_parts(multipart)
  elseif body ~= nil and type(body) ~= "string" then
    fail(("body must be a string (got %s): json= takes a table")
         :format(type(body)))
  elseif body == nil and BODY_METHODS[method] then
    body = ""
  end
  if content_type and type(headers) == "table" and
     not has_header(headers, "content-type") then
    headers["Content-Type"] = content_type
  end
  local timeout = opts.timeout
  if timeout ~= nil and (type(timeout) ~= "number" or
                         not (timeout >= 0.001 and timeout <= 1e9)) then
    fail(("timeout must be a number of seconds from 0.001 to 1e9 (got %s)")
         :format(show(timeout)))
  end
  local expect = opts.expect ~= nil and compile_expect(opts.expect)
  if policy and opts.retry ~= nil then
    fail("retry= does not go with a policy's own verbs: the policy is the "
         .. "retry (use policy:extend{...} for other fields)")
  end
  -- the fields given only: a table sized for what a call uses
  local req = {method = method, url = url, headers = headers}
  if body ~= nil then req.body = body end
  if parts ~= nil then req.multipart = parts end
  if opts ~= EMPTY then
    req.compressed, req.max_body = opts.compressed, opts.max_body
    req.insecure, req.cacert = opts.insecure, opts.cacert
  end
  if timeout ~= nil then req.timeout = timeout end
  -- what expect= takes, for the summary, --log and reports to judge by
  if expect then req.expect = expect end
  if refresh ~= nil or cookies ~= nil then
    req.refresh, req.cookies = refresh, cookies
  end
  -- core.request checks the rest, raising at the script's line
  -- inside policy(fn), the wrapper's deadline bounds every attempt
  local left = in_wrapper()
  if left then
    req.timeout = math.max(math.min(timeout or left, left), 0.0001)
  end
  policy = policy or resolve_policy(opts.retry, left)
  -- one idempotency key per logical call, the same on every attempt
  local key = not IDEMPOTENT[method] and policy.idempotency_key
  if key and type(headers) == "table" then
    local name = key == true and "Idempotency-Key" or key
    if not has_header(headers, name) then
      headers[name] = uuid()
    end
    req.idempotency_key = true
  end
  local resp, err = request_core(req, policy)
  if resp and expect then
    return check_expect(resp, expect, req)
  end
  return resp, err
end

-- http.request, and policy:request with the policy given.
local function request(opts, policy)
  argtype(1, "request", opts, "table")
  local resp, err = call(method_of(opts.method, opts), opts.url, opts,
                         policy)
  return resp, err
end

--- Makes one logical HTTP call under a retry policy. Each option takes
-- the type given here, or the call raises at the script's line before
-- anything is sent.
-- @tparam table opts
--   `method`: a string; if absent, "POST" with a body or json= and
--   "GET" without (as curl); a known method (GET, HEAD,
--   POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT) in any case is
--   sent in upper case, any other RFC 9110 token (at most 15 characters)
--   exactly as given;
--   `url`: a string with no control characters;
--   `headers`: a table of name = value, names tokens, values strings or
--   numbers (sent as tostring writes them), with no control characters
--   but tab;
--   `query`: a table of key = value, values strings, numbers or lists of
--   them, encoded into the URL before any #fragment;
--   one of `body` (a string), `json` (a value to encode), `form` (a
--   table of name = value, url-encoded as query is) and `multipart` (a
--   table of name = string, number, {path = file} or {data = bytes},
--   filename and type optional, or a list of them); json and form set
--   Content-Type unless given, libcurl sets multipart's;
--   `compressed`: true to ask for gzip and the like and get the body
--   decoded (max_body caps the decoded body);
--   `timeout`: seconds per attempt, 0.001 to 1e9;
--   `retry`: a policy, a table of policy fields over the default, or
--   false for one attempt;
--   `expect`: a status (200 or "200"), a class ("2xx") or a list of them:
--   any other final status raises;
--   `max_body`: a whole number of bytes, 64 MiB if absent;
--   `insecure`: true or false (true: no TLS verification);
--   `cacert`: the path of a CA bundle
-- @return the Response: `status`, `ok`, `body`, `headers`, `url`,
--   `elapsed`, `attempts`, `resp:json()`, `resp:header(name)`,
--   `resp:header_list(name)`
-- @raise on a bad option; a give-up error when the policy runs out (or
--   returns nil, err with `raise = false`); an expect error carrying the
--   response
function http.request(opts)
  local resp, err = request(opts)
  return resp, err
end

-- The verbs, as http.get(url [, opts]) and as policy:get(url [, opts]).
local VERBS = {"get", "head", "delete", "options", "post", "put", "patch"}
local Policy = core.Policy

for _, name in ipairs(VERBS) do
  local method = name:upper()
  -- a call with no body, query, session or expect, all its options good,
  -- is made in one step (core.plain_call); any other, false from it,
  -- takes call(), which raises the error a bad option deserves
  local plain = IDEMPOTENT[method] and plain_call
  -- raises unless opts (not nil) is a verb's options table
  local function check_verb(opts, policy)
    if type(opts) ~= "table" then argtype(2, name, opts, "table") end
    if opts.method ~= nil or opts.url ~= nil then
      fail(("%s%s takes the url as its first argument and no method "
            .. "(use %srequest for that)"):format(
            policy and "policy:" or "http.", name,
            policy and "policy:" or "http."))
    end
  end
  --- `http.get(url [, opts])`; likewise head, delete, options, post, put,
  -- patch.
  http[name] = function(url, opts)
    if plain then
      local resp, err = plain_call(method, url, opts, nil, retry.default,
                                   retry.none)
      if resp ~= false then return resp, err end
    end
    if opts ~= nil then check_verb(opts) end
    local resp, err = call(method, url, opts)
    return resp, err
  end
  --- `policy:get(url [, opts])`: the same call through the policy.
  Policy[name] = function(policy, url, opts)
    if plain then
      local resp, err = plain_call(method, url, opts, policy)
      if resp ~= false then return resp, err end
    end
    if opts ~= nil then check_verb(opts, policy) end
    local resp, err = call(method, url, opts, policy)
    return resp, err
  end
end

--- Calls through the policy with http.request's options.
function Policy:request(opts)
  local resp, err = request(opts, self)
  return resp, err
end

http.Response = core.Response
http.ExpectError = ExpectError

--- Hides secrets in a text before it is printed, as retryrun does in its
-- own messages: in every URL, user:password@ and the values of secret
-- query parameters become REDACTED.
-- @tparam string text
-- @treturn string
http.redact = function(text) return redact(text) end

--- Adds names to the list of query parameters, form and JSON fields and
-- headers whose values retryrun never prints (matched whole, case and
-- '-'/'_' aside), e.g. `http.redact_names("tenant", "X-Signature")`.
http.redact_names = core.redact_names

local new_session                      -- session.bind's, on first use

--- A session: a base URL, headers, a retry policy, credentials, a
-- timeout and cookies shared by its calls (see retryrun.session).
-- @function session
function http.session(opts)
  new_session = new_session or
                require("retryrun.session").bind(http, SESSION, has_header)
  return new_session(opts)
end

--- True when err was raised by `expect=`.
function http.is_expect_error(err)
  return getmetatable(err) == ExpectError
end

-- http.poll, http.pages, http.parse_links, resp:links() (retryrun.poll)
require("retryrun.poll").install(http, OPTIONS, SESSION)

return http
