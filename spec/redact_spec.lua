-- Redaction finds what secrets_spec plants, wherever it turns up: the
-- value of a call's secret header is hidden in its URL too, in every
-- message, line, record and report that shows the URL; and URLs inside
-- URLs, escaped or not, lose their passwords and secret parameters.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local TOKEN = "tok_s3cr3tvalue42"

-- Runs a script with -v, --log, both summaries and a JSON report, its
-- arg[1] the server's URL and arg[2] the token; returns its exit code
-- and all it printed and wrote.
local function run_all(url, body)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. common.quote(dir)))
  local script = common.write_script([[
local http = require "retryrun.http"
local run = require "retryrun.run"
local BASE, TOKEN = arg[1], arg[2]
local H = {Authorization = "Bearer " .. TOKEN}
local FAST = {initial = 0.001, max = 0.002}
]] .. body)
  local code, out = common.sh(("%s -v --log %s/log --summary --summary-json "
    .. "%s/sum --report json=%s/rep %s %s %s"):format(
    common.quote(common.BIN), common.quote(dir), common.quote(dir),
    common.quote(dir), common.quote(script), common.quote(url), TOKEN))
  os.remove(script)
  for _, f in ipairs{"log", "sum", "rep"} do
    local h = io.open(dir .. "/" .. f)
    if h then
      out = out .. "\n" .. f .. ": " .. h:read("a")
      h:close()
      os.remove(dir .. "/" .. f)
    end
  end
  os.remove(dir)
  return code, out
end

local function assert_clean(out)
  assert.is_nil(out:find(TOKEN, 1, true), "the token printed in:\n" .. out)
  assert.is_nil(out:find("s3cr3t", 1, true), "part of it printed in:\n"
                .. out)
end

describe("a secret header's value in the call's URL", function()
  it("is hidden in give-ups, hooks, -v, --log, summaries and reports",
     function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local code, out = run_all(srv.url, [[
      run.step("calls", function()
        -- in the path, under a name that is no secret, and escaped
        for _, u in ipairs{BASE .. "/items/" .. TOKEN .. "?t=" .. TOKEN,
                           BASE .. "/items?t=" .. TOKEN:gsub("_", "%%5F")} do
          local _, err = http.get(u, {headers = H, retry = {attempts = 2,
            backoff = FAST, raise = false,
            on_retry = function(e) print("on_retry", e.call, e.reason) end,
            on_giveup = function(e)
              print("on_giveup", e.message, e.request.url)
            end}})
          print("giveup", err.message, err.request.url)
        end
        local ok, e = pcall(http.put, BASE .. "/x/" .. TOKEN,
                            {headers = H, body = "{", expect = 201})
        print("expect", ok, e)
      end)]])
    assert.equal(0, code, out)
    assert.truthy(out:find("giveup\tGET http://127.0.0.1:%d+/items/"
                           .. "REDACTED%?t=REDACTED gave up"), out)
    assert.truthy(out:find('"url":"http://127.0.0.1:%d+/items%?t=REDACTED"'),
                  out)
    assert_clean(out)
  end)

  it("is hidden in a poll's -v lines, records and PollError", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [[
      local ok, e = pcall(http.poll, BASE .. "/items?t=" .. TOKEN,
        {headers = H, every = 0.01, deadline = 0.1,
         ready = function() return false end})
      print("poll", e, e.request.url)
      ok, e = pcall(http.poll, BASE .. "/items?t=" .. TOKEN, {headers = H,
        every = 0.01, ready = function() return nil, "at " .. TOKEN end})
      print("poll", e, e.detail)]])
    assert.equal(0, code, out)
    assert.truthy(out:find("poll\tGET http://127.0.0.1:%d+/items%?t="
                           .. "REDACTED not ready"), out)
    assert.truthy(out:find("poll 2  401"), out)
    assert_clean(out)
  end)

  it("is hidden in the errors of a session's token function", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [[
      -- the first token: a session header's value in its error
      local s = http.session{base = BASE, headers = {["X-Api-Key"] = TOKEN},
        auth = {token = function()
          error("no token for key " .. TOKEN .. " at " .. BASE, 0)
        end}}
      print(pcall(s.get, s, "/items"))
      -- a renewal: the token it replaces
      local n = 0
      s = http.session{base = BASE, auth = {token = function()
        n = n + 1
        if n == 1 then return TOKEN end
        error("the server refused " .. TOKEN .. " at " .. BASE, 0)
      end}}
      print(pcall(s.get, s, "/items"))]])
    assert.equal(0, code, out)
    assert.truthy(out:find("auth token function failed: no token for key "
                           .. "REDACTED at http://", 1, true), out)
    assert.truthy(out:find("auth token function failed: the server refused "
                           .. "REDACTED at http://", 1, true), out)
    assert_clean(out)
  end)
