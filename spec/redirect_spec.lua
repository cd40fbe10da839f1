-- What goes on the wire: the method the script named, with its body, and
-- redirects followed as RFC 9110 says, credentials kept to their origin.
-- todo-server's /_echo answers with what it received; /_redirect sends a
-- redirect of a given status.
local http = require "retryrun.http"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local FAST = common.FAST

local function redirect(srv, status, to)
  return ("%s/_redirect?status=%d&to=%s"):format(srv.url, status,
    to:gsub("[^%w/_.-]", function(c) return ("%%%02X"):format(c:byte()) end))
end

describe("the method on the wire", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  for _, method in ipairs{"GET", "DELETE", "OPTIONS", "PUT", "PATCH"} do
    it("is " .. method .. " with a json= body", function()
      local seen = http.request{method = method, url = srv.url .. "/_echo",
                                json = {a = 1}}:json()
      assert.equal(method, seen.method)
      assert.equal('{"a":1}', seen.body)
      assert.equal("application/json", seen.headers["Content-Type"])
    end)
  end

  it("carries a header whose value is empty", function()
    local seen = http.get(srv.url .. "/_echo",
                          {headers = {["X-Empty"] = "", Accept = ""}}):json()
    assert.equal("", seen.headers["X-Empty"])
    assert.equal("", seen.headers.Accept)
  end)

  it("is GET with a body= string", function()
    local seen = http.get(srv.url .. "/_echo", {body = "x"}):json()
    assert.equal("GET", seen.method)
    assert.equal("x", seen.body)
  end)

  it("refuses a body on HEAD", function()
    local ok, err = pcall(http.head, srv.url .. "/_echo", {body = "x"})
    assert.is_false(ok)
    assert.matches("a HEAD request has no body", tostring(err))
  end)
end)

