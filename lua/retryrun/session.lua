--- Sessions: calls that share a base URL, headers, a retry policy,
-- credentials, a timeout and cookies.
--
-- A session resolves each path against its base (RFC 3986, as a browser
-- resolves a link), puts its options under the call's, and adds its
-- credentials only to requests for the base's origin. Its token auth
-- fetches a token when first needed and renews it when the server refuses
-- it: one renewal however many tasks are refused at once, through
-- `run.once`.
--
-- Made through `http.session{...}`; this module has no public functions
-- of its own.
--
-- @module retryrun.session
-- @usage
-- local api = http.session{base = "https://api.example.com/v1/",
--                          auth = {bearer = os.getenv("API_TOKEN")},
--                          retry = {attempts = 5}}
-- local items = api:get("items", {expect = 200}):json()

local core = require "retryrun.core"
local check = require "retryrun.check"
local retry = require "retryrun.retry"
local run = require "retryrun.run"

local type, pairs, ipairs, error, tostring = type, pairs, ipairs, error,
                                             tostring
local setmetatable, pcall = setmetatable, pcall
local fail, show, suggest = check.fail, check.show, check.suggest
local argtype = check.argtype
local url_origin, secret_header = core.url_origin, core.secret_header

local session = {}

local FIELDS = {base = true, headers = true, retry = true, auth = true,
                timeout = true, cookies = true, compressed = true,
                insecure = true, cacert = true}
local AUTH_FIELDS = {bearer = true, basic = true, token = true,
                     refresh_on = true}
local AUTH_FORMS = "{bearer = TOKEN}, {basic = {USER, PASSWORD}} or " ..
                   "{token = FUNCTION, refresh_on = {401}}"
local VERBS = {"get", "head", "delete", "options", "post", "put", "patch"}

-- ---- RFC 3986 reference resolution (section 5.2) ----

