-- retryrun.http against todo-server: requests, responses, bad input.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local json = require "retryrun.json"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH

describe("retryrun.http", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  describe("request()", function()
    it("GETs a JSON list with keep-alive fields on the response", function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      assert.equal(200, resp.status)
      assert.is_true(resp.ok)
      assert.equal(srv.url .. "/items", resp.url)
      assert.equal(1, resp.attempts)
      assert.is_true(resp.elapsed >= 0 and resp.elapsed < 5)
      assert.same({}, resp:json())
    end)

    it("POSTs json= with its Content-Type and reads it back", function()
      local resp = http.post(srv.url .. "/items", {headers = AUTH,
        json = {summary = "buy milk", description = "two litres"}})
      assert.equal(201, resp.status)
      local item = resp:json()
      assert.equal("buy milk", item.summary)
      local back = http.get(srv.url .. "/items/" .. item.id,
                            {headers = AUTH}):json()
      assert.same(item, back)
    end)

    it("sends a raw body with the method given", function()
      local resp = http.request{method = "post", url = srv.url .. "/items",
        headers = {Authorization = AUTH.Authorization,
                   ["Content-Type"] = "application/json"},
        body = '{"summary":"raw","description":""}'}
      assert.equal(201, resp.status)
      assert.equal("POST", resp.method)
    end)

    it("encodes query= into the URL", function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH,
        query = {b = "x y", a = 1}})
      assert.equal(srv.url .. "/items?a=1&b=x%20y", resp.url)
      resp = http.get(srv.url .. "/items?x=0", {headers = AUTH,
        query = {[2] = "two", tag = {"a", "b"}}})
      assert.equal(srv.url .. "/items?x=0&2=two&tag=a&tag=b", resp.url)
    end)

    it("deletes an item and it leaves the list", function()
      local id = http.post(srv.url .. "/items", {headers = AUTH,
        json = {summary = "done soon", description = ""}}):json().id
      assert.equal(200, http.delete(srv.url .. "/items/" .. id,
                                    {headers = AUTH}).status)
      for _, item in ipairs(http.get(srv.url .. "/items",
                                     {headers = AUTH}):json()) do
        assert.not_equal(id, item.id)
      end
    end)

    it("returns a 4xx as a response, not an error", function()
      local resp = http.get(srv.url .. "/items")
      assert.equal(401, resp.status)
      assert.is_false(resp.ok)
      assert.is_string(resp:json().error)
    end)
  end)

  describe("the response", function()
    it("finds headers whatever their case", function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      assert.equal("application/json", resp:header("Content-Type"))
      assert.equal("application/json", resp:header("CONTENT-TYPE"))
      assert.equal("application/json", resp.headers["content-type"])
      assert.is_nil(resp:header("X-Not-There"))
    end)

    it("decodes JSON once and caches it", function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      assert.equal(resp:json(), resp:json())
    end)

    it("says so when its methods are given a table that is no response",
       function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      assert.equal(2, resp.json({body = "[1, 2]"})[2])
      assert.has_error(function() resp.json({}) end,
        "json: not JSON (the body is empty), in a table that is not a "
        .. "response retryrun made")
      assert.has_error(function() resp.json({body = "[1,", url = {}}) end,
        "json: not JSON (expected a value at byte 4 (end of input)), in a "
        .. "table that is not a response retryrun made")
      assert.equal("retryrun.Response (? ?: ?)",
                   tostring(setmetatable({}, getmetatable(resp))))
    end)

    it("gives its methods and the cached JSON whatever else is passed",
       function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      local index = getmetatable(resp).__index
      assert.equal(resp.json, index(resp, "json", "extra"))
      assert.is_nil(index(resp))
      assert.equal(resp:json(), resp:json(nil, "extra"))
      assert.equal("application/json",
                   index(resp, "headers", "extra")["content-type"])
    end)

    -- pairs showed two userdata keys (retryrun's own) and no headers
    -- until they were read, and json.encode raised on the userdata keys
    it("iterates and encodes as its documented fields", function()
      local resp = http.get(srv.url .. "/items", {headers = AUTH})
      resp:json()
      local keys = {}
      for k in pairs(resp) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({"attempts", "body", "elapsed", "headers", "method", "ok",
                   "status", "url"}, keys)
      local copy = json.decode(json.encode(resp))
      assert.equal(200, copy.status)
      assert.equal("application/json", copy.headers["content-type"])
    end)

    it("raises naming the URL and status when the body is not JSON",
       function()
      local fresh = setmetatable({method = "GET", url = "http://x/y",
        status = 200, body = "<html>oops"}, http.Response)
      local ok, err = pcall(fresh.json, fresh)
      assert.is_false(ok)
      assert.matches("response to GET http://x/y %(status 200%) is not " ..
                     "JSON", err)
    end)
  end)

  describe("expect=", function()
    it("passes a status it expects", function()
      assert.equal(200, http.get(srv.url .. "/items",
        {headers = AUTH, expect = 200}).status)
    end)

    it("raises an error carrying the response otherwise", function()
      local ok, err = pcall(http.get, srv.url .. "/items/999999",
                            {headers = AUTH, expect = {200, 204}})
      assert.is_false(ok)
      assert.is_true(http.is_expect_error(err))
      assert.equal(404, err.response.status)
      assert.matches("expected status 200 or 204, got 404", tostring(err))
    end)
  end)

  describe("bad input", function()
    it("refuses an unknown option by name", function()
      local ok, err = pcall(function()
        http.request{url = srv.url, metod = "GET"}
      end)
      assert.is_false(ok)
      assert.matches("http_spec.lua:%d+: unknown request option 'metod' " ..
                     "%(did you mean 'method'%?%)$", err)
    end)

    it("refuses a call with no url", function()
      local ok, err = pcall(http.request, {})
      assert.is_false(ok)
      assert.matches("request needs a url %(a string%)$", err)
    end)

    it("refuses body and json together", function()
      local ok, err = pcall(function()
        http.post(srv.url, {body = "x", json = {}})
      end)
      assert.is_false(ok)
      assert.matches("http_spec.lua:%d+: give body or json, not both$", err)
    end)

    it("refuses a header with a newline in it", function()
      assert.has_error(function()
        http.get(srv.url .. "/items", {headers = {["X-A"] = "a\r\nB: c"},
                                       retry = false})
      end, "header 'X-A' value has a control character (0x0d at byte 2)")
    end)

    it("gives up on a refused connection with the class and libcurl's words",
       function()
      local ok, err = pcall(http.get, "http://127.0.0.1:1/",
                            {retry = {attempts = 2,
                                      backoff = {initial = 0.01}}})
      assert.is_false(ok)
      assert.is_true(retry.is_giveup(err))
      assert.equal(2, #err.attempts)
      assert.equal("connect", err.attempts[1].error)
      assert.is_false(err.attempts[1].sent)
      assert.matches("^GET http://127.0.0.1:1/ gave up after 2 attempts " ..
                     "in %d+%.%d s: connect, connect %(.*connect", tostring(err))
    end)

    it("fails an attempt whose body is over max_body, without retrying",
       function()
      for i = 1, 5 do
        http.post(srv.url .. "/items", {headers = AUTH,
          json = {summary = "item " .. i, description = ("x"):rep(200)}})
      end
      local ok, err = pcall(http.get, srv.url .. "/items",
                            {headers = AUTH, max_body = 16})
      assert.is_false(ok)
      assert.equal(1, #err.attempts)
      assert.equal("too_large", err.attempts[1].error)
      assert.matches("over max_body", err.message)
    end)
  end)

  describe("the User-Agent header", function()
    -- /_echo's headers, as they came: one key per line received
    local function user_agents(opts)
      local body = http.get(srv.url .. "/_echo", opts).body
      local seen = {}
      for name, value in body:gmatch('"([Uu]ser%-[Aa]gent)":"([^"]*)"') do
        seen[#seen + 1] = name .. "=" .. value
      end
      return seen
    end

    it("is retryrun's own on every call, the same on a reused connection",
       function()
      assert.same({"User-Agent=retryrun/0.1.0"}, user_agents())
      assert.same({"User-Agent=retryrun/0.1.0"},
                  user_agents{headers = {Accept = "*/*"}})
      assert.same({"User-Agent=retryrun/0.1.0"}, user_agents())
    end)

    it("is the script's when it gives one, in any case, even empty",
       function()
      assert.same({"user-agent=mine/2"},
                  user_agents{headers = {["user-agent"] = "mine/2"}})
      assert.same({"User-Agent="}, user_agents{headers = {["User-Agent"] = ""}})
      assert.same({"User-Agent=retryrun/0.1.0"}, user_agents())
    end)
  end)

  describe("secrets", function()
    it("are redacted from give-up errors", function()
      local ok, err = pcall(http.get,
        "http://user:pw@127.0.0.1:1/x?access_token=abc&page=2",
        {retry = false})
      assert.is_false(ok)
      assert.equal("http://REDACTED@127.0.0.1:1/x?access_token=REDACTED&page=2",
                   err.request.url)
      assert.not_matches("abc", err.message)
      assert.not_matches("pw", err.message)
    end)
  end)
end)
