-- The Lua that make links (scripts/lua-lto.sh): Debian's own source built
-- with LTO where it can be, else Debian's liblua5.4.a as it is, and
-- either way a Lua that C modules load into. The cases here need no
-- network: they take the ways out that come before the fetch.
local common = require "spec.support.common"

local sh, quote, read = common.sh, common.quote, common.read

-- Debian's static Lua, as the Makefile finds it, or nil.
local function debian_a()
  local dir = common.capture("pkg-config --variable=libdir lua5.4 2>/dev/null")
  local path = dir:gsub("%s+$", "") .. "/liblua5.4.a"
  local f = io.open(path, "rb")
  if not f then return nil end
  f:close()
  return path
end

describe("scripts/lua-lto.sh", function()
  local deb = debian_a()
  local dir

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. quote(dir)))
  end)

  after_each(function()
    os.execute("rm -rf " .. quote(dir))
  end)

  -- Runs the script for dir/liblua.a with the compiler given.
  local function lto(cc)
    return sh(("sh scripts/lua-lto.sh %s %s %s %s ''"):format(
      quote(dir .. "/liblua.a"), quote(deb), quote(cc),
      quote("-O2 -Wall -Wextra -Werror")))
  end

  it("keeps Debian's library as it is, and says why, when CC is not gcc",
     function()
    if not deb then pending("no liblua5.4.a") return end
    local code, out = lto("true")
    assert.equal(0, code)
    assert.matches("Debian's liblua5.4.a as it is %(true is not gcc%)", out)
    assert.equal(read(deb), read(dir .. "/liblua.a"))
  end)

  it("leaves alone a library newer than itself and Debian's, which a " ..
     "build that ran meanwhile made", function()
    if not deb then pending("no liblua5.4.a") return end
    local f = assert(io.open(dir .. "/liblua.a", "w"))
    f:write("kept")
    f:close()
    local code, out = lto("gcc")
    assert.equal(0, code)
    assert.equal("", out)
    assert.equal("kept", read(dir .. "/liblua.a"))
  end)
end)

describe("make's record of LUA_STATIC and LUA_LTO", function()
  -- What links Lua depends on BUILD/lua/choice: make rewrites it when the
  -- choice changes (so that everything is made again), and only then.
  it("changes when the choice does, and only then", function()
    local build = os.tmpname()
    os.remove(build)
    local function choose(vars)
      -- the make running the specs (make asan: LUA_STATIC=no) passes its
      -- variables down in MAKEFLAGS; this make takes only these
      local code, out = sh(("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS "
                            .. "make -s BUILD=%s %s %s/lua/choice"):format(
        quote(build), vars, quote(build)))
      assert.equal(0, code, out)
      local path = build .. "/lua/choice"
      return read(path), common.capture("stat -c %y " .. quote(path))
    end
    local text, t1 = choose("LUA_STATIC=yes LUA_LTO=yes")
    assert.equal("static=yes lto=yes\n", text)
    local _, t2 = choose("LUA_STATIC=yes LUA_LTO=yes")
    assert.equal(t1, t2)
    text = choose("LUA_STATIC=yes LUA_LTO=no")
    assert.equal("static=yes lto=no\n", text)
    text = choose("LUA_STATIC=no LUA_LTO=yes")
    assert.equal("static=no lto=yes\n", text)
    os.execute("rm -rf " .. quote(build))
  end)
end)

describe("the retryrun that make links", function()
  it("loads a C module, which finds the Lua API in it", function()
    local code, out = common.run([[
      local cjson = require "cjson"
      print(cjson.encode({1, 2}), _VERSION)
    ]], {timeout = 5})
    assert.equal(0, code, out)
    assert.matches("%[1,2%]\tLua 5%.4", out)
  end)
end)