end)

describe("a call's secret values", function()
  it("are all hidden, however many its body holds", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [[
      -- 300 password fields come before the header's token
      local users = {}
      for i = 1, 300 do
        users[i] = {name = "u" .. i, password = ("pw%05dxyz"):format(i)}
      end
      local ok, e = pcall(http.post, BASE .. "/_echo?t=" .. TOKEN .. "+pw00300xyz",
        {headers = H, json = users, expect = 201})
      print("expect", ok, e)]])
    assert.equal(0, code, out)
    assert.truthy(out:find("t=REDACTED+REDACTED", 1, true), out)
    assert.is_nil(out:find("pw00300xyz", 1, true), out)
    assert_clean(out)
  end)
end)

describe("a session's cookies", function()
  it("are hidden in the messages of its calls", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [[
      local s = http.session{base = BASE, cookies = true}
      s:get("/_cookie?set=sid%3DJARCOOKIE_SECRET_9")
      local ok, e = pcall(s.get, s, "/_echo", {expect = 201})
      print("expect", ok, e)]])
    assert.equal(0, code, out)
    assert.truthy(out:find('"Cookie":"sid=REDACTED"', 1, true), out)
    assert.is_nil(out:find("JARCOOKIE", 1, true), out)
  end)
end)

describe("a policy's name", function()
  it("is shown with the call's secret values hidden", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [[
      pcall(http.get, BASE .. "/items", {headers = H, expect = 201,
        retry = {name = "pol " .. TOKEN, attempts = 1}})]])
    assert.equal(0, code, out)
    assert.truthy(out:find("[policy pol REDACTED]", 1, true), out)
    assert.truthy(out:find('"policy":"pol REDACTED"', 1, true), out)
    assert_clean(out)
  end)
end)

describe("a policy's key", function()
  it("is shown redacted in guard lines and summaries", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local code, out = run_all(srv.url, [[
      for _ = 1, 2 do
        pcall(http.get, BASE .. "/items", {headers = H, retry = {
          key = "api http://u:KEYPW@h/?token=KEYTOK " .. TOKEN, attempts = 2,
          backoff = FAST, breaker = {consecutive = 1, break_for = 5}}})
      end]])
    assert.equal(0, code, out)
    assert.truthy(out:find("breaker api http://REDACTED@h/?token=REDACTED "
                           .. "REDACTED open", 1, true), out)
    assert.truthy(out:find('"key":"api http://REDACTED@h/', 1, true), out)
    assert.is_nil(out:find("KEYPW", 1, true), out)
    assert.is_nil(out:find("KEYTOK", 1, true), out)
    assert_clean(out)
  end)
end)

describe("a URL with no scheme", function()
  it("loses its secrets in -vv Location lines", function()
    local srv <close> = todo.start{}
    local script = common.write_script([[
      local http = require "retryrun.http"
      for _, to in ipairs{"/_headers?a=b&token=RELTOK7",
                          "_headers?a=b&access_token=RELTOK8",
                          "//u:LOCPW6@127.0.0.1:1/?token=LOCTOK6"} do
        pcall(http.get, arg[1] .. "/_redirect?to=" .. to:gsub("[^%w]",
          function(c) return ("%%%02X"):format(c:byte()) end),
          {retry = {attempts = 1}})
      end]])
    local code, out = common.sh(("%s -q -vv %s %s 2>&1"):format(
      common.quote(common.BIN), common.quote(script), common.quote(srv.url)))
    os.remove(script)
    assert.equal(0, code, out)
    assert.truthy(out:find("< Location: /_headers?a=b&token=REDACTED", 1,
                           true), out)
    assert.truthy(out:find("< Location: _headers?a=b&access_token=REDACTED",
                           1, true), out)
    assert.truthy(out:find("< Location: //REDACTED@127.0.0.1:1/?token="
                           .. "REDACTED", 1, true), out)
    for _, s in ipairs{"RELTOK", "LOCPW", "LOCTOK"} do
      assert.is_nil(out:find(s, 1, true), out)
    end
  end)
end)

