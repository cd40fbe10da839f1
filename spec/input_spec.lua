-- Bad input to retryrun.http, retryrun.retry and retryrun.core: refused
-- before anything is sent, with a message that names the option and the
-- script's line; and the forms of query= and expect= that must work.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local core = require "retryrun.core"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH

-- Calls fn, a function on one line, and returns the message it raised
-- after checking that the error names this file and fn's line: the
-- script's line, not one of retryrun's own files.
local function refused(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.is_string(err)
  local where = ("input_spec.lua:%d: "):format(
    debug.getinfo(fn, "S").linedefined)
  local at = err:find(where, 1, true)
  assert.is_truthy(at, ("%q does not start at %s"):format(err, where))
  assert.equal("", err:sub(1, at - 1):gsub("^%.?/?spec/", ""))
  return err:sub(at + #where)
end

-- The message fn raised, checking that it names none of retryrun's own
-- files as where it happened.
local function message_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.is_nil(tostring(err):find("retryrun/[%w_]+%.lua:%d+:"))
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

describe("bad input", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  -- nothing reached the server
  local function nothing_sent(before)
    assert.equal(before, srv:stats().requests)
  end

  describe("method=", function()
    local TOKEN = "method must be a token of 1 to 15 letters, digits and " ..
                  "!#$%&'*+-.^_`|~ (got "

    it("refuses CR and LF (header injection) before sending", function()
      local before = srv:stats().requests
      assert.equal(TOKEN .. '"GET /items HTTP/1.1\\r\\nX-Evil: 1\\r\\n")',
        refused(function() http.request{url = srv.url .. "/items", method = "GET /items HTTP/1.1\r\nX-Evil: 1\r\n"} end))
      assert.equal(TOKEN .. '"PO ST")',
        refused(function() http.request{url = srv.url, method = "PO ST"} end))
      assert.equal(TOKEN .. '"")',
        refused(function() http.request{url = srv.url, method = ""} end))
      assert.equal(TOKEN .. '"ABCDEFGHIJKLMNOP")',
        refused(function() http.request{url = srv.url, method = "ABCDEFGHIJKLMNOP"} end))
      assert.equal("method must be a string (got number)",
        refused(function() http.request{url = srv.url, method = 42} end))
      nothing_sent(before)
    end)

    it("is refused by core.request too", function()
      local pol = retry.policy{attempts = 1}
      assert.equal(TOKEN .. '"GET\\nX: y")', message_of(function()
        core.request({method = "GET\nX: y", url = srv.url}, pol)
      end))
    end)

    it("refuses a bad method through a policy's request", function()
      local pol = retry.policy{attempts = 1}
      assert.equal(TOKEN .. '"G\\x00ET")',
        refused(function() pol:request{url = srv.url, method = "G\0ET"} end))
    end)

    it("sends a known method in upper case, another token as given",
       function()
      local resp = http.request{method = "delete", headers = AUTH,
                                url = srv.url .. "/items/999999",
                                retry = false}
      assert.equal("DELETE", resp.method)
      assert.equal(404, resp.status)
      resp = http.request{method = "purge", url = srv.url .. "/items",
                          headers = AUTH, retry = false}
      assert.equal("purge", resp.method)
      assert.equal("method purge not allowed on /items", resp:json().error)
    end)
  end)

  describe("url", function()
    it("needs http:// or https://, and is not printed", function()
      assert.equal("url must start with http:// or https://",
        refused(function() http.get("localhost/x?token=t1") end))
      assert.equal("url scheme 'ftp' is not http or https",
        refused(function() http.get("ftp://u:pw@h/x") end))
    end)

    it("that libcurl cannot parse is a script error, not a give-up",
       function()
      local ok, err = pcall(http.get, "http://exa mple.com/")
      assert.is_false(ok)
      assert.is_string(err)
      assert.matches("malformed URL", err)
    end)
  end)

  describe("a method", function()
    it("is never CONNECT", function()
      assert.equal("method CONNECT opens a tunnel through a proxy: "
                   .. "retryrun does not send it",
        refused(function() http.request{method = "CONNECT",
                                         url = srv.url} end))
    end)
  end)

  describe("http.redact_names", function()
    it("takes names of letters, digits and -_.", function()
      local why = "bad argument #1 to 'redact_names' (a name of 1 to 64 "
                  .. "letters, digits and -_. expected)"
      assert.equal(why, refused(function() http.redact_names("a b") end))
      assert.equal(why, refused(function() http.redact_names(5) end))
      assert.equal(why, refused(function() http.redact_names("") end))
    end)
  end)

  describe("options", function()
    it("suggests the option meant", function()
      assert.equal("unknown request option 'header' (did you mean " ..
                   "'headers'?)",
        refused(function() http.get(srv.url, {header = AUTH}) end))
      assert.equal("unknown request option 'exepct' (did you mean " ..
                   "'expect'?)",
        refused(function() http.post(srv.url, {exepct = 201}) end))
      assert.equal("unknown request option 'zzzzzzz'",
        refused(function() http.get(srv.url, {zzzzzzz = 1}) end))
    end)

    it("take their documented types", function()
      local before = srv:stats().requests
      local url = srv.url .. "/items"
      assert.equal("insecure must be true or false (got string)",
        refused(function() http.get(url, {insecure = "no"}) end))
      assert.equal("insecure must be true or false (got number)",
        refused(function() http.get(url, {insecure = 0}) end))
      assert.equal("cacert must be the path of a CA bundle (a string, got " ..
                   "number)",
        refused(function() http.get(url, {cacert = 42}) end))
      assert.equal("cacert must be the path of a CA bundle (got a string " ..
                   "with a control character)",
        refused(function() http.get(url, {cacert = "/etc/x\0y"}) end))
      assert.equal("timeout must be a number of seconds from 0.001 to 1e9 " ..
                   "(got -1)",
        refused(function() http.get(url, {timeout = -1}) end))
      assert.equal("timeout must be a number of seconds from 0.001 to 1e9 " ..
                   "(got nan)",
        refused(function() http.get(url, {timeout = 0/0}) end))
      assert.equal("timeout must be a number of seconds from 0.001 to 1e9 " ..
                   "(got inf)",
        refused(function() http.get(url, {timeout = math.huge}) end))
      assert.equal('timeout must be a number of seconds from 0.001 to 1e9 ' ..
                   '(got "5")',
        refused(function() http.get(url, {timeout = "5"}) end))
      assert.equal("max_body must be a whole number of bytes >= 1 (got 1.5)",
        refused(function() http.get(url, {max_body = 1.5}) end))
      assert.equal("max_body must be a whole number of bytes >= 1 " ..
                   "(got string)",
        refused(function() http.get(url, {max_body = "10"}) end))
      assert.equal("max_body must be a whole number of bytes >= 1 (got 0)",
        refused(function() http.get(url, {max_body = 0}) end))
      assert.equal("query must be a table (got string)",
        refused(function() http.get(url, {query = "a=1"}) end))
      assert.equal("body must be a string (got table): json= takes a table",
        refused(function() http.post(url, {body = {}}) end))
      assert.equal("retry= takes a policy, a table of policy fields or " ..
                   "false (got boolean)",
        refused(function() http.get(url, {retry = true}) end))
      assert.equal("request needs a url (a string)",
        refused(function() http.request{} end))
      assert.equal("url has a control character (0x00 at byte " ..
                   (#url + 1) .. "): it cannot be sent",
        refused(function() http.get(url .. "\0/../admin") end))
      assert.equal("url has a control character (0x0a at byte " ..
                   (#url + 1) .. "): it cannot be sent",
        refused(function() http.get(url .. "\nX: y") end))
      nothing_sent(before)
    end)

    it("take a whole float as max_body", function()
      assert.equal(200, http.get(srv.url .. "/items",
        {headers = AUTH, max_body = 65536.0}).status)
    end)

    it("say where a call cannot wait at the script's line", function()
      assert.equal("an HTTP call cannot wait here: it runs inside require, " ..
                   "a metamethod, table.sort or another C function; make " ..
                   "the call outside it",
        refused(function() table.sort({2, 1}, function(a, b) http.get(srv.url) return a < b end) end))
    end)

    it("refuse retry= on a policy's own verbs instead of ignoring it",
       function()
      local pol = retry.policy{attempts = 2}
      assert.equal("retry= does not go with a policy's own verbs: the " ..
                   "policy is the retry (use policy:extend{...} for other " ..
                   "fields)",
        refused(function() pol:get(srv.url, {retry = {attempts = 5}}) end))
    end)
  end)

  describe("query=", function()
    it("refuses values that would be sent as 'table: 0x...'", function()
      local url = srv.url .. "/items"
      assert.equal("query value for 'f' must be a string, a number or a " ..
                   "list of them (got function)",
        refused(function() http.get(url, {query = {f = print}}) end))
      assert.equal("query value for 'b' must be a string, a number or a " ..
                   "list of them (got boolean)",
        refused(function() http.get(url, {query = {b = true}}) end))
      assert.equal("query value for 't' must be a string, a number or a " ..
                   "list of them (got table)",
        refused(function() http.get(url, {query = {t = {{}}}}) end))
      assert.equal("query value for 't' must be a string, a number or a " ..
                   "list of them (got a table that is not a list)",
        refused(function() http.get(url, {query = {t = {x = 1}}}) end))
      assert.equal("query keys must be strings or numbers (got table)",
        refused(function() http.get(url, {query = {[{}] = 1}}) end))
    end)

    it("goes before a #fragment, where the server sees it", function()
      local resp = http.get(srv.url .. "/items#top",
                            {headers = AUTH, query = {a = 1}})
      assert.equal(200, resp.status)
      assert.equal(srv.url .. "/items?a=1#top", resp.url)
      resp = http.get(srv.url .. "/items?z=0#top",
                      {headers = AUTH, query = {a = {1, 2}}})
      assert.equal(srv.url .. "/items?z=0&a=1&a=2#top", resp.url)
      resp = http.get(srv.url .. "/items?#a?b", {headers = AUTH,
                                                 query = {c = "d"}})
      assert.equal(srv.url .. "/items?c=d#a?b", resp.url)
    end)
  end)

  describe("headers=", function()
    local url
    setup(function() url = srv.url .. "/items" end)

    it("refuses a value that is not a string or a number, naming the " ..
       "header", function()
      local before = srv:stats().requests
      assert.equal("header 'X-T' value must be a string or a number " ..
                   "(got table)",
        refused(function() http.get(url, {headers = {["X-T"] = {}}}) end))
      assert.equal("header 'X-F' value must be a string or a number " ..
                   "(got function)",
        refused(function() http.get(url, {headers = {["X-F"] = print}}) end))
      assert.equal("header 'X-B' value must be a string or a number " ..
                   "(got boolean)",
        refused(function() http.get(url, {headers = {["X-B"] = true}}) end))
      assert.equal("headers must be a table of name = value (got string)",
        refused(function() http.get(url, {headers = "X-A: 1"}) end))
      nothing_sent(before)
    end)

    it("refuses a NUL, CR or LF, without printing the value", function()
      assert.equal("header 'Authorization' value has a control character " ..
                   "(0x00 at byte 8)",
        refused(function() http.get(url, {headers = {Authorization = "Bearer \0alice-secret"}}) end))
      assert.equal("header 'X-A' value has a control character (0x0a at " ..
                   "byte 2)",
        refused(function() http.get(url, {headers = {["X-A"] = "a\nB: c"}}) end))
    end)

    it("finds a control character at any place in a value or a url of " ..
       "any length, and lets a tab and bytes above 0x7e through a value",
       function()
      local before = srv:stats().requests
      for len = 1, 20 do
        for at = 1, len do
          for _, b in ipairs{0x00, 0x01, 0x0a, 0x1f, 0x7f} do
            local v = ("a"):rep(at - 1) .. string.char(b) ..
                      ("\xff"):rep(len - at)
            assert.equal(("header 'X-A' value has a control character " ..
                          "(0x%02x at byte %d)"):format(b, at),
              message_of(function() http.get(url, {headers = {["X-A"] = v}}) end))
            assert.equal(("url has a control character (0x%02x at byte " ..
                          "%d): it cannot be sent"):format(b, #url + at),
              message_of(function() http.get(url .. v) end))
          end
          local tab = ("\x80"):rep(at - 1) .. "\t" .. ("~"):rep(len - at)
          assert.equal("url has a control character (0x09 at byte " ..
                       (#url + at) .. "): it cannot be sent",
            message_of(function() http.get(url .. tab) end))
        end
      end
      nothing_sent(before)
      for len = 7, 17, 5 do
        local v = "\t" .. ("\xc3\xa9"):rep(len) .. "\t~"
        assert.equal(v:sub(2, -1), todo.decode(http.get(srv.url .. "/_echo",
          {headers = {["X-A"] = v}}).body).headers["X-A"])
      end
    end)

    it("refuses a name that is not a token", function()
      assert.equal('header name "X A" must be a token: letters, digits ' ..
                   "and !#$%&'*+-.^_`|~",
        refused(function() http.get(url, {headers = {["X A"] = "1"}}) end))
      assert.equal('header name "X-A:" must be a token: letters, digits ' ..
                   "and !#$%&'*+-.^_`|~",
        refused(function() http.get(url, {headers = {["X-A:"] = "1"}}) end))
      assert.equal('header name "" must be a token: letters, digits ' ..
                   "and !#$%&'*+-.^_`|~",
        refused(function() http.get(url, {headers = {[""] = "1"}}) end))
    end)

    it("refuses the framing headers retryrun sets from the body",
       function()
      local cl, te = {["Content-Length"] = "5"}, {["transfer-encoding"] = "x"}
      assert.equal("header 'Content-Length' is retryrun's to set, from the "
                   .. "body: leave it out",
        refused(function() http.get(url, {headers = cl}) end))
      assert.equal("header 'transfer-encoding' is retryrun's to set, from "
                   .. "the body: leave it out",
        refused(function() http.get(url, {headers = te}) end))
    end)

    it("refuses a name given twice in different case", function()
      local twice = {AUTHORIZATION = "a", Authorization = "b"}
      local msg = refused(function() http.get(url, {headers = twice}) end)
      assert.matches("^header '%a+' is given twice %(as '%a+' and '%a+'%): "
                     .. "header names ignore case$", msg)
    end)

    -- the first names are compared one by one, more are sorted: a pair
    -- past the first 32 was sent twice
    it("refuses a name given twice in a table of many names", function()
      for _, n in ipairs{31, 40, 300} do
        local h = {}
        for i = 1, n do h["X-H" .. i] = tostring(i) end
        h["X-Dup"], h["x-dup"] = "one", "two"
        for _, verb in ipairs{"get", "post"} do
          local msg = refused(function() http[verb](url, {headers = h}) end)
          assert.matches("^header '[Xx]%-[Dd]up' is given twice %(as "
                         .. "'[Xx]%-[Dd]up' and '[Xx]%-[Dd]up'%): header "
                         .. "names ignore case$", msg, n .. " " .. verb)
        end
      end
    end)

    it("sends a number as tostring writes it", function()
      local resp = http.get(url, {headers = {Authorization = AUTH.Authorization,
                                             ["X-Page"] = 2}})
      assert.equal(200, resp.status)
    end)

    it("raises when before_attempt leaves bad headers", function()
      local before = srv:stats().requests
      local pol = retry.policy{before_attempt = function(req)
        req.headers = "Authorization: Bearer x"
      end}
      assert.equal("before_attempt: headers must be a table of name = " ..
                   "value (got string)",
                   message_of(function() pol:get(url) end))
      pol = retry.policy{before_attempt = function(req)
        req.headers.Authorization = {"Bearer", "x"}
      end}
      assert.equal("before_attempt: header 'Authorization' value must be " ..
                   "a string or a number (got table)",
                   message_of(function() pol:get(url, {headers = AUTH}) end))
      pol = retry.policy{before_attempt = function(req, attempt)
        req.headers.Authorization = "Bearer alice-secret\r\nX-Evil: " ..
                                    attempt
      end}
      assert.equal("before_attempt: header 'Authorization' value has a " ..
                   "control character (0x0d at byte 20)",
                   message_of(function() pol:get(url) end))
      nothing_sent(before)
    end)

    it("lets before_attempt set good headers", function()
      local pol = retry.policy{before_attempt = function(req)
        req.headers.Authorization = AUTH.Authorization
      end}
      assert.equal(200, pol:get(url).status)
    end)
  end)

  describe("expect=", function()
    it("matches a class, a numeric string and a list of both", function()
      local url = srv.url .. "/items"
      assert.equal(200, http.get(url, {headers = AUTH, expect = "2xx"}).status)
      assert.equal(200, http.get(url, {headers = AUTH, expect = "200"}).status)
      assert.equal(200, http.get(url, {headers = AUTH, expect = "2XX"}).status)
      assert.equal(401, http.get(url, {expect = {"200", "4xx"}}).status)
      assert.equal(200, http.get(url, {headers = AUTH,
                                       expect = {201, 200.0}}).status)
    end)

    it("raises on another status, saying what it expected", function()
      local ok, err = pcall(http.get, srv.url .. "/items/999999",
                            {headers = AUTH, expect = {"2xx", "201"}})
      assert.is_false(ok)
      assert.is_true(http.is_expect_error(err))
      assert.same({"2xx", 201}, err.expected)
      assert.matches("^GET " .. common.literal(srv.url) ..
                     "/items/999999: expected status 2xx or 201, got 404 ",
                     err.message)
    end)

    it("refuses anything else before the request is made", function()
      local before = srv:stats().requests
      local url = srv.url .. "/items"
      local FORMS = 'expect must be a status (200 or "200"), a class ' ..
                    '("2xx") or a list of them (got '
      assert.equal(FORMS .. '"ok")',
        refused(function() http.get(url, {expect = "ok"}) end))
      assert.equal(FORMS .. '"6xx")',
        refused(function() http.get(url, {expect = "6xx"}) end))
      assert.equal(FORMS .. "99)",
        refused(function() http.get(url, {expect = 99}) end))
      assert.equal(FORMS .. "200.5)",
        refused(function() http.get(url, {expect = 200.5}) end))
      assert.equal(FORMS .. "boolean)",
        refused(function() http.get(url, {expect = true}) end))
      assert.equal('expect must be a status (200 or "200"), a class ' ..
                   '("2xx") or a list of them (got a table that is not a ' ..
                   'non-empty list)',
        refused(function() http.get(url, {expect = {}}) end))
      assert.equal('expect entry 2 must be a status (200 or "200") or a ' ..
                   'class ("2xx") (got " 200")',
        refused(function() http.get(url, {expect = {200, " 200"}}) end))
      nothing_sent(before)
    end)
  end)
end)

describe("policy fields", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  -- The message each of the three ways to give fields raises, each
  -- checked to be at the script's line.
  local function three_ways(fields)
    local base = retry.policy{attempts = 2}
    return {
      refused(function() retry.policy(fields) end),
      refused(function() base:extend(fields) end),
      refused(function() http.get(srv.url, {retry = fields}) end),
    }
  end

  local CASES = {
    {"deadline", "seconds", "0.001"}, {"timeout", "seconds", "0.001"},
    {"connect_timeout", "seconds", "0.001"},
    {"max_retry_after", "seconds", "0"},
  }
  local BAD = {{-1, "-1"}, {0/0, "nan"}, {math.huge, "inf"},
               {-math.huge, "-inf"}, {1e15, "1e+15"}, {-0.5, "-0.5"}}

  it("refuse an out-of-range number the same way on every path",
     function()
    for _, case in ipairs(CASES) do
      for _, bad in ipairs(BAD) do
        local msg = ("policy field '%s' must be a number of seconds from " ..
                     "%s to 1e9 (got %s)"):format(case[1], case[3], bad[2])
        assert.same({msg, msg, msg}, three_ways{[case[1]] = bad[1]})
      end
    end
  end)

  it("refuse out-of-range backoff numbers the same way", function()
    for _, case in ipairs{{"initial", " of seconds", "0"},
                          {"factor", "", "1"},
                          {"max", " of seconds", "0"}} do
      for _, bad in ipairs(BAD) do
        local msg = ("policy field 'backoff.%s' must be a number%s from " ..
                     "%s to 1e9 (got %s)"):format(case[1], case[2], case[3],
                                                  bad[2])
        assert.same({msg, msg, msg}, three_ways{backoff = {[case[1]] = bad[1]}})
      end
    end
    local msg = "policy field 'backoff.initial' must be a number of " ..
                "seconds from 0 to 1e9 (got string)"
    assert.same({msg, msg, msg}, three_ways{backoff = {initial = "1"}})
    msg = "policy field 'backoff.factor' must be a number from 1 to 1e9 " ..
          "(got 0.5)"
    assert.same({msg, msg, msg}, three_ways{backoff = {factor = 0.5}})
  end)

  it("refuse deadline = 0, which would send nothing", function()
    local msg = "policy field 'deadline' must be a number of seconds " ..
                "from 0.001 to 1e9 (got 0)"
    assert.same({msg, msg, msg}, three_ways{deadline = 0})
    assert.equal(0.001, retry.policy{deadline = 0.001}.deadline)
  end)

  it("name attempts' value without running its metamethods", function()
    local msg = "policy field 'attempts' must be a whole number from 1 " ..
                "to 1000 (got nan)"
    assert.same({msg, msg, msg}, three_ways{attempts = 0/0})
    msg = "policy field 'attempts' must be a whole number from 1 to 1000 " ..
          "(got 1001)"
    assert.same({msg, msg, msg}, three_ways{attempts = 1001})
    local ran = false
    local odd = setmetatable({}, {__tostring = function()
      ran = true
      return "5"
    end})
    assert.equal("policy field 'attempts' must be a whole number from 1 " ..
                 "to 1000 (got table)",
                 message_of(function() core.policy{attempts = odd} end))
    assert.is_false(ran)
    assert.equal(3, retry.policy{attempts = 3.0}.attempts)
  end)

  it("name a status out of range as the script wrote it", function()
    local msg = "retry_on: 1099511627776 is not an HTTP status (100 to 599)"
    assert.same({msg, msg, msg}, three_ways{retry_on = {2^40 // 1}})
    msg = "policy field 'retry_on' must be a list (1, 2, ... with no " ..
          "other keys)"
    assert.same({msg, msg, msg}, three_ways{retry_on = {503, five = "5xx"}})
  end)

  it("refuse an idempotency key name that is not a token", function()
    local msg = "policy field 'idempotency_key' must be true, false or a " ..
                "header name (a token of letters, digits and " ..
                "!#$%&'*+-.^_`|~) (got \"X-Key\\r\\nX-Evil: 1\")"
    assert.same({msg, msg, msg},
                three_ways{idempotency_key = "X-Key\r\nX-Evil: 1"})
  end)

  it("suggest the field meant, at the script's line", function()
    local msg = "unknown policy field 'deadlin' (did you mean 'deadline'?)"
    assert.same({msg, msg, msg}, three_ways{deadlin = 5})
  end)

  it("name the script's line for a wrong type and a bad wrap", function()
    assert.equal("policy field 'valid' must be a function (got boolean)",
      refused(function() retry.policy{valid = true} end))
    assert.equal("a policy wraps a function (got nil)",
      refused(function() retry.policy{}(nil) end))
    assert.equal("bad argument #2 to 'get' (table expected, got string)",
      refused(function() retry.default:get(srv.url, "x") end))
    assert.equal("bad argument #1 to 'request' (table expected, got nil)",
      refused(function() retry.default:request() end))
  end)

  it("name delay's arguments, not the engine's", function()
    assert.equal("bad argument #1 to 'delay' (a retry number >= 1 " ..
                 "expected, got 0)",
      refused(function() retry.default:delay(0) end))
    assert.equal("bad argument #1 to 'delay' (a retry number >= 1 " ..
                 "expected, got 1.5)",
      refused(function() retry.default:delay(1.5) end))
    assert.equal("bad argument #2 to 'delay' (a wait in seconds >= 0 " ..
                 'expected, got "x")',
      refused(function() retry.default:delay(2, "x") end))
    assert.equal("bad argument #2 to 'delay' (a wait in seconds >= 0 " ..
                 "expected, got nan)",
      refused(function() retry.default:delay(2, 0/0) end))
    local d = retry.policy{backoff = {initial = 1, jitter = "none"}}:delay(3.0)
    assert.equal(4, d)
  end)
end)

describe("a before_attempt hook", function()
  local srv
  setup(function()
    srv = todo.start{"--slow-rate", "1", "--slow-ms", "1000"}
  end)
  teardown(function() srv:stop() end)

  it("cannot change the method the safety rule judged", function()
    local ok, err = pcall(http.get, srv.url .. "/_echo", {retry = {
      before_attempt = function(req) req.method = "POST" end}})
    assert.is_false(ok)
    assert.matches("before_attempt: req.method cannot change once the call "
                   .. "has started %(it is GET%)", err)
  end)

  it("changes the attempt's timeout", function()
    local ok, err = pcall(http.get, srv.url .. "/_echo", {retry = {
      attempts = 1,
      before_attempt = function(req) req.timeout = 0.1 end}})
    assert.is_false(ok)
    assert.equal("timeout", err.attempts[1].error)
    assert.is_true(err.attempts[1].duration < 0.9)
  end)
end)

describe("a call's timeout=", function()
  -- it was cut to the policy's when that was shorter
  it("takes the place of a shorter policy timeout, not of the deadline",
     function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "1000"}
    local resp = http.get(srv.url .. "/_echo", {timeout = 5,
      retry = {timeout = 0.2, attempts = 1}})
    assert.equal(200, resp.status)
    local ok, err = pcall(http.get, srv.url .. "/_echo", {timeout = 5,
      retry = {timeout = 0.2, deadline = 0.3, attempts = 1}})
    assert.is_false(ok)
    assert.equal("timeout", err.attempts[1].error)
  end)
end)
