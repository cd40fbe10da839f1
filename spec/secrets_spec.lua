-- Nothing retryrun prints holds a secret: a password, a token and an API
-- key planted in a URL, a header and a body are searched for in all a run
-- prints (both streams) on every error path.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local PASSWORD, TOKEN, APIKEY = "pw-Planted-1", "tok-Planted-2",
                                "key-Planted-3"

-- Runs a script (its text gets U, the secret-laden URL of base, and H,
-- the secret headers) and returns its exit code and all it printed.
local function run(base, body)
  return common.run(([[
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local run = require "retryrun.run"
local BASE = arg[1]
local function U(path)
  return (BASE:gsub("^http://", "http://alice:%s@")) .. path
         .. "?access_token=%s&pwd=%s&page=2"
end
local H = {Authorization = "Bearer %s", ["X-Api-Key"] = "%s",
           Cookie = "sid=%s"}
local J = {user = "alice", password = "%s", nested = {api_key = "%s"}}
local FAST = {initial = 0.001, max = 0.002}
]]):format(PASSWORD, TOKEN, PASSWORD, TOKEN, APIKEY, TOKEN, PASSWORD,
           APIKEY) .. body, {args = {base}})
end

local function assert_clean(out)
  for _, secret in ipairs{PASSWORD, TOKEN, APIKEY} do
    assert.is_nil(out:find(secret, 1, true),
                  "'" .. secret .. "' printed in:\n" .. out)
  end
end

