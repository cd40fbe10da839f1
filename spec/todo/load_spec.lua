-- todo-server under load: 20,000 requests over 32 connections at once,
-- every one answered, every count right.

local todo = require "spec.support.todo"

local USERS = {"alice-secret", "bob-secret"}
local TOTAL, PARALLEL = 20000, 32

describe("todo-server under load", function()
  it("answers 20,000 requests over 32 connections and keeps its counts", function()
    local srv <close> = todo.start()
    local first = srv:request("POST", "/items",
                              {token = USERS[1], json = '{"summary":"first"}'}).json.id
    srv:reset_stats()

    -- a quarter GETs of one item; the rest POSTs, alternating users, one
    -- in ten with an Idempotency-Key out of 100, reused concurrently
    local reqs, posts, keyed, keys = {}, {0, 0}, 0, {}
    for i = 1, TOTAL do
      if i % 4 == 0 then
        reqs[i] = {path = "/items/" .. first, token = USERS[1]}
      else
        local u = i % 2 + 1
        reqs[i] = {method = "POST", path = "/items", token = USERS[u],
                   json = ('{"summary":"load %d","description":"by %d"}'):format(i, u)}
        if i % 10 == 1 then
          local key = "load-" .. (i % 100)
          reqs[i].headers = {"Idempotency-Key: " .. key}
          keyed = keyed + 1
          if not keys[u .. key] then
            keys[u .. key] = true
            posts[u] = posts[u] + 1
          end
        else
          posts[u] = posts[u] + 1
        end
      end
    end
    local distinct = 0
    for _ in pairs(keys) do distinct = distinct + 1 end

    local res = srv:batch(reqs, {parallel = PARALLEL})

    local by_status = {}
    for _, r in ipairs(res) do by_status[r.status] = (by_status[r.status] or 0) + 1 end
    assert.same({[200] = TOTAL / 4, [201] = TOTAL - TOTAL / 4}, by_status)

    local s = srv:stats()
    assert.equal(TOTAL, s.requests)
    assert.equal(posts[1] + posts[2], s.items_created)
    assert.equal(keyed - distinct, s.idempotent_replays)
    assert.is_true(s.connections_peak >= 2 and s.connections_peak <= PARALLEL + 2,
                   "connections_peak " .. s.connections_peak)
    for name, n in pairs(s.faults) do assert.equal(0, n, name) end

    -- each user's list holds exactly their items, each id once
    local seen = {}
    for u, token in ipairs(USERS) do
      local list = srv:request("GET", "/items", {token = token}).json
      assert.equal(posts[u] + (u == 1 and 1 or 0), #list)
      for _, it in ipairs(list) do
        assert.is_nil(seen[it.id], "id " .. it.id .. " listed twice")
        seen[it.id] = true
      end
    end
    assert.same({true, "exit", 0}, {srv:stop()})
  end)
end)
