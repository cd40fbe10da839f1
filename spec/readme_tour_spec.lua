-- README's "The API by example": the tour, as written there, against
-- todo-server with every fault its README names switched on, gives the
-- right answers: every item read back as listed, nothing an error's body.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local q = common.quote

-- The tour's code block, with checks of what it made after it.
local function tour()
  local f = assert(io.open("README.md"))
  local text = f:read("a")
  f:close()
  local block = assert(text:match("\n## The API by example.-\n```lua\n(.-)```"),
                       "no tour in README.md")
  return block .. [[
assert(#items >= 40, "only " .. #items .. " items")
for i, item in ipairs(items) do
  assert(math.type(item.id) == "integer" and type(item.summary) == "string",
         "items[" .. i .. "] is not an item")
  assert(details[i].id == item.id and details[i].summary == item.summary,
         "details[" .. i .. "] is not item " .. item.id)
end
assert(math.type(created.id) == "integer", "created has no id")
print("the tour read " .. #details .. " items")
]]
end

-- The Sessions section's code block, after the tour's (whose names it
-- uses), with checks of what it read.
local function session_example()
  local f = assert(io.open("README.md"))
  local text = f:read("a")
  f:close()
  local head = text:match("\n## The API by example.-\n```lua\n(.-)```")
  local block = assert(text:match("\n### Sessions\n.-\n```lua\n(.-)```"),
                       "no session example in README.md")
  return head .. "\n" .. block .. [[
assert(#items >= 40, "only " .. #items .. " items")
for i, item in ipairs(items) do
  assert(type(item.summary) == "string", "items[" .. i .. "] is not an item")
end
print("the session read " .. #items .. " items")
]]
end

-- Makes n items on srv, through its faults.
local function fill(srv, n)
  local code, out = common.run([[
    local http = require "retryrun.http"
    local R = {attempts = 40, idempotency_key = true, backoff = {initial =
      0.001, max = 0.01}, retry_on = {"connect", "timeout", "reset", 401,
      429, "5xx"}}
    for i = 1, tonumber(arg[2]) do
      http.post(arg[1] .. "/items", {headers = {Authorization =
        "Bearer alice-secret"}, json = {summary = "item " .. i,
        description = "d"}, retry = R, expect = 201})
    end
  ]], {args = {srv.url, tostring(n)}})
  assert.equal(0, code, out)
end

describe("README's tour", function()
  it("reads every item right through todo-server's faults", function()
    local path = common.write_script(tour())
    for _, seed in ipairs{"3", "11"} do
      local srv <close> = todo.start{"--seed", seed, "--fail-rate", "0.02",
        "--missing-field-rate", "0.02", "--spurious-401-rate", "0.02",
        "--reset-rate", "0.02", "--throttle-rate", "0.02",
        "--lose-response-rate", "0.02", "--slow-rate", "0.02",
        "--slow-ms", "100", "--lag", "100"}
      fill(srv, 40)
      common.sleep(0.15)         -- past the lag: the tour reads old items
      local code, out = common.sh(("%s --fake-clock --seed %s %s %s")
        :format(q(common.BIN), seed, q(path), q(srv.url)))
      assert.equal(0, code, out)
      assert.matches("the tour read 40 items\n", out)
    end
    os.remove(path)
  end)

  it("has a session example that works through the same faults", function()
    local path = common.write_script(session_example())
    for _, seed in ipairs{"3", "11"} do
      local srv <close> = todo.start{"--seed", seed, "--fail-rate", "0.05",
        "--spurious-401-rate", "0.05", "--reset-rate", "0.05",
        "--throttle-rate", "0.05", "--lose-response-rate", "0.05"}
      fill(srv, 40)
      local code, out = common.sh(("%s --fake-clock --seed %s %s %s")
        :format(q(common.BIN), seed, q(path), q(srv.url)))
      assert.equal(0, code, out)
      assert.matches("the session read 4[12] items\n", out)
    end
    os.remove(path)
  end)
end)