-- scheme, authority, path, query and fragment of a URL or a reference;
-- the absent ones nil (the path is always a string, maybe "").
local function split(s)
  local scheme = s:match("^(%a[%w+.-]*):")
  if scheme then
    s = s:sub(#scheme + 2)
  end
  local fragment = s:match("#(.*)$")
  if fragment then
    s = s:sub(1, #s - #fragment - 1)
  end
  local query = s:match("%?(.*)$")
  if query then
    s = s:sub(1, #s - #query - 1)
  end
  local authority = s:match("^//([^/]*)")
  if authority then
    s = s:sub(#authority + 3)
  end
  return scheme, authority, s, query, fragment
end

-- The path with its "." and ".." segments resolved (section 5.2.4).
local function remove_dots(path)
  local out = {}
  while path ~= "" do
    if path:find("^%.%.?/") then
      path = path:sub(path:find("/") + 1)
    elseif path:find("^/%./") or path == "/." then
      path = "/" .. path:sub(4)
    elseif path:find("^/%.%./") or path == "/.." then
      path = "/" .. path:sub(5)
      out[#out] = nil
    elseif path == "." or path == ".." then
      path = ""
    else
      local seg = path:match("^/?[^/]*")
      out[#out + 1] = seg
      path = path:sub(#seg + 1)
    end
  end
  return table.concat(out)
end

-- The target URL of reference ref against base (section 5.2.2), without
-- the fragment, which never reaches the server.
local function resolve(base, ref)
  local rs, ra, rp, rq = split(ref)
  if rs then
    rp = remove_dots(rp)
  else
    local bs, ba, bp, bq = split(base)
    if ra then
      rp = remove_dots(rp)
    elseif rp == "" then
      ra, rp, rq = ba, bp, rq or bq
    else
      if rp:sub(1, 1) ~= "/" then
        rp = (ba and bp == "" and "/" or bp:match("^.*/") or "") .. rp
      end
      ra, rp = ba, remove_dots(rp)
    end
    rs = bs
  end
  return rs .. ":" .. (ra and "//" .. ra or "") .. rp ..
         (rq and "?" .. rq or "")
end

-- ---- credentials ----

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a << 16 | (b or 0) << 8 | (c or 0)
    for j = 0, 3 do
      if j <= (c and 3 or b and 2 or 1) then
        local k = (n >> (18 - 6 * j) & 63) + 1
        out[#out + 1] = B64:sub(k, k)
      else
        out[#out + 1] = "="
      end
    end
  end
  return table.concat(out)
end

-- A credential may not hold a control character (nor, for a token or a
-- user name, a space or a ':'). The message never shows it.
local function check_credential(v, what, extra)
  if type(v) ~= "string" or v == "" or v:find("[%c" .. (extra or "") ..
                                              "]") then
    fail(("%s must be a non-empty string without control characters%s "
          .. "(got %s)"):format(what, extra == " " and " or spaces" or
          extra and ", spaces or ':'" or "",
          type(v) == "string" and "one that is not" or type(v)))
  end
  return v
end

-- The statuses a token is renewed on, as a set.
local function status_set(list)
  if list == nil then
    return {[401] = true}
  end
  if type(list) ~= "table" or #list == 0 then
    fail("auth.refresh_on must be a non-empty list of statuses (got "
         .. show(list) .. ")")
  end
  local set = {}
  for i, s in ipairs(list) do
    if math.type(s) ~= "integer" or s < 100 or s > 599 then
      fail(("auth.refresh_on entry %d must be a status from 100 to 599 "
            .. "(got %s)"):format(i, show(s)))
    end
    set[s] = true
  end
  return set
end

-- auth= as {header = "Bearer ..."} or {token = fn, refresh_on = set}.
local function compile_auth(auth)
  if type(auth) ~= "table" then
    fail(("auth must be %s (got %s)"):format(AUTH_FORMS, type(auth)))
  end
  local forms = 0
  for k in pairs(auth) do
    if not AUTH_FIELDS[k] then
      fail(("unknown auth field %s%s"):format(
           type(k) == "string" and "'" .. k .. "'" or show(k),
           type(k) == "string" and suggest(k, AUTH_FIELDS) or ""))
    end
    forms = forms + (k ~= "refresh_on" and 1 or 0)
  end
  if forms ~= 1 then
    fail(("auth takes one of bearer, basic or token: %s"):format(AUTH_FORMS))
  end
  if auth.refresh_on ~= nil and auth.token == nil then
    fail("auth.refresh_on goes with auth.token (a fixed credential cannot "
         .. "be renewed)")
  end
  if auth.bearer ~= nil then
    return {header = "Bearer " .. check_credential(auth.bearer,
                                                   "auth.bearer", " ")}
  elseif auth.basic ~= nil then
    local b = auth.basic
    if type(b) ~= "table" then
      fail("auth.basic must be {USER, PASSWORD} or {user = USER, password "
           .. "= PASSWORD} (got " .. type(b) .. ")")
    end
    local user = check_credential(b.user or b[1], "auth.basic user", " :")
    local pass = b.password or b[2]
    if type(pass) ~= "string" or pass:find("%c") then
      fail("auth.basic password must be a string without control "
           .. "characters (got " .. (type(pass) == "string" and
           "one that is not" or type(pass)) .. ")")
    end
    return {header = "Basic " .. base64(user .. ":" .. pass)}
  end
  argtype(1, "auth.token", auth.token, "function")
  return {token = auth.token, refresh_on = status_set(auth.refresh_on)}
end

-- Calls the token function; the token, or raises with what went wrong
-- (redacted: the function's own message may carry a URL with a secret,
-- or the token it replaces or a session header's value: secrets).
local function fetch_token(fn, secrets)
  local ok, tok = pcall(fn)
  if not ok then
    error("auth token function failed: "
          .. core.redact(tostring(tok), secrets), 0)
  end
  if type(tok) ~= "string" or tok == "" or tok:find("[%c ]") then
    error(("auth token function must return a token, a non-empty string "
           .. "without spaces or control characters (got %s)"):format(
           type(tok) == "string" and "one that is not" or type(tok)), 0)
  end
  return tok
end

-- ---- the session ----

local Session = {__name = "retryrun.Session"}
Session.__index = Session

-- has_header(headers, name): retryrun.http's, handed over by bind.
local has_header

-- The token to send: the one held, or one fetched now (one fetch for all
-- the tasks that need it at once).
local function current_token(self)
  local state = self.state
  if state.fetcher and state.fetcher == core.current() then
    error("the token function made a call through its own session, which "
          .. "needs the token being fetched: fetch it with http.* instead", 0)
  end
  if not state.token then
    state.token = run.once(state, state.fetch)
  end
  return state.token
end

--- Makes a session.
-- @tparam table opts
--   `base`: the URL paths resolve against (http or https);
--   `headers`: sent with every call, under the call's own (names compared
--   in any case); a secret one (Authorization, Cookie, an API key...) only
--   to base's origin;
--   `retry`: the policy of every call that names none (a policy, a table
--   of fields over the default, or false);
--   `auth`: `{bearer = TOKEN}`, `{basic = {USER, PASSWORD}}` (or
--   `{user = , password = }`), or `{token = FUNCTION, refresh_on =
--   {401}}`; sent only to base's origin, so it needs base;
--   `timeout`: seconds per attempt of every call that gives none;
--   `cookies`: true to keep the cookies the server sets and send them
--   back, in a jar of the session's own;
--   `compressed`: true (the default) to ask every call that gives none
--   for a compressed answer and decode it; false for the bytes as sent
--   `insecure`, `cacert`: the TLS trust of every call that gives none
-- @return the Session
-- @raise on a bad or unknown field
function session.new(http, key, opts)
  argtype(1, "session", opts, "table")
  for k in pairs(opts) do
    if not FIELDS[k] then
      fail(("unknown session option %s%s"):format(
           type(k) == "string" and "'" .. k .. "'" or show(k),
           type(k) == "string" and suggest(k, FIELDS) or ""))
    end
  end
  local self = setmetatable({http = http, key = key, headers = {}},
                            Session)
  local base = opts.base
  if base ~= nil then
    if type(base) ~= "string" or not base:find("^[hH][tT][tT][pP][sS]?://")
       or not url_origin(base) or base:find("^%a+://[/?#]") or
       base:find("%c") then
      fail(("base must be an http or https URL (got %s)"):format(
           type(base) == "string" and core.redact(show(base)) or
           type(base)))
    end
    self.base, self.origin = base, url_origin(base)
  end
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then
      fail("headers must be a table (got " .. type(opts.headers) .. ")")
    end
    local seen = {}             -- lower-case name: the name as given
    for k, v in pairs(opts.headers) do
      if type(k) ~= "string" then
        fail("session header names must be strings (got " .. show(k) .. ")")
      elseif type(v) ~= "string" and not math.type(v) then
        fail(("session header '%s' must be a string or a number (got %s)")
             :format(k, type(v)))
      elseif seen[k:lower()] then
        fail(("header '%s' is given twice (as '%s' and '%s'): header "
              .. "names ignore case"):format(k, seen[k:lower()], k))
      end
      seen[k:lower()] = k
      self.headers[k] = math.type(v) and tostring(v) or v
    end
  end
  local r = opts.retry
  if r ~= nil and r ~= false and not retry.is_policy(r) then
    if type(r) ~= "table" then
      fail("retry= takes a policy, a table of policy fields or false (got "
           .. type(r) .. ")")
    end
    r = retry.default:extend(r)
  end
  self.retry = r
  local t = opts.timeout
  if t ~= nil and (type(t) ~= "number" or not (t >= 0.001 and t <= 1e9)) then
    fail(("timeout must be a number of seconds from 0.001 to 1e9 (got %s)")
         :format(show(t)))
  end
  self.timeout = t
  if opts.cookies ~= nil and type(opts.cookies) ~= "boolean" then
    fail("cookies must be true or false (got " .. show(opts.cookies) .. ")")
  end
  self.jar = opts.cookies and core.cookie_jar() or nil
  if opts.insecure ~= nil and type(opts.insecure) ~= "boolean" then
    fail("insecure must be true or false (got " .. show(opts.insecure) .. ")")
  end
  if opts.cacert ~= nil and type(opts.cacert) ~= "string" then
    fail("cacert must be the path of a CA bundle (got " .. show(opts.cacert)
         .. ")")
  end
  self.insecure, self.cacert = opts.insecure, opts.cacert
  -- on unless turned off: a session's calls read an API's JSON, where
  -- the bytes saved add up (docs/reference.md, Compressed responses)
  if opts.compressed ~= nil and type(opts.compressed) ~= "boolean" then
    fail("compressed must be true or false (got " .. show(opts.compressed)
         .. ")")
  end
  self.compressed = opts.compressed ~= false
  if opts.auth ~= nil then
    if not self.base then
      fail("auth needs base=: credentials are sent only to base's origin")
    end
    if has_header(self.headers, "authorization") then
      -- the header would win over auth, and a token would never be renewed
      fail("headers.Authorization and auth both give credentials: give one")
    end
    self.auth = compile_auth(opts.auth)
  end
  self:bind()
  return self
end

-- Makes the function the session's calls carry (http.lua's SESSION key):
-- given a call's URL and its headers, it adds the session's headers and
-- credentials where they may go, and returns the refresh function and
-- the cookie jar of the request.
function Session:bind()
  local auth, state = self.auth, {}
  local renew
  self.state = state
  if auth and auth.token then
    local fn = auth.token
    state.fetch = function()
      state.fetcher = core.current()
      local secrets = {}
      for k, v in pairs(self.headers) do secrets[k] = v end
      secrets.Authorization = state.token and "Bearer " .. state.token
      local ok, tok = pcall(fetch_token, fn, {headers = secrets})
      state.fetcher = nil
      if not ok then
        error(tok, 0)
      end
      return tok
    end
    -- runs in the C engine after each response (req.refresh): true when
    -- the request should be made again with the credentials it set; nil
    -- and a message ends the call with that error
    renew = function(resp, req)
      if not auth.refresh_on[resp.status] or
         req.headers.Authorization == nil then
        return false
      end
      if req.headers.Authorization == "Bearer " .. state.token then
        -- the token held was refused: renew it, once for every task
        local ok, tok = pcall(run.once, state, state.fetch)
        if not ok then
          return nil, tok
        end
        state.token = tok
      end
      req.headers.Authorization = "Bearer " .. state.token
      return true
    end
  end
  self.prepare = function(url, headers)
    local same = self.origin and url_origin(url) == self.origin
    for name, v in pairs(self.headers) do
      if not has_header(headers, name) and
         (same or not self.origin or not secret_header(name)) then
        headers[name] = v
      end
    end
    local refresh
    if auth and same and not has_header(headers, "authorization") then
      if auth.token then
        local ok, tok = pcall(current_token, self)
        if not ok then
          fail(tok)
        end
        headers.Authorization = "Bearer " .. tok
        refresh = renew
      else
        headers.Authorization = auth.header
      end
    end
    return refresh, self.jar
  end
end

--- The URL a path (a reference) names: resolved against base the way
-- RFC 3986 says ("items" after the last "/" of base's path, "/items" from
-- its root, "?page=2" on its path, "//host/x" and full URLs as they are).
-- Without base, path must be a full URL.
-- @tparam string path
-- @treturn string the URL, without any #fragment
function Session:url(path, fname)
  argtype(1, fname or "url", path, "string")
  if self.base then
    return resolve(self.base, path)
  end
  if not path:find("^%a[%w+.-]*://") then
    fail(("%s is not a full URL and the session has no base"):format(
         core.redact(show(path))))
  end
  return path
end

-- The call's options over the session's, as a new table.
local function merged(self, opts, fname)
  argtype(2, fname, opts, "table", true)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  -- inside policy(fn), a call that names no policy makes one attempt
  if o.retry == nil and self.retry ~= nil and not core.in_wrapper() then
    o.retry = self.retry
  end
  if o.timeout == nil then
    o.timeout = self.timeout
  end
  if o.compressed == nil then
    o.compressed = self.compressed
  end
  if o.insecure == nil then
    o.insecure = self.insecure
  end
  if o.cacert == nil then
    o.cacert = self.cacert
  end
  o[self.key] = self.prepare
  return o
end

for _, name in ipairs(VERBS) do
  --- `s:get(path [, opts])`: http.get on the resolved URL with the
  -- session's options under opts; likewise head, delete, options, post,
  -- put, patch.
  Session[name] = function(self, path, opts)
    local resp, err = self.http[name](self:url(path, name),
                                      merged(self, opts, name))
    return resp, err
  end
end

--- `s:request(opts)`: http.request with opts.url resolved against base.
function Session:request(opts)
  argtype(1, "request", opts, "table")
  if type(opts.url) ~= "string" then
    fail("request needs a url (a path or a URL, got " .. type(opts.url)
         .. ")")
  end
  local o = merged(self, opts, "request")
  o.url = self:url(opts.url)
  local resp, err = self.http.request(o)
  return resp, err
end

-- s:poll and s:pages: the http function of that name on the resolved URL
-- with the session's options, where retryrun.http has it.
for _, name in ipairs{"poll", "pages"} do
  Session[name] = function(self, path, opts)
    local f = self.http[name]
    if not f then
      fail(("http.%s is not part of this retryrun"):format(name))
    end
    return f(self:url(path, name), merged(self, opts, name))
  end
end

--- Binds the constructor to retryrun.http, the key its calls read and
-- its test for a header by name, in any case.
-- @return `http.session`
function session.bind(http, key, header_test)
  has_header = header_test
  return function(opts) return session.new(http, key, opts) end
end

session.resolve = resolve

return session
