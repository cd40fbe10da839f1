-- http.session against todo-server: paths, merged options, auth that
-- renews its token once for many tasks, credentials kept to the base's
-- origin, cookies per session.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local FAST = common.FAST
local USER = {user = "alice", secret = "alice-secret"}

-- The headers /_echo saw, by lower-case name.
local function echoed(resp)
  local seen = {}
  for k, v in pairs(todo.decode(resp.body).headers) do seen[k:lower()] = v end
  return seen
end

-- A token function that returns the token it is given first, then real
-- access tokens from POST /token; `calls` counts its calls.
local function token_source(url, first)
  local src = {calls = 0}
  function src.fn()
    src.calls = src.calls + 1
    if src.calls == 1 and first then
      return first
    end
    return http.post(url .. "/token", {json = USER, expect = 200})
               :json().access_token
  end
  return src
end

local function numbers(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

describe("http.session", function()
  local srv, other
  setup(function()
    srv = todo.start{}
    other = todo.start{}
  end)
  teardown(function()
    srv:stop()
    other:stop()
  end)
  before_each(function() srv:reset_stats() end)

  describe("paths", function()
    it("resolve against base as RFC 3986 says", function()
      local s = http.session{base = "http://a/b/c/d;p?q"}
      -- RFC 3986 section 5.4's examples
      local cases = {
        {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},
        {"//g", "http://g"}, {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q"},
        {"", "http://a/b/c/d;p?q"}, {".", "http://a/b/c/"},
        {"..", "http://a/b/"}, {"../g", "http://a/b/g"},
        {"../../../g", "http://a/g"}, {"/./g", "http://a/g"},
        {"g/../h", "http://a/b/c/h"}, {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g#s/../x", "http://a/b/c/g"},
        {"https://x.example/p/../q", "https://x.example/q"},
      }
      for _, c in ipairs(cases) do
        assert.equal(c[2], s:url(c[1]), c[1])
      end
    end)

    it("keep base's path for a relative one when base ends in /",
       function()
      local s = http.session{base = srv.url .. "/v1/"}
      assert.equal(srv.url .. "/v1/items", s:url("items"))
      assert.equal(srv.url .. "/items", s:url("/items"))
      local resp = s:get("/items", {headers = common.AUTH})
      assert.equal(200, resp.status)
      assert.equal(srv.url .. "/items", resp.url)
    end)

    it("must be full URLs without base", function()
      local s = http.session{}
      assert.equal(200, s:get(srv.url .. "/_echo").status)
      assert.has_error(function() s:get("/items") end,
        '"/items" is not a full URL and the session has no base')
    end)
  end)

  describe("options", function()
    it("refuses an unknown field with a suggestion", function()
      local ok, err = pcall(http.session, {bse = srv.url})
      assert.is_false(ok)
      assert.matches("unknown session option 'bse' %(did you mean "
                     .. "'base'%?%)$", err)
      ok, err = pcall(http.session, {base = srv.url,
                                     auth = {berer = "x"}})
      assert.matches("unknown auth field 'berer' %(did you mean "
                     .. "'bearer'%?%)$", err)
    end)

    it("refuses a bad base, auth without base, and a bad credential",
       function()
      assert.has_error(function() http.session{base = "ftp://x/"} end,
                       'base must be an http or https URL (got "ftp://x/")')
      assert.has_error(function() http.session{auth = {bearer = "t"}} end,
        "auth needs base=: credentials are sent only to base's origin")
      local ok, err = pcall(http.session, {base = srv.url,
                                           auth = {bearer = "a\nsecret"}})
      assert.is_false(ok)
      assert.matches("auth.bearer must be a non%-empty string without "
                     .. "control characters or spaces %(got one that is "
                     .. "not%)$", err)
      assert.is_nil(err:find("secret", 1, true))
      -- a ':' is refused in a basic user only
      assert.equal("Bearer a:b", echoed(http.session{base = srv.url,
        auth = {bearer = "a:b"}}:get("/_echo")).authorization)
      assert.has_error(function()
        http.session{base = srv.url, auth = {bearer = "t", basic = {}}}
      end)
    end)

    it("raises at the script's line on a bad path or option", function()
      local s = http.session{base = srv.url}
      assert.has_error(function() s:get() end,
        "bad argument #1 to 'get' (string expected, got nil)")
      assert.has_error(function() s:request{method = "GET"} end,
        "request needs a url (a path or a URL, got nil)")
      local ok, err = pcall(s.get, s, "/items", {hedaers = {}})
      assert.is_false(ok)
      assert.matches("unknown request option 'hedaers'", err)
      assert.has_error(function() http.session{headers = {X = {}}} end,
        "session header 'X' must be a string or a number (got table)")
      assert.has_error(function() http.session{retry = 3} end,
        "retry= takes a policy, a table of policy fields or false (got "
        .. "number)")
    end)

    it("merges headers by name in any case, the call's over the session's",
       function()
      local s = http.session{base = srv.url, headers = {["X-Tag"] = "s",
                                                        ["X-Keep"] = 7}}
      local seen = echoed(s:get("/_echo", {headers = {["x-tag"] = "c"}}))
      assert.equal("c", seen["x-tag"])
      assert.equal("7", seen["x-keep"])
      seen = echoed(s:post("/_echo", {json = {a = 1}}))
      assert.equal("s", seen["x-tag"])
      assert.equal("application/json", seen["content-type"])
    end)

    it("gives its retry to calls that name none", function()
      local failing <close> = todo.start{"--fail-rate", "1"}
      local s = http.session{base = failing.url, retry = {attempts = 3,
                                                          backoff = FAST}}
      local resp, err = s:get("/items", {headers = common.AUTH,
                                         retry = {attempts = 2,
                                                  backoff = FAST,
                                                  raise = false}})
      assert.is_nil(resp)
      assert.equal(2, #err.attempts)
      local ok, e = pcall(s.get, s, "/items", {headers = common.AUTH})
      assert.is_false(ok)
      assert.equal(3, #e.attempts)
      s = http.session{base = failing.url, retry = false}
      assert.equal(500, s:get("/items", {headers = common.AUTH}).status)
      assert.equal(2 + 3 + 1, failing:stats().faults.fail)
    end)

    it("gives its timeout to calls that give none", function()
      local slow <close> = todo.start{"--slow-rate", "1", "--slow-ms", "3000"}
      local s = http.session{base = slow.url, timeout = 0.2, retry = false}
      local ok, err = pcall(s.get, s, "/_echo")
      assert.is_false(ok)
      assert.equal("timeout", err.attempts[1].error)
    end)

    it("requests with s:request, the url resolved", function()
      local s = http.session{base = srv.url .. "/"}
      local resp = s:request{method = "PUT", url = "_echo", body = "x"}
      assert.equal("PUT", todo.decode(resp.body).method)
      assert.equal(srv.url .. "/_echo", resp.url)
    end)
  end)

  describe("auth", function()
    it("sends a bearer token and a basic login", function()
      local s = http.session{base = srv.url, auth = {bearer = "alice-secret"}}
      assert.equal(200, s:get("/items").status)
      assert.equal("Bearer alice-secret",
                   echoed(s:get("/_echo")).authorization)
      s = http.session{base = srv.url, auth = {basic = {"alice", "pw"}}}
      -- base64 of "alice:pw"
      assert.equal("Basic YWxpY2U6cHc=", echoed(s:get("/_echo")).authorization)
      s = http.session{base = srv.url,
                       auth = {basic = {user = "bob", password = "pass1"}}}
      assert.equal("Basic Ym9iOnBhc3Mx", echoed(s:get("/_echo")).authorization)
    end)

    it("sends no credential to another origin, nor a secret header",
       function()
      local s = http.session{base = srv.url, auth = {bearer = "alice-secret"},
                             headers = {["X-Api-Key"] = "k1", ["X-Tag"] = "t"}}
      local seen = echoed(s:get(other.url .. "/_echo"))
      assert.is_nil(seen.authorization)
      assert.is_nil(seen["x-api-key"])
      assert.equal("t", seen["x-tag"])
      seen = echoed(s:get("/_echo"))
      assert.equal("k1", seen["x-api-key"])
      assert.equal("Bearer alice-secret", seen.authorization)
      -- nor through a redirect to the other origin
      seen = echoed(s:get("/_redirect", {query = {to = other.url .. "/_echo"}}))
      assert.is_nil(seen.authorization)
    end)

    it("renews the token once for 32 tasks refused at once", function()
      local src = token_source(srv.url, "stale-token")
      local s = http.session{base = srv.url, retry = false,
                             auth = {token = src.fn}}
      local got = run.map(numbers(32), function()
        local resp = s:get("/items")
        return resp.status .. " in " .. resp.attempts
      end)
      for i = 1, 32 do assert.equal("200 in 1", got[i]) end
      assert.equal(2, src.calls)             -- the first, then one renewal
      local stats = srv:stats()
      assert.equal(1, stats.tokens_issued)   -- one POST /token
      assert.equal(1 + 32 + 32, stats.requests)
    end)

    it("fetches the first token once, lazily", function()
      local src = token_source(srv.url)
      local s = http.session{base = srv.url, auth = {token = src.fn}}
      assert.equal(0, src.calls)
      run.map(numbers(8), function() return s:get("/items").status end)
      assert.equal(1, src.calls)
      assert.equal(1, srv:stats().tokens_issued)
    end)

    it("renews at most once a call: an always-401 ends with the 401",
       function()
      local calls = 0
      local s = http.session{base = srv.url, auth = {token = function()
        calls = calls + 1
        return "wrong-" .. calls
      end}}
      local resp = s:get("/items")
      assert.equal(401, resp.status)
      assert.equal(1, resp.attempts)
      assert.equal(2, calls)
      assert.equal(2, srv:stats().requests)
      -- with expect=, the call's normal error
      local ok, err = pcall(s.get, s, "/items", {expect = 200})
      assert.is_false(ok)
      assert.is_true(http.is_expect_error(err))
      assert.equal(3, calls)
    end)

    it("does not renew on a 401 from another origin", function()
      local src = token_source(srv.url, "stale")
      local s = http.session{base = srv.url, auth = {token = src.fn}}
      local resp = s:get("/_redirect", {query = {to = other.url .. "/items"}})
      assert.equal(401, resp.status)
      assert.equal(other.url .. "/items", resp.url)
      assert.equal(1, src.calls)
    end)

    it("renews on the statuses refresh_on names", function()
      local src = token_source(srv.url, "stale")
      local s = http.session{base = srv.url,
                             auth = {token = src.fn, refresh_on = {403}}}
      assert.equal(401, s:get("/items").status)
      assert.equal(1, src.calls)
    end)

    it("says so when the token function calls its own session", function()
      local s
      s = http.session{base = srv.url, auth = {token = function()
        return s:get("/_echo").body
      end}}
      local ok, err = pcall(s.get, s, "/_echo")
      assert.is_false(ok)
      assert.matches("auth token function failed: .*the token function made "
                     .. "a call through its own session", err)
    end)

    it("raises a token function's error, redacted", function()
      local s = http.session{base = srv.url, auth = {token = function()
        error("cannot log in at http://alice:hunter2@" .. "idp.example/")
      end}}
      local ok, err = pcall(s.get, s, "/items")
      assert.is_false(ok)
      assert.matches("auth token function failed: .*cannot log in at "
                     .. "http://REDACTED@idp.example/$", err)
      assert.is_nil(err:find("hunter2", 1, true))
      s = http.session{base = srv.url, auth = {token = function()
        return 42
      end}}
      assert.has_error(function() s:get("/items") end)
    end)

    it("raises a renewal's error, with the refused token redacted",
       function()
      local n = 0
      local s = http.session{base = srv.url, auth = {token = function()
        n = n + 1
        if n == 1 then return "old-token-xyz" end
        error("token service down")
      end}}
      local ok, err = pcall(s.get, s, "/items")
      assert.is_false(ok)
      assert.matches("^auth token function failed: .*token service down$",
                     err)
      assert.is_nil(tostring(err):find("old-token-xyz", 1, true))
    end)

    it("traces and counts the attempt whose renewal failed", function()
      -- the 401 reached the server: -v, --log and the summary show it
      local path = common.write_script([[
        local http = require "retryrun.http"
        local n = 0
        local s = http.session{base = arg[1], auth = {token = function()
          n = n + 1
          if n == 1 then return "old-token-xyz" end
          error("token service down")
        end}}
        print(pcall(s.get, s, "/items"))
      ]])
      local log = os.tmpname()
      local code, out = common.sh(("%s -v --summary --log %s %s %s 2>&1")
        :format(common.quote(common.BIN), common.quote(log),
                common.quote(path), common.quote(srv.url)))
      os.remove(path)
      local f = assert(io.open(log))
      local records = f:read("a")
      f:close()
      os.remove(log)
      assert.equal(0, code)
      assert.matches("attempt 1  401  %d+ ms  give up: the credentials "
                     .. "could not be renewed", out)
      assert.matches("1 call, 1 attempt, 0 retries, 1 gave up", out)
      assert.matches('"event":"attempt".-"status":401.-"reason":"auth"',
                     records)
      assert.matches('"event":"call".-"outcome":"gave_up","reason":"auth"',
                     records)
      assert.is_nil((out .. records):find("old-token-xyz", 1, true))
    end)

    it("refuses an Authorization header beside auth", function()
      assert.has_error(function()
        http.session{base = srv.url, auth = {bearer = "tok-1"},
                     headers = {authorization = "Bearer other"}}
      end, "headers.Authorization and auth both give credentials: give one")
    end)

    -- one of the two was dropped without a word
    it("refuses a header name given twice in two cases", function()
      local ok, err = pcall(http.session, {base = srv.url,
        headers = {["X-Tenant"] = "one", ["x-tenant"] = "two"}})
      assert.is_false(ok)
      assert.matches("header '[Xx]%-[Tt]enant' is given twice %(as "
                     .. "'[Xx]%-[Tt]enant' and '[Xx]%-[Tt]enant'%): header "
                     .. "names ignore case", err)
    end)

    it("hides its credentials in an expect error's body", function()
      local s = http.session{base = srv.url, auth = {bearer = "tok-4242x"}}
      local ok, err = pcall(s.get, s, "/_echo", {expect = 201})
      assert.is_false(ok)
      assert.is_nil(tostring(err):find("tok-4242x", 1, true))
      assert.truthy(tostring(err):find("REDACTED", 1, true))
    end)
  end)

  describe("poll and pages", function()
    it("poll and page through base with the session's credentials",
       function()
      local s = http.session{base = srv.url .. "/v1/", retry = false,
                             auth = {bearer = "alice-secret"}}
      local resp = s:poll("/_echo", {every = 0.001, ready = function(r)
        return echoed(r).authorization == "Bearer alice-secret"
      end})
      assert.equal(1, resp.polls)
      local pages = 0
      for page in s:pages("/items") do   -- 2xx only with the credentials
        pages = pages + 1
        assert.equal(srv.url .. "/items", page.url)
      end
      assert.equal(1, pages)
    end)

    it("hide the session's token in a poll's or a page's error",
       function()
      local s = http.session{base = srv.url, retry = false,
                             auth = {token = function() return "tok-777x" end}}
      local ok, err = pcall(s.poll, s, "/_echo", {ready = function(r)
        return nil, "refused " .. echoed(r).authorization
      end})
      assert.is_false(ok)
      assert.equal("stopped", err.reason)
      assert.is_nil(tostring(err):find("tok-777x", 1, true), tostring(err))
      ok, err = pcall(function()
        for _ in s:pages("/_echo", {next = function(r)
          error("no next for " .. echoed(r).authorization)
        end}) do end
      end)
      assert.is_false(ok)
      assert.matches("next%(%) raised at page 1", err)
      assert.is_nil(err:find("tok-777x", 1, true), err)
    end)
  end)

  describe("cookies", function()
    it("keeps the cookies a server sets, per session", function()
      local a = http.session{base = srv.url, cookies = true}
      local b = http.session{base = srv.url, cookies = true}
      local plain = http.session{base = srv.url}
      assert.equal('{"cookie":null}', a:get("/_cookie?set=sid=abc").body)
      assert.equal('{"cookie":"sid=abc"}', a:get("/_cookie").body)
      assert.equal('{"cookie":null}', b:get("/_cookie").body)
      b:get("/_cookie", {query = {set = "sid=other"}})
      assert.equal('{"cookie":"sid=other"}', b:get("/_cookie").body)
      assert.equal('{"cookie":"sid=abc"}', a:get("/_cookie").body)
      -- and on a redirect hop
      assert.equal('{"cookie":"sid=abc"}', a:get("/_redirect", {query = {
        to = srv.url .. "/_cookie"}}).body)
      plain:get("/_cookie?set=sid=p")
      assert.equal('{"cookie":null}', plain:get("/_cookie").body)
      assert.equal('{"cookie":null}', http.get(srv.url .. "/_cookie").body)
    end)

    it("refuses cookies that are not a boolean", function()
      assert.has_error(function() http.session{cookies = "yes"} end,
                       'cookies must be true or false (got "yes")')
    end)
  end)

  describe("compressed", function()
    it("is on by default: asked for and decoded", function()
      local s = http.session{base = srv.url}
      local resp = s:get("/_gzip?pad=1000")
      assert.equal("gzip", resp:header("Content-Encoding"))
      local seen = resp:json()
      assert.equal(("x"):rep(1000), seen.pad)
      assert.truthy(seen.headers["Accept-Encoding"]:find("gzip", 1, true))
    end)

    it("is off with compressed = false, or for a call that says so",
       function()
      local s = http.session{base = srv.url, compressed = false}
      assert.equal("\31\139", s:get("/_gzip?pad=10").body:sub(1, 2))
      s = http.session{base = srv.url}
      assert.equal("\31\139",
                   s:get("/_gzip?pad=10", {compressed = false}).body:sub(1, 2))
      assert.has_error(function() http.session{compressed = 1} end,
                       "compressed must be true or false (got 1)")
    end)
  end)

  describe("s:poll and s:pages", function()
    -- a session as a runbook makes it: token auth whose first token is
    -- stale (so the first call renews it), and cookies
    local function session(url, extra)
      local src = token_source(url, "stale-token")
      local opts = {base = url, cookies = true, auth = {token = src.fn,
                    refresh_on = {401}}}
      for k, v in pairs(extra or {}) do opts[k] = v end
      return http.session(opts), src
    end

    it("poll with the session's auth, renewal and cookies", function()
      local lag <close> = todo.start{"--lag", "200"}
      local s, src = session(lag.url)
      s:get("/_cookie?set=sid=p1")
      local id = s:post("/items", {json = {summary = "polled"},
                                   expect = 201}):json().id
      local resp = s:poll("/items/" .. id, {every = 0.05, deadline = 30,
        ready = function(r) return r.status == 200 end})
      assert.equal("polled", resp:json().summary)
      assert.equal(resp.polls - 1, lag:stats().faults.lag_404)
      assert.equal(2, src.calls)      -- the stale token, one renewal
      assert.equal(1, lag:stats().tokens_issued)
      resp = s:poll("/_cookie", {every = 0.01,
        ready = function(r) return r:json().cookie == "sid=p1" end})
      assert.equal(1, resp.polls)
    end)

    it("pages with the session's auth, renewal and cookies", function()
      local s, src = session(srv.url)
      for i = 1, 5 do
        s:post("/items", {json = {summary = "page item " .. i},
                          retry = {idempotency_key = true}, expect = 201})
      end
      local seen = {}
      for page in s:pages("/items", {query = {per_page = 2}}) do
        for _, item in ipairs(page:json()) do
          seen[#seen + 1] = item.summary
        end
      end
      assert.same({"page item 1", "page item 2", "page item 3",
                   "page item 4", "page item 5"}, seen)
      assert.equal(2, src.calls)
      assert.equal(1, srv:stats().tokens_issued)
      for _, item in ipairs(s:get("/items"):json()) do
        s:delete("/items/" .. item.id)
      end
      -- cookies on every page, a next() of its own resolved against base
      s:get("/_cookie?set=sid=pg")
      local cookies = {}
      for page in s:pages("/_cookie?n=1", {next = function(r)
        local n = tonumber(r.url:match("n=(%d+)"))
        return n < 3 and "/_cookie?n=" .. n + 1 or nil
      end}) do
        cookies[page.page] = page:json().cookie
      end
      assert.same({"sid=pg", "sid=pg", "sid=pg"}, cookies)
    end)

    it("retry each poll under the session's policy", function()
      local failing <close> = todo.start{"--fail-rate", "1"}
      local s = http.session{base = failing.url, auth = {bearer = common.TOKEN},
                             retry = {attempts = 3, backoff = FAST}}
      local ok, err = pcall(s.poll, s, "/items", {every = 0.01,
        ready = function() return true end})
      assert.is_false(ok)
      assert.is_true(retry.is_giveup(err))
      assert.equal(3, #err.attempts)
      s = http.session{base = failing.url, auth = {bearer = common.TOKEN},
                       retry = false}
      ok, err = pcall(s.poll, s, "/items", {every = 0.01,
        ready = function(r) return nil, "status " .. r.status end})
      assert.is_false(ok)
      assert.equal("stopped", err.reason)
      assert.equal("status 500", err.detail)
      assert.equal(3 + 1, failing:stats().faults.fail)
    end)
  end)
end)
