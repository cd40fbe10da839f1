-- The progress line: on stderr when it is a terminal and stdout is not,
-- redrawn in place, gone at the end; never in a pipe, never with --quiet.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local SCRIPT = [[
  local http = require "retryrun.http"
  local run = require "retryrun.run"
  local list = {}
  for i = 1, 40 do list[i] = i end
  run.map(list, function()
    return http.get(arg[1] .. "/items", {headers = {Authorization =
      "Bearer alice-secret"}}).status
  end, {concurrency = 4})
  print("done")
]]

-- Polls a new item until it reads (todo-server --lag hides it a while).
local POLLING = [[
  local http = require "retryrun.http"
  local A = {Authorization = "Bearer alice-secret"}
  local id = http.post(arg[1] .. "/items", {headers = A, json = {summary =
    "s"}, expect = 201}):json().id
  http.poll(arg[1] .. "/items/" .. id, {headers = A, every = 0.02,
    ready = function(r) return r.status == 200 end})
  print("done")
]]

-- run.map inside run.map: 3 items, each mapping 5 calls, 2 at a time.
local NESTED = [[
  local http = require "retryrun.http"
  local run = require "retryrun.run"
  run.map({1, 2, 3}, function()
    run.map({1, 2, 3, 4, 5}, function()
      return http.get(arg[1] .. "/items", {headers = {Authorization =
        "Bearer alice-secret"}}).status
    end, {concurrency = 2})
  end)
  print("done")
]]

-- Runs the script (SCRIPT if none) under a pseudo-terminal (script(1)),
-- stdout into a file; returns what the terminal showed and what stdout
-- got.
local function on_terminal(options, url, script)
  local path, out, typescript = common.write_script(script or SCRIPT),
                                os.tmpname(), os.tmpname()
  common.sh(("script -qc %s %s >/dev/null"):format(common.quote(
    ("%s %s %s %s >%s"):format(common.BIN, options, path, url, out)),
    typescript))
  local f = io.open(typescript)
  local shown = f:read("a")
  f:close()
  f = io.open(out)
  local stdout = f:read("a")
  f:close()
  os.remove(path); os.remove(out); os.remove(typescript)
  return shown, stdout
end

describe("the progress line", function()
  local srv
  setup(function()
    srv = todo.start{"--slow-rate", "0.5", "--slow-ms", "150", "--seed", "2"}
  end)
  teardown(function() srv:stop() end)

  it("is drawn on a terminal, and cleared at the end", function()
    local shown, stdout = on_terminal("", srv.url)
    assert.equal("done\n", stdout)
    assert.matches("\r\27%[K%[ *%d+%.%ds%] map %d+/40  in flight %d+  calls "
                   .. "%d+  retries %d+  gave up %d+  %d+ calls/s", shown)
    -- cleared before the summary, which starts a line of its own
    assert.matches("\r\27%[Kretryrun: 40 calls", shown)
  end)

  it("counts the items of every run.map, nested ones too", function()
    local shown, stdout = on_terminal("", srv.url, NESTED)
    assert.equal("done\n", stdout)
    local totals = {}
    for done, total in shown:gmatch("map (%d+)/(%d+)  ") do
      done, total = tonumber(done), tonumber(total)
      assert.is_true(done <= total, shown)
      totals[total] = true
    end
    -- 3 outer items, then 5 more as each starts its own map: never a
    -- count of one inner map alone
    assert.is_true(totals[18], shown)
    for total in pairs(totals) do
      assert.truthy(({[3] = 1, [8] = 1, [13] = 1, [18] = 1})[total], shown)
    end
  end)

  it("counts polls apart from retries", function()
    local lagging <close> = todo.start{"--lag", "500"}
    local shown, stdout = on_terminal("", lagging.url, POLLING)
    assert.equal("done\n", stdout)
    assert.matches("calls %d+  retries 0  polls %d+  gave up 0  ", shown)
  end)

  it("is not drawn with --quiet", function()
    local shown = on_terminal("--quiet", srv.url)
    assert.is_nil(shown:find("\27[K", 1, true))
    assert.is_nil(shown:find("calls/s", 1, true))
  end)

  it("never reaches a pipe", function()
    local path = common.write_script(SCRIPT)
    local code, out = common.sh(("%s %s %s 2>&1"):format(common.BIN, path,
                                                         srv.url))
    os.remove(path)
    assert.equal(0, code)
    assert.equal("done\n", out)
  end)
end)
