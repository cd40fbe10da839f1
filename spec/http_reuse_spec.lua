-- retryrun.http with one options table used for many calls, as scripts
-- write them: each call sends what the table holds then, raises for a bad
-- option as the first call would, and never writes into the table.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local FAST = common.FAST

describe("an options table used again", function()
  local srv, echo
  setup(function()
    srv = todo.start{}
    echo = srv.url .. "/_echo"
  end)
  teardown(function() srv:stop() end)

  -- the headers /_echo received, by name
  local function sent(resp)
    return todo.decode(resp.body).headers
  end

  -- the message of the error fn raises, without its position
  local function raised(fn)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    return (tostring(err):gsub("^[^:]*:%d+: ", ""))
  end

  it("sends each call to its own URL, and reports it, as URLs change",
     function()
    -- the easy handles are reused, each keeping the URL it was last given
    -- (parsed, once it came twice): a call to another URL must never reach
    -- or report the one before
    for i = 1, 12 do
      local n = (i - 1) // 3   -- each URL three times in a row
      local url = n % 2 == 0 and echo .. "?n=" .. n or
                  srv.url .. "/x/../_echo?n=" .. n .. "#f"
      local resp = http.get(url)
      assert.equal(tostring(n), todo.decode(resp.body).query.n)
      assert.equal(n % 2 == 0 and url or echo .. "?n=" .. n .. "#f",
                   resp.url)
    end
    local resp = http.get(srv.url .. "/items", {headers = common.AUTH})
    assert.equal(srv.url .. "/items", resp.url)
    assert.equal(200, resp.status)
  end)

  it("sends the headers the table holds at each call", function()
    local opts = {headers = {["X-N"] = "1"}}
    assert.equal("1", sent(http.get(echo, opts))["X-N"])
    opts.headers["X-N"] = "2"
    opts.headers["X-M"] = 3
    local h = sent(http.get(echo, opts))
    assert.equal("2", h["X-N"])
    assert.equal("3", h["X-M"])
    opts.headers = {["X-O"] = 1.5}
    h = sent(http.get(echo, opts))
    assert.is_nil(h["X-N"])
    assert.equal("1.5", h["X-O"])
    opts.headers = nil
    assert.is_nil(sent(http.get(echo, opts))["X-O"])
  end)

  it("sends what the general path sends, verb by verb", function()
    -- query = {} adds nothing to the URL, and takes every call the
    -- general way: both must reach the server alike
    local hook = retry.policy{before_attempt = function(req, n)
      req.headers["X-Attempt"] = n
    end}
    for _, verb in ipairs{"get", "head", "put", "delete", "options"} do
      for _, opts in ipairs{
        {},
        {headers = {["X-A"] = "a", ["X-N"] = -0.0}, timeout = 5},
        {headers = {Accept = "text/plain"}, retry = false, max_body = 1e6,
         compressed = false, insecure = false},
        {retry = hook},
      } do
        local general = {query = {}}
        for k, v in pairs(opts) do general[k] = v end
        local a, b = http[verb](echo, opts), http[verb](echo, general)
        assert.equal(b.status, a.status)
        assert.equal(b.url, a.url)
        if verb ~= "head" then
          -- the headers as a set: a table's order is no order on the wire
          assert.same(todo.decode(b.body), todo.decode(a.body))
          assert.equal(verb:upper(), todo.decode(a.body).method)
        end
      end
    end
  end)

  it("makes the attempts the table's retry= allows at each call", function()
    local opts = {retry = retry.policy{attempts = 2, backoff = FAST}}
    local ok, err = pcall(http.get, "http://127.0.0.1:1/", opts)
    assert.is_false(ok)
    assert.equal(2, #err.attempts)
    opts.retry = false
    ok, err = pcall(http.get, "http://127.0.0.1:1/", opts)
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
  end)

  it("raises for an option made bad after good calls, as at first",
     function()
    local opts = {headers = {["X-A"] = "a"}, timeout = 5}
    assert.equal(200, http.get(echo, opts).status)
    opts.timeout = 0
    assert.equal("timeout must be a number of seconds from 0.001 to 1e9 " ..
                 "(got 0)", raised(function() http.get(echo, opts) end))
    opts.timeout = nil
    opts.retyr = false
    assert.equal("unknown request option 'retyr' (did you mean 'retry'?)",
                 raised(function() http.get(echo, opts) end))
    opts.retyr = nil
    opts.headers["X-B"] = {}
    assert.equal("header 'X-B' value must be a string or a number (got " ..
                 "table)", raised(function() http.get(echo, opts) end))
    opts.headers["X-B"] = nil
    opts.headers[1] = "x"
    assert.equal("headers must be a table of name = value (got a number " ..
                 "key)", raised(function() http.get(echo, opts) end))
    opts.headers[1] = nil
    opts.retry = true
    assert.equal("retry= takes a policy, a table of policy fields or " ..
                 "false (got boolean)",
                 raised(function() http.get(echo, opts) end))
    local p = retry.policy{attempts = 1}
    assert.equal("retry= does not go with a policy's own verbs: the " ..
                 "policy is the retry (use policy:extend{...} for other " ..
                 "fields)", raised(function() p:get(echo, opts) end))
    opts.retry = nil
    opts.url = echo
    assert.equal("http.get takes the url as its first argument and no " ..
                 "method (use http.request for that)",
                 raised(function() http.get(echo, opts) end))
    opts.url = nil
    assert.equal("request needs a url (a string)",
                 raised(function() http.get("", opts) end))
    assert.equal("a", sent(p:get(echo, opts))["X-A"])
  end)

  it("never gets a header a hook or the engine adds", function()
    local headers = {["X-A"] = "a"}
    local p = retry.policy{before_attempt = function(req)
      req.headers["X-Hook"] = "h"
    end}
    assert.equal("h", sent(p:get(echo, {headers = headers}))["X-Hook"])
    assert.equal("h", sent(p:put(echo, {headers = headers}))["X-Hook"])
    http.post(echo, {headers = headers, retry = {idempotency_key = true}})
    assert.same({["X-A"] = "a"}, headers)
    assert.is_nil(sent(http.get(echo, {headers = headers}))["X-Hook"])
  end)

  it("gives a before_attempt hook a headers table when the call has none",
     function()
    local p = retry.policy{before_attempt = function(req)
      req.headers["X-Hook"] = "h"
    end}
    assert.equal("h", sent(p:get(echo))["X-Hook"])
    assert.equal("h", sent(http.get(echo, {retry = p}))["X-Hook"])
  end)

  it("keeps a timeout as given inside a policy(fn) wrapper", function()
    local seen
    local p = retry.policy{before_attempt = function(req)
      seen = req.timeout
    end}
    retry.policy{deadline = 60}(function()
      return http.get(echo, {retry = p, timeout = 5})
    end)()
    assert.equal(5, seen)
    assert.equal("integer", math.type(seen))
    retry.policy{deadline = 60}(function()
      return http.get(echo, {retry = p})
    end)()
    assert.is_true(seen > 50 and seen <= 60)
  end)

  it("sends each plain call's own url, one after another, and never " ..
     "changes a request a hook was given", function()
    local kept
    local keep = retry.policy{before_attempt = function(req) kept = req end}
    for i = 1, 4 do
      local url = echo .. "?n=" .. i
      local a = http.get(url)
      assert.equal(url, a.url)
      assert.same({n = tostring(i)}, todo.decode(a.body).query)
      assert.equal(200, http.head(echo .. "?h=" .. i, {timeout = 5}).status)
      keep:get(echo .. "?k=" .. i)
      local seen = kept
      local b = http.delete(echo .. "?d=" .. i)
      assert.same({d = tostring(i)}, todo.decode(b.body).query)
      assert.equal("DELETE", todo.decode(b.body).method)
      assert.same({method = "GET", url = echo .. "?k=" .. i, headers = {}},
                  seen)
    end
  end)

  it("reads options through the table's metatable", function()
    local opts = setmetatable({}, {__index = {headers = {["X-Via"] = "i"}}})
    assert.equal("i", sent(http.get(echo, opts))["X-Via"])
  end)

  it("takes headers from a decoded JSON object", function()
    local decoded = http.get(echo, {headers = {["X-J"] = "j"}}):json()
    assert.equal("j", sent(http.get(echo, {headers = decoded.headers}))["X-J"])
  end)

  describe("the request a before_attempt hook leaves", function()
    -- the message of the error a call under a hook doing fix(req) raises
    local function refused(fix, verb)
      local p = retry.policy{attempts = 1, before_attempt = fix}
      return raised(function() p[verb or "get"](p, echo) end)
    end

    it("reports the first bad field in a fixed order, however it was " ..
       "filled", function()
      local want = "before_attempt: compressed must be true or false " ..
                   "(got number)"
      assert.equal(want, refused(function(req)
        req.timeout, req.max_body, req.insecure, req.compressed = 0, 0, 1, 1
      end))
      assert.equal(want, refused(function(req)
        req.compressed, req.insecure, req.max_body, req.timeout = 1, 1, 0, 0
      end))
      assert.equal("before_attempt: request needs a url (a string, got nil)",
                   refused(function(req) req.url, req.timeout = nil, 0 end))
    end)

    it("refuses a body with HEAD, or with multipart", function()
      assert.equal("before_attempt: a HEAD request has no body",
                   refused(function(req) req.body = "x" end, "head"))
      assert.equal("before_attempt: give body or multipart, not both",
                   refused(function(req)
                     req.body = "x"
                     req.multipart = {{name = "a", data = "b"}}
                   end, "put"))
    end)

    it("reads the fields through a metatable it is given", function()
      assert.equal("before_attempt: timeout must be a number of seconds " ..
                   "above 0 and up to 1e9 (got 0)", refused(function(req)
                     setmetatable(req, {__index = {timeout = 0}})
                   end))
    end)
  end)
end)
