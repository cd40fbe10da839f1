-- Proxies come from the environment as libcurl reads it: http_proxy,
-- https_proxy, ALL_PROXY and kin name the proxy, NO_PROXY the hosts that
-- go around it, and HTTP_PROXY in upper case is ignored. misbehave.py
-- serves as the proxy (it answers a request's path whatever host its
-- target names, and counts what it sees); todo-server is the host that a
-- request reaches directly.
local common = require "spec.support.common"
local misbehave = require "spec.support.misbehave"
local todo = require "spec.support.todo"

-- every variable libcurl may read for a proxy, unset before a run sets its
-- own
local NAMES = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
               "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"}

local SCRIPT = [[
local http = require "retryrun.http"
for i = 1, #arg do
  local ok, r = pcall(http.get, arg[i], {timeout = 10,
                      retry = {attempts = 1, retry_on = {}}})
  if ok then print(r.status, r.body) else print("error", tostring(r)) end
end
]]

--- Runs SCRIPT on the urls with exactly the proxy variables in env.
-- @return the exit code and what it printed
local function run(env, ...)
  local words = {"env"}
  for _, name in ipairs(NAMES) do words[#words + 1] = "-u " .. name end
  for name, value in pairs(env) do
    words[#words + 1] = common.quote(name .. "=" .. value)
  end
  local path = common.write_script(SCRIPT)
  words[#words + 1] = common.quote(common.BIN)
  words[#words + 1] = common.quote(path)
  for _, url in ipairs{...} do words[#words + 1] = common.quote(url) end
  local code, out = common.sh("timeout 60 " .. table.concat(words, " "))
  os.remove(path)
  return code, out
end

describe("proxies from the environment", function()
  local proxy, srv
  setup(function()
    proxy = misbehave.start()
    srv = todo.start()
  end)
  teardown(function()
    proxy:stop()
    srv:stop()
  end)

  --- Runs the urls under env; returns what it printed and the requests
  -- the proxy saw meanwhile.
  local function through(env, ...)
    local before = proxy:stats().requests
    local code, out = run(env, ...)
    assert.equal(0, code, out)
    return out, proxy:stats().requests - before
  end

  it("sends every request through http_proxy", function()
    -- a host no resolver knows: only the proxy can answer for it
    local out, seen = through({http_proxy = proxy.url},
                              "http://proxied.invalid/ok", srv.url .. "/ok")
    assert.equal("200\tok\n200\tok\n", out)
    assert.equal(2, seen)
  end)

  it("sends them through ALL_PROXY, in upper case too", function()
    for _, name in ipairs{"all_proxy", "ALL_PROXY"} do
      local out, seen = through({[name] = proxy.url},
                                "http://proxied.invalid/ok")
      assert.equal("200\tok\n", out, name)
      assert.equal(1, seen, name)
    end
  end)

  it("goes around it for the hosts NO_PROXY names", function()
    local out, seen = through({http_proxy = proxy.url,
                               NO_PROXY = "localhost,127.0.0.1"},
                              srv.url .. "/ok", srv.url .. "/ok")
    assert.equal("404\t", out:sub(1, 4))
    assert.falsy(out:find("ok\n", 1, true), out)
    assert.equal(0, seen)
  end)

  it("ignores HTTP_PROXY in upper case, as libcurl does", function()
    local out, seen = through({HTTP_PROXY = proxy.url}, srv.url .. "/ok")
    assert.equal("404\t", out:sub(1, 4))
    assert.equal(0, seen)
  end)

  it("goes direct without a proxy variable, or with an empty one",
     function()
    for _, env in ipairs{{}, {http_proxy = ""}, {NO_PROXY = "example.com"}} do
      local out, seen = through(env, srv.url .. "/ok", srv.url .. "/ok")
      assert.equal("404\t", out:sub(1, 4))
      assert.falsy(out:find("ok\n", 1, true), out)
      assert.equal(0, seen)
    end
  end)
end)
