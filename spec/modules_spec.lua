-- retryrun's own Lua modules: compiled into the binary, yet named as
-- their files are wherever retryrun finds its Lua directory.
local common = require "spec.support.common"

local BIN, sh, q = common.BIN, common.sh, common.quote

describe("retryrun's Lua modules", function()
  local dir, luadir

  -- dir/bin/retryrun beside a dir/lua/retryrun/ whose files raise when run
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir .. "/bin") .. " " ..
                      q(dir .. "/lua/retryrun") .. " && cp " .. q(BIN) ..
                      " " .. q(dir .. "/bin/retryrun")))
    for _, name in ipairs{"http", "check", "retry", "stdlib"} do
      local f = assert(io.open(dir .. "/lua/retryrun/" .. name .. ".lua", "w"))
      f:write('error("read from its file")\n')
      f:close()
    end
    luadir = common.capture("cd " .. q(dir .. "/lua") .. " && pwd -P")
                   :gsub("\n$", "")
  end)

  teardown(function() os.execute("rm -rf " .. q(dir)) end)

  it("come from the binary, named as the files beside it", function()
    local code, out = sh(q(dir .. "/bin/retryrun") .. " -e " .. q(
      'local http = require "retryrun.http" ' ..
      'print(debug.getinfo(http.get, "S").source) ' ..
      'print(select(2, package.searchers[2]("retryrun.retry"))) ' ..
      'print(package.searchers[2]("retryrun.nothing"))'))
    assert.equal(0, code, out)
    assert.equal("@" .. luadir .. "/retryrun/http.lua\n" ..
                 luadir .. "/retryrun/retry.lua\n\n", out)
  end)

  it("raise at the script's line, with tracebacks through their lines",
     function()
    local code, out = sh(q(dir .. "/bin/retryrun") .. " -e " ..
                         q('require("retryrun.http").get(42)'))
    assert.equal(1, code)
    assert.matches("^retryrun: %(command line%):1: request needs a url", out)
    assert.truthy(out:find("\n\t" .. common.literal(luadir) ..
                           "/retryrun/http%.lua:%d+: in function " ..
                           "'retryrun%.http%.get'\n"), out)
  end)

  it("load session, run and multipart when a call first needs them",
     function()
    local code, out = sh(BIN .. " -e " .. q([[
local http = require "retryrun.http"
local function loaded()
  print(package.loaded["retryrun.session"] ~= nil,
        package.loaded["retryrun.run"] ~= nil,
        package.loaded["retryrun.multipart"] ~= nil)
end
loaded()
print(select(2, pcall(function() http.session{bse = "x"} end)))
print(select(2, pcall(function()
  http.post("http://127.0.0.1:1/", {multipart = {doc = {path = "/no/doc"}}})
end)))
loaded()]]))
    assert.equal(0, code, out)
    assert.equal("false\tfalse\tfalse\n" ..
                 "(command line):8: unknown session option 'bse' " ..
                 "(did you mean 'base'?)\n" ..
                 "(command line):10: multipart part 'doc': cannot read " ..
                 "/no/doc: No such file or directory\n" ..
                 "true\ttrue\ttrue\n", out)
  end)

  it("are compiled again when one changes", function()
    local code, out = sh("make -n -W lua/retryrun/json.lua BUILD=" ..
                         q(common.BUILD) .. " " .. q(BIN))
    assert.equal(0, code, out)
    assert.truthy(out:find("lua_bytecode " .. common.BUILD ..
                           "/gen/lua_modules.c", 1, true), out)
  end)
end)
