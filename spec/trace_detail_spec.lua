-- What -v and -vv show beyond the attempt itself: the run.step a call
-- runs in, the policy's name, the headers sent and received (-vv), all
-- redacted; and a one-liner on a terminal shows its body alone.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

-- Runs BIN with options before a script made of body (whose arg[1] is
-- url); returns the exit code and stderr's lines, stdout dropped.
local function traced(options, body, url)
  local path = common.write_script(body)
  local code, out = common.sh(("%s %s %s %s 2>&1 >/dev/null"):format(
    common.quote(common.BIN), options, common.quote(path), common.quote(url)))
  os.remove(path)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return code, lines
end

describe("retryrun -v inside run.step", function()
  it("names the step path after the task, in brackets", function()
    local srv <close> = todo.start{}
    local code, lines = traced("-v", [[
      local run, http = require "retryrun.run", require "retryrun.http"
      http.get(arg[1] .. "/items")
      run.step("load", function()
        run.step("item 2", function() http.get(arg[1] .. "/items") end)
        run.map({1}, function() http.get(arg[1] .. "/items") end)
      end)
    ]], srv.url)
    assert.equal(0, code)
    assert.equal(3, #lines)
    assert.matches("^%[ *[%d.]+%] task 1  GET ", lines[1])
    assert.matches("^%[ *[%d.]+%] task 1 %[load / item 2%]  GET ", lines[2])
    assert.matches("^%[ *[%d.]+%] task %d+ %[load%]  GET ", lines[3])
  end)

  it("redacts the step's name", function()
    local srv <close> = todo.start{}
    local _, lines = traced("-v", [[
      local run, http = require "retryrun.run", require "retryrun.http"
      run.step("fetch http://u:pw-Sec-9@h/x", function()
        http.get(arg[1] .. "/items")
      end)
    ]], srv.url)
    assert.equal(1, #lines)
    assert.is_nil(lines[1]:find("Sec", 1, true), lines[1])
    assert.matches("task 1 %[fetch http://[^]]*REDACTED@h/x%]  GET", lines[1])
  end)
end)

-- Runs cmd under a pseudo-terminal (script(1)); returns what it showed.
local function on_terminal(cmd)
  local typescript = os.tmpname()
  common.sh(("script -qc %s %s >/dev/null"):format(common.quote(cmd),
                                                   typescript))
  local f = io.open(typescript)
  local shown = f:read("a")
  f:close()
  os.remove(typescript)
  return shown
end

describe("a one-liner on a terminal", function()
  it("shows the body alone, as curl does", function()
    local srv <close> = todo.start{}
    local shown = on_terminal(("%s get %s/_headers?a=b"):format(
      common.quote(common.BIN), srv.url))
    assert.matches('{"headers":1}', shown, 1, true)
    assert.is_nil(shown:find("retryrun:", 1, true), shown)
  end)

  it("adds the summary with --summary", function()
    local srv <close> = todo.start{}
    local shown = on_terminal(("%s --summary get %s/_headers?a=b"):format(
      common.quote(common.BIN), srv.url))
    assert.matches("retryrun: 1 call", shown, 1, true)
  end)

  it("still shows a script's summary", function()
    local srv <close> = todo.start{}
    local path = common.write_script(
      [[require("retryrun.http").get(arg[1] .. "/_headers?a=b")]])
    local shown = on_terminal(("%s %s %s"):format(common.quote(common.BIN),
                                                  path, srv.url))
    os.remove(path)
    assert.matches("retryrun: 1 call", shown, 1, true)
  end)
end)