local CASES = {
  {"a give-up after 500s", "--fail-rate", "1", code = 3, [[
    http.post(U("/_echo"), {headers = H, json = J,
              retry = {attempts = 2, unsafe = true, backoff = FAST}})]]},
  {"a refused connection", code = 3, [[
    http.get(U("/x"):gsub(":%d+/", ":1/"), {headers = H,
             retry = {attempts = 2, backoff = FAST}})]]},
  {"an expect= error echoing the request", code = 1, [[
    http.put(U("/_echo"), {headers = H, json = J, expect = 201})]]},
  {"resp:json() on a body that is not JSON", code = 1, [[
    http.head(U("/_echo"), {headers = H}):json()]]},
  {"tostring of a response, printed", code = 0, [[
    print(http.get(U("/_echo"), {headers = H}))]]},
  {"a predicate that raises with the URL", code = 3, [[
    http.get(U("/_echo"), {headers = H, retry = {attempts = 2,
      backoff = FAST, valid = function(r) error("bad " .. r.url) end}})]]},
  {"a predicate whose reason holds the token", code = 3, [[
    http.get(U("/_echo"), {headers = H, retry = {attempts = 2,
      backoff = FAST, valid = function(r)
        return false, "saw " .. r:json().headers.Authorization
      end}})]]},
  {"hooks that print what they are given", code = 3, [[
    http.get(U("/_echo"), {headers = H, retry = {attempts = 2,
      backoff = FAST, valid = function() return false end,
      on_retry = function(e) print(e.call, e.reason) end,
      on_giveup = function(e) print(e.message, e.request.url) end}})]]},
  {"a before_attempt hook that raises", code = 1, [[
    http.get(U("/_echo"), {headers = H, retry = {before_attempt =
      function(req) error("cannot use " .. req.url) end}})]]},
  {"an unsupported scheme", code = 1, [[
    http.get(U("/x"):gsub("^http", "ftp"), {headers = H})]]},
  {"a URL too long to start", code = 1, [[
    http.get(U("/" .. ("a"):rep(8 * 1024 * 1024)), {headers = H})]]},
  {"a timeout", "--slow-rate", "1", "--slow-ms", "2000", code = 3, [[
    http.get(U("/_echo"), {headers = H, timeout = 0.1,
             retry = {attempts = 1}})]]},
  {"an expect= error whose body cut would split a secret", code = 1, [[
    for pad = 150, 200 do
      pcall(http.get, U("/_echo") .. "&pad=" .. ("x"):rep(pad),
            {headers = H, expect = 404})
      local ok, e = pcall(http.get, U("/_echo"), {headers = H,
        query = {pad = ("y"):rep(pad)}, expect = 404})
      print(e)
    end
    error("done")]]},
  {"a secret header given as a number", code = 3, [[
    http.get(U("/_echo"), {headers = {["X-Api-Key"] = 1234567890123},
      retry = {attempts = 1, valid = function(r) return false, r.body end}})
    ]]},
  {"secrets that come back decoded", code = 3, [[
    http.put(U("/_echo"), {query = {access_token = "t k/+&x]] .. TOKEN
    .. [["}, json = {password = 'g"p\\]] .. PASSWORD .. [['},
      retry = {attempts = 1, valid = function(r)
        local seen = r:json()
        return false, seen.query.access_token .. " " .. seen.body
          .. " " .. require("retryrun.json").decode(seen.body).password
      end}})]]},
  {"a fragment or ;-separated secret", code = 3, [[
    -- the URLs as the script wrote them, in its predicate's reason
    local cb = BASE .. "/x#/cb?access_token=]] .. TOKEN .. [["
    local semi = BASE .. "/x?a=1;access_token=]] .. TOKEN .. [["
    http.get(BASE .. "/items", {retry = {attempts = 1,
      valid = function() return false, cb .. " " .. semi end}})]]},
  {"many cookies before a key", code = 3, [[
    local cookies = {}
    for i = 1, 60 do cookies[i] = ("c%d=val%03d"):format(i, i) end
    http.get(BASE .. "/_echo", {headers = {Cookie = table.concat(cookies,
      "; "), ["X-Api-Key"] = "]] .. APIKEY .. [["}, retry = {attempts = 1,
      valid = function(r) return false, "key " .. r:json().headers
        ["X-Api-Key"] end}})]]},
  {"a session's credentials echoed in an expect= error", code = 1, [[
    local s = http.session{base = BASE, headers = {["X-Api-Key"] = "]]
      .. APIKEY .. [["}, auth = {bearer = "]] .. TOKEN .. [["}}
    s:put("/_echo", {json = J, expect = 201})]]},
  {"a session's basic login echoed", code = 1, [[
    local s = http.session{base = BASE, auth = {basic = {"alice", "]]
      .. PASSWORD .. [["}}}
    s:get("/_echo", {expect = 201})]]},
  {"a session's token renewal that fails", code = 1, [[
    local n = 0
    local s = http.session{base = BASE, auth = {token = function()
      n = n + 1
      if n == 1 then return "]] .. TOKEN .. [[" end
      error("cannot renew at " .. U("/token"))
    end}}
    s:get("/items")]]},
  {"the script's own error with a URL", code = 1, [[
    error("failed on " .. U("/items"))]]},
  {"an error in another task", code = 1, [[
    run.spawn(function() error(U("/z")) end)]]},
}

describe("secrets", function()
  for _, case in ipairs(CASES) do
    it("are printed nowhere on " .. case[1], function()
      local args = {}
      for i = 2, #case - 1 do args[#args + 1] = case[i] end
      local srv <close> = todo.start(args)
      local code, out = run(srv.url, case[#case])
      assert_clean(out)
      assert.equal(case.code, code, out)
    end)
  end

  it("are hidden by name, while other parameters show", function()
    local srv <close> = todo.start{}
    local _, out = run(srv.url, [[error(U("/items"))]])
    assert.matches("http://REDACTED@127%.0%.0%.1:%d+/items%?access_token="
                   .. "REDACTED&pwd=REDACTED&page=2", out)
  end)

  it("include the Basic credential libcurl makes of user:password@",
     function()
    local srv <close> = todo.start{}
    local code, out = run(srv.url, [[
      http.get(BASE:gsub("//", "//alice:" .. "]] .. PASSWORD .. [[" .. "@")
               .. "/_echo", {retry = {attempts = 1,
        valid = function(r) return false, r.body end}})]])
    assert.equal(3, code, out)
    assert.matches('"Authorization":"Basic REDACTED"', out)
    assert_clean(out)
    local b64 = "YWxpY2U6cHctUGxhbnRlZC0x"      -- alice:pw-Planted-1
    assert.is_nil(out:find(b64, 1, true), out)
  end)

  it("stay out of -v, --log and the summary of a session's calls",
     function()
    local srv <close> = todo.start{}
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. common.quote(dir)))
    local script = common.write_script(([[
      local http = require "retryrun.http"
      local n = 0
      local s = http.session{base = arg[1], headers = {["X-Api-Key"] = "%s"},
        auth = {token = function()
          n = n + 1
          return n == 1 and "%s" or "%s-new"
        end}}
      s:get("/items")
      s:get("/_echo", {query = {pwd = "%s"}})
      http.session{base = arg[1], auth = {basic = {"alice", "%s"}}}
        :get("/items", {expect = 200})
    ]]):format(APIKEY, TOKEN, TOKEN, PASSWORD, PASSWORD))
    local code, out = common.sh(("%s -v --log %s/log --summary-json %s/sum "
      .. "--summary %s %s 2>&1"):format(common.quote(common.BIN),
      common.quote(dir), common.quote(dir), common.quote(script),
      common.quote(srv.url)))
    os.remove(script)
    local all = out
    for _, f in ipairs{"log", "sum"} do
      local h = assert(io.open(dir .. "/" .. f))
      all = all .. h:read("a")
      h:close()
      os.remove(dir .. "/" .. f)
    end
    os.remove(dir)
    assert.equal(1, code, out)       -- the basic login gets a 401
    assert.truthy(all:find("/items", 1, true), all)
    -- the renewal shows, as a -v line and a --log record
    assert.truthy(all:find("401  %d+ ms  renewed the credentials: sent "
                           .. "again"), all)
    assert.truthy(all:find('"status":401,"sent":true,"invalid":false,'
                           .. '"duration":[%d.]+,"decision":"renew"}'), all)
    assert_clean(all)
    local b64 = "YWxpY2U6cHctUGxhbnRlZC0x"      -- alice:pw-Planted-1
    assert.is_nil(all:find(b64, 1, true), all)
  end)

  it("include AWS presigned URL parameters", function()
    local srv <close> = todo.start{}
    local _, out = run(srv.url, [[
      error(BASE .. "/k?X-Amz-Signature=s1&X-Amz-Security-Token=t1&X-A=1")]])
    assert.matches("/k%?X%-Amz%-Signature=REDACTED&X%-Amz%-Security%-Token="
                   .. "REDACTED&X%-A=1", out)
  end)

  it("include names a script adds", function()
    local srv <close> = todo.start{}
    local _, out = run(srv.url, [[
      http.redact_names("tenant")
      error(http.redact(BASE .. "/x?tenant=acme&author=me"))]])
    assert.matches("/x%?tenant=REDACTED&author=me", out)
  end)
end)