describe("a URL in JSON with \\u escapes", function()
  it("loses its secrets in messages, -v and --log", function()
    local srv <close> = todo.start{}
    local code, out = run_all(srv.url, [==[
      -- the server echoes the header, escaping its backslash once more
      local ok, e = pcall(http.get, BASE .. "/_echo", {expect = 201,
        headers = {["X-R"] = [[{"r":"https://a/c?s=x\u0026]]
                             .. [[access_token=SEKRIT_AT_5"}]]}})
      print("expect", ok, e)]==])
    assert.equal(0, code, out)
    assert.truthy(out:find("access_token=REDACTED", 1, true), out)
    assert.is_nil(out:find("SEKRIT", 1, true), out)
  end)
end)

describe("http.redact", function()
  -- each text, and what it becomes
  local CASES = {
    {"GET http://h/redir?to=http://v:SECRETPW@h2/y&status=302",
     "GET http://h/redir?to=http://REDACTED@h2/y&status=302"},
    {"GET http://h/?s=503&next=http://v:SECRETPW@h2/?token=SECRETTOK",
     "GET http://h/?s=503&next=http://REDACTED@h2/?token=REDACTED"},
    {"http://h/?to=http%3A%2F%2Fv%3ASECRETPW%40h2%2F%3Ftoken%3DSECRETTOK",
     "http://h/?to=http%3A%2F%2FREDACTED%40h2%2F%3Ftoken%3DREDACTED"},
    {"https://archive/web/1/http://u:SECRETPW@h/",
     "https://archive/web/1/http://REDACTED@h/"},
    {'{"next": "https:\\/\\/h\\/?api_key=SECRETTOK&a=1"}',
     '{"next": "https:\\/\\/h\\/?api_key=REDACTED&a=1"}'},
    {"Location: //u:SECRETPW@h/?token=SECRETTOK",
     "Location: //REDACTED@h/?token=REDACTED"},
    {"Location: /status?s=404&token=SECRETTOK",
     "Location: /status?s=404&token=REDACTED"},
    {'{"r":"https://a/cb?state=1\\u0026access_token=SECRETTOK"}',
     '{"r":"https://a/cb?state=1\\u0026access_token=REDACTED"}'},
    {'{"r":"https:\\u002f\\u002fu:SECRETPW@a\\u002fx"}',
     '{"r":"https:\\u002f\\u002fREDACTED@a\\u002fx"}'},
  }

  it("hides the secrets of URLs in URLs, escaped or not", function()
    local http = require "retryrun.http"
    for _, c in ipairs(CASES) do
      assert.equal(c[2], http.redact(c[1]))
      assert.equal(c[2], http.redact(c[2]))
    end
  end)

  it("leaves no secret in URLs nested and escaped at random", function()
    local http = require "retryrun.http"
    common.reseed()
    local function escape(s)
      local upper = math.random(2) == 1
      return (s:gsub("[^%w%-._~]", function(ch)
        local x = ("%%%02X"):format(ch:byte())
        return upper and x or x:lower()
      end))
    end
    local WRAP = {
      function(u) return "https://o/r?x=1&to=" .. u end,
      function(u) return "https://o/r?to=" .. escape(u) .. "&b=2" end,
      function(u) return "https://o/web/" .. u end,
      function(u) return "http://o/#next=" .. u end,
      function(u) return "redirect_uri=" .. escape(u) end,
    }
    for _ = 1, 300 do
      local u = ({"http://v:SECRETPW@h2/y?token=SECRETTOK&a=1",
                  "https://h2/cb#id_token=SECRETTOK&code=SECRETPW"})
                [math.random(2)]
      for _ = 1, math.random(3) do u = WRAP[math.random(#WRAP)](u) end
      local text = "GET " .. u .. " gave up (see " .. u .. ")."
      local out = http.redact(text)
      assert.is_nil(out:find("SECRET", 1, true), text .. "\n-> " .. out)
      assert.equal(out, http.redact(out))
    end
  end)
end)
