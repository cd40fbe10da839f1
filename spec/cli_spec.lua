-- The retryrun command line: scripts, options, exit codes, signals.
local todo = require "spec.support.todo"

local common = require "spec.support.common"

local BIN, sh, q = common.BIN, common.sh, common.quote

describe("retryrun", function()
  it("runs a script with arg as lua sets it", function()
    local code, out, _, path = common.run(
      "print(arg[0], arg[1], arg[2], select('#', ...))",
      {args = {"one", "two"}})
    assert.equal(0, code)
    assert.equal(path .. "\tone\ttwo\t2\n", out)
  end)

  it("runs -e CODE", function()
    local code, out = sh(BIN .. " -e 'print(1 + 2)'")
    assert.same({0, "3\n"}, {code, out})
  end)

  it("runs a script from stdin", function()
    local code, out = sh("echo 'print(\"hi\")' | " .. BIN .. " -")
    assert.same({0, "hi\n"}, {code, out})
  end)

  it("prints its version", function()
    local code, out = sh(BIN .. " --version")
    assert.equal(0, code)
    assert.matches("^retryrun %d+%.%d+%.%d+ %(Lua 5%.4", out)
  end)

  it("exits 2 on an unknown option, suggesting the right one", function()
    local code, out = sh(BIN .. " --sed 1 x.lua")
    assert.equal(2, code)
    assert.matches("unknown option '%-%-sed' %(did you mean '%-%-seed'%?%)",
                   out)
  end)

  it("exits 2 on a bad option value", function()
    local code, out = sh(BIN .. " --max-connections lots x.lua")
    assert.equal(2, code)
    assert.matches("'%-%-max%-connections' needs a whole number", out)
  end)

  it("exits 2 with no script", function()
    local code, out = sh(BIN)
    assert.equal(2, code)
    assert.matches("usage: retryrun", out)
  end)

  it("exits 2 on a verb in capitals that names no script", function()
    local code, out = sh(BIN .. " GET http://127.0.0.1:1/ 2>&1")
    assert.equal(2, code)
    assert.equal("retryrun: no script 'GET': a one-liner's verb is written "
                 .. "in lower case (retryrun get URL)\nTry 'retryrun --help' "
                 .. "for more information.\n", out)
  end)

  it("exits 1 on a syntax error, naming file and line", function()
    local code, out, _, path = common.run("local x = \nprint(")
    assert.equal(1, code)
    assert.matches(common.literal(path) .. ":2:", out)
  end)

  it("exits 1 on an error, with a file:line traceback", function()
    local code, out = common.run(
      "local function f() error('it broke') end\nf()\n")
    assert.equal(1, code)
    assert.matches("^retryrun: .*:1: it broke\nstack traceback:", out)
    assert.matches(":2: in main chunk", out)
  end)

  it("exits 1 on an error object whose __tostring raises, without a panic",
     function()
    local code, out = sh(BIN .. " -e " .. q([[
      error(setmetatable({}, {__index = function() error("i") end,
                              __tostring = function() error("t") end}))]]))
    assert.equal(1, code)
    assert.matches("^retryrun: %(an error whose message cannot be made", out)
  end)

  it("exits 1 on a missing script", function()
    local code, out = sh(BIN .. " /nonexistent/x.lua")
    assert.equal(1, code)
    assert.matches("cannot open /nonexistent/x.lua", out)
  end)

  it("exits 3 when a call gave up and nothing caught it", function()
    local code, out = sh(BIN .. " -e " .. q([[
      local http = require "retryrun.http"
      http.get("http://127.0.0.1:1/", {retry = {attempts = 2,
        backoff = {initial = 0.001}}})]]))
    assert.equal(3, code)
    assert.matches("^retryrun: GET http://127.0.0.1:1/ gave up after 2 " ..
                   "attempts in %d+%.%d s: connect, connect", out)
    assert.matches("stack traceback", out)
  end)

  it("exits 1 when a task failed and nothing waited on it", function()
    local code, out = sh(BIN .. " -e " .. q([[
      local run = require "retryrun.run"
      run.spawn(function() error("lost task") end)]]))
    assert.equal(1, code)
    assert.matches("a task failed and nothing waited on it: .*lost task", out)
  end)

  it("fixes the jitter with --seed and RETRYRUN_SEED", function()
    local code = [[
      local retry = require "retryrun.retry"
      local p = retry.policy{}
      print(p:delay(1), p:delay(2), p:delay(3))]]
    local _, a = sh(BIN .. " --seed 42 -e " .. q(code))
    local _, b = sh("RETRYRUN_SEED=42 " .. BIN .. " -e " .. q(code))
    local _, c = sh(BIN .. " --seed 43 -e " .. q(code))
    assert.equal(a, b)
    assert.not_equal(a, c)
  end)

  it("stops on SIGINT with 130, running on_giveup", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local path = common.write_script(([[
      local http = require "retryrun.http"
      local run = require "retryrun.run"
      for i = 1, 3 do
        run.spawn(function()
          http.get("%s/items", {retry = {on_giveup = function(err)
            print("gave up: " .. err.reason) end}})
        end)
      end
      print("started")
      io.stdout:flush()
    ]]):format(srv.url))
    local t0 = os.time()
    local code, out = sh(BIN .. " " .. path .. " & p=$!; sleep 0.5; " ..
                         "kill -INT $p; wait $p")
    os.remove(path)
    assert.equal(130, code)
    local _, n = out:gsub("gave up: interrupted", "")
    assert.equal(3, n)
    assert.is_true(os.time() - t0 < 4)
  end)
end)

describe("make install", function()
  it("installs a retryrun that finds its modules under any prefix",
     function()
    local prefix = os.tmpname()
    os.remove(prefix)
    local code, out = sh("make -s install PREFIX=" .. prefix .. " BUILD=" ..
                         common.BUILD ..
                         " >/dev/null && cd / && " .. prefix ..
                         "/bin/retryrun -e 'print(package.searchpath(" ..
                         "\"retryrun.http\", package.path))'")
    os.execute("rm -rf " .. q(prefix))
    assert.equal(0, code)
    assert.equal(prefix .. "/share/retryrun/lua/retryrun/http.lua\n", out)
  end)
end)
