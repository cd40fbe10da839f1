-- todo-server's PUT /items/<id>: a new summary and description for an
-- item, checked as POST /items checks them.
local cjson = require "cjson"
local todo = require "spec.support.todo"

local ALICE, BOB = "alice-secret", "bob-secret"

describe("todo-server PUT /items/<id>", function()
  local srv
  setup(function() srv = todo.start{"--lag", "60000"} end)
  teardown(function() srv:stop() end)

  local function create(s, d)
    return srv:request("POST", "/items", {token = ALICE, json = cjson.encode{
      summary = s, description = d}}).json.id
  end
  local function put(token, id, fields)
    return srv:request("PUT", "/items/" .. id, {token = token,
                                                json = cjson.encode(fields)})
  end

  it("replaces the text: 200 with the item, in the list too", function()
    local id = create("old", "old text")
    local r = put(ALICE, id, {summary = "new", description = "new text"})
    assert.equal(200, r.status)
    assert.same({id = id, summary = "new", description = "new text"}, r.json)
    -- a description left out is empty, as for a create
    assert.same({id = id, summary = "newer", description = ""},
                put(ALICE, id, {summary = "newer"}).json)
    local listed
    for _, it in ipairs(srv:request("GET", "/items", {token = ALICE}).json) do
      if it.id == id then listed = it.summary end
    end
    assert.equal("newer", listed)
  end)

  it("is idempotent, and works on a done item and through --lag",
     function()
    local id = create("x", "")
    assert.equal(200, srv:request("DELETE", "/items/" .. id,
                                  {token = ALICE}).status)
    local a = put(ALICE, id, {summary = "again"})
    local b = put(ALICE, id, {summary = "again"})
    assert.same({200, 200}, {a.status, b.status})
    assert.same(a.json, b.json)
  end)

  it("refuses what POST refuses, another user's item and no item",
     function()
    local id = create("mine", "")
    assert.same({error = "summary must not be empty"},
                put(ALICE, id, {summary = ""}).json)
    assert.equal(400, put(ALICE, id, {description = "x"}).status)
    assert.equal(400, put(ALICE, id, {summary = "s", description = 1}).status)
    assert.equal(403, put(BOB, id, {summary = "bob's now"}).status)
    assert.equal(404, put(ALICE, 424242, {summary = "s"}).status)
    assert.equal(400, put(ALICE, "x", {summary = "s"}).status)
    assert.equal(401, put(nil, id, {summary = "s"}).status)
    local r = srv:request("PUT", "/items/" .. id, {token = ALICE, body = "{}"})
    assert.equal(415, r.status)
    -- nothing changed
    for _, it in ipairs(srv:request("GET", "/items", {token = ALICE}).json) do
      if it.id == id then assert.equal("mine", it.summary) end
    end
  end)
end)