describe("the safety rule", function()
  it("retries a GET with a body as a GET, and sends GETs", function()
    local log = os.tmpname()
    local srv <close> = todo.start{"--fail-rate", "1", "--log", stderr = log}
    local ok, err = pcall(http.get, srv.url .. "/_echo",
      {json = {a = 1}, retry = {attempts = 3, backoff = FAST}})
    assert.is_false(ok)
    assert.equal("exhausted", err.reason)
    assert.equal(3, #err.attempts)
    assert.equal("GET", err.request.method)
    srv:stop()
    -- what the server saw, by its own log: three GETs
    local seen = {}
    for line in io.lines(log) do
      seen[#seen + 1] = line:match("^%u+ /%S*")    -- request lines only
    end
    os.remove(log)
    assert.same({"GET /_echo", "GET /_echo", "GET /_echo"}, seen)
  end)
end)

describe("redirects", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  for _, method in ipairs{"PUT", "PATCH", "DELETE", "POST"} do
    it("turn " .. method .. " into a GET without the body on a 303",
       function()
      local resp = http.request{method = method,
        url = redirect(srv, 303, "/_echo"), json = {a = 1}}
      local seen = resp:json()
      assert.equal("GET", seen.method)
      assert.equal("", seen.body)
      assert.is_nil(seen.headers["Content-Type"])
      assert.is_nil(seen.headers["Content-Length"])
      assert.equal(srv.url .. "/_echo", resp.url)
    end)
  end

  for _, status in ipairs{301, 302} do
    it("turn a POST into a GET without body or Content-Type on a "
       .. status, function()
      local seen = http.post(redirect(srv, status, "/_echo"),
        {body = "a=1", headers = {["Content-Type"] = "text/plain"}}):json()
      assert.equal("GET", seen.method)
      assert.equal("", seen.body)
      assert.is_nil(seen.headers["Content-Type"])
    end)
    it("keep a PUT and its body on a " .. status, function()
      local seen = http.put(redirect(srv, status, "/_echo"),
                            {json = {a = 1}}):json()
      assert.equal("PUT", seen.method)
      assert.equal('{"a":1}', seen.body)
    end)
  end

  for _, status in ipairs{307, 308} do
    it("keep a POST, its body and Content-Type on a " .. status, function()
      local seen = http.post(redirect(srv, status, "/_echo"),
                             {json = {a = 1}}):json()
      assert.equal("POST", seen.method)
      assert.equal('{"a":1}', seen.body)
      assert.equal("application/json", seen.headers["Content-Type"])
    end)
  end

  it("keep a HEAD a HEAD on a 303", function()
    local resp = http.head(redirect(srv, 303, "/_echo"))
    assert.equal(200, resp.status)
    assert.equal("", resp.body)
  end)

  local CREDENTIALS = {Authorization = "Bearer tok-1", Cookie = "sid=abc",
                       ["Proxy-Authorization"] = "Basic cHJveHk6cHc=",
                       ["X-Api-Key"] = "key-1"}

  it("keep every header on the same origin", function()
    local seen = http.get(redirect(srv, 302, "/_echo"),
                          {headers = CREDENTIALS}):json()
    for k, v in pairs(CREDENTIALS) do
      assert.equal(v, seen.headers[k])
    end
  end)

  it("drop every credential header on another origin", function()
    local other = srv.url:gsub("127%.0%.0%.1", "localhost") .. "/_echo"
    local seen = http.get(redirect(srv, 302, other), {headers =
      {Authorization = CREDENTIALS.Authorization, Cookie = CREDENTIALS.Cookie,
       ["Proxy-Authorization"] = CREDENTIALS["Proxy-Authorization"],
       ["X-Api-Key"] = CREDENTIALS["X-Api-Key"], ["X-Trace"] = "t1",
       Host = "127.0.0.1"}}):json()
    for k in pairs(CREDENTIALS) do
      assert.is_nil(seen.headers[k], k)
    end
    assert.matches("^localhost:", seen.headers.Host)
    assert.equal("t1", seen.headers["X-Trace"])
  end)

  it("stop after 10, as a failure that is not retried", function()
    local url = srv.url .. "/_echo"
    for _ = 1, 11 do url = redirect(srv, 302, url) end
    local ok, err = pcall(http.get, url, {retry = {backoff = FAST}})
    assert.is_false(ok)
    assert.equal(1, #err.attempts)
    assert.equal("other", err.attempts[1].error)
    assert.matches("more than 10 redirects", err.message)
  end)

  it("are not followed to a scheme other than http and https", function()
    local ok, err = pcall(http.get, redirect(srv, 302, "ftp://h/x"))
    assert.is_false(ok)
    assert.matches("a redirect to a URL that is not http or https",
                   err.message)
  end)

  it("count a POST as sent when a later hop fails", function()
    local bad <close> = todo.start{"--reset-rate", "1"}
    local ok, err = pcall(http.post, redirect(bad, 303, "/_echo"),
                          {json = {a = 1}, retry = {backoff = FAST}})
    assert.is_false(ok)
    assert.equal("unsafe", err.reason)
    assert.equal(1, #err.attempts)
    assert.is_true(err.attempts[1].sent)
    assert.equal(1, bad:stats().requests)
  end)
end)

describe("http.request without a method", function()
  it("sends a POST when there is a body, judged as a POST", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local ok, err = pcall(http.request, {url = srv.url .. "/_echo",
      json = {a = 1}, retry = {attempts = 3, backoff = FAST}})
    assert.is_false(ok)
    assert.equal("POST", err.request.method)
    assert.equal("unsafe", err.reason)
    assert.equal(1, srv:stats().requests)
  end)

  it("sends a GET when there is none", function()
    local srv <close> = todo.start{}
    assert.equal("GET", http.request{url = srv.url .. "/_echo"}:json().method)
    assert.equal("POST", http.request{url = srv.url .. "/_echo",
                                      body = "x"}:json().method)
  end)
end)
