-- The example scripts in scripts/, each run by the retryrun binary against
-- todo-server with the fault it is about switched on: what each prints,
-- its exit code, and what the server saw.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local SCRIPT_TIMEOUT = 60   -- seconds; a hung script fails, never hangs
local count = common.count

--- Runs `retryrun SCRIPT ARGS...` and returns its output (stdout and
-- stderr) and its exit code.
local function run_script(script, ...)
  local code, out = common.run(script, {file = true, args = {...},
                                        timeout = SCRIPT_TIMEOUT})
  return out, code
end

--- Starts a server with flags, runs the script against it, stops it.
-- @return the output, the exit code and the server's /_stats at the end
local function against(flags, script, ...)
  local srv <close> = todo.start(flags)
  local out, code = run_script(script, srv.url, ...)
  return out, code, srv:stats()
end

describe("scripts/", function()
  describe("fetch_items.lua", function()
    it("gets the list through the 500s", function()
      local out, code, stats = against({"--fail-rate", "0.2", "--seed", "1"},
                                       "scripts/fetch_items.lua")
      assert.equal(0, code, out)
      local attempts = tonumber(out:match("fetched 3 items in (%d+) attempt"))
      assert.is_true(attempts and attempts >= 2, out)
      assert.equal(attempts - 1, count(out, "GET /items: got a 500, retrying"))
      assert.truthy(out:find("  1  buy milk\n  2  call the plumber\n"
                             .. "  3  water the plants\n", 1, true), out)
      assert.is_true(stats.faults.fail >= attempts - 1)
      assert.equal(3, stats.items_created)
    end)
  end)

  describe("predicate.lua", function()
    it("retries each 200 without a summary, and nothing else", function()
      local out, code, stats = against(
        {"--missing-field-rate", "0.3", "--seed", "2"}, "scripts/predicate.lua")
      assert.equal(0, code, out)
      local retried = count(out, "without a summary: retrying")
      assert.equal(2, retried, out)
      assert.equal(stats.faults.missing_field, retried)
      assert.truthy(out:find("200 with an item without a summary", 1, true))
      assert.truthy(out:find('GET /items/3\n  200 without a summary: '
                             .. 'retrying in [%d.]+ s\n  "water the plants" '
                             .. "after 2 attempt%(s%)"), out)
      assert.equal(1, count(out, '"buy milk"'))
    end)
  end)

  describe("class_family.lua", function()
    it("retries the 500s and the 401s each where it is meant to", function()
      local out, code = against({"--fail-rate", "0.15",
                                 "--spurious-401-rate", "0.15",
                                 "--seed", "24"}, "scripts/class_family.lua")
      assert.equal(0, code, out)
      -- RetryOnServerError makes up to 6 attempts: here 3 retries of 500
      assert.truthy(out:find("get_single_item%(2%)\n" .. ("  got 500, "
        .. "retrying in [%d.]+ s\n"):rep(3) .. '  "call the plumber"'), out)
      -- RetryOnAuthFailure retries the spurious 401s of drop_item
      assert.truthy(out:find("drop_item%(2%)\n" .. ("  got 401, retrying "
        .. "in [%d.]+ s\n"):rep(2)), out)
      assert.truthy(out:find("0 open items left", 1, true), out)
    end)

    it("leaves a 401 alone where only 500s are retried (Retry)", function()
      local out, code = against({"--fail-rate", "0.15",
                                 "--spurious-401-rate", "0.15",
                                 "--seed", "2"}, "scripts/class_family.lua")
      assert.equal(1, code, out)
      assert.truthy(out:find("GET http://127.0.0.1:%d+/items: 401 "
                             .. '{"error":"invalid token"}'), out)
    end)
  end)

  describe("refresh_token.lua", function()
    it("fetches a new token once the server refuses the old one",
       function()
      local out, code, stats = against({"--token-ttl", "1", "--seed", "1"},
                                       "scripts/refresh_token.lua")
      assert.equal(0, code, out)
      local tokens = {}
      for t in out:gmatch("new token (at_%x+)%.%.%., valid for 1 s") do
        tokens[#tokens + 1] = t
      end
      assert.equal(2, #tokens, out)
      assert.not_equal(tokens[1], tokens[2])
      assert.equal(3, count(out, "GET /items: 200"))
      -- the second token comes after the sleep, not before
      assert.truthy(out:find("past the token's lifetime\n  new token", 1,
                             true), out)
      -- 2 tokens, 3 lists, and the one list refused with the old token
      assert.equal(2, stats.tokens_issued)
      assert.equal(6, stats.requests)
    end)

    it("retries a token answer without access_token", function()
      local out, code, stats = against({"--token-ttl", "1",
                                        "--missing-field-rate", "0.2",
                                        "--seed", "1"},
                                       "scripts/refresh_token.lua")
      assert.equal(0, code, out)
      assert.is_true(stats.faults.missing_field >= 1)
      assert.equal(stats.faults.missing_field,
                   count(out, common.literal("valid for 1 s (2 attempt(s))")))
      assert.equal(2, count(out, "new token at_"))
    end)
  end)

  describe("create_then_read.lua", function()
    it("reads the new item back once the lag has passed", function()
      local out, code, stats = against({"--lag", "250"},
                                       "scripts/create_then_read.lua")
      assert.equal(0, code, out)
      assert.truthy(out:find("a plain GET at once: 404", 1, true), out)
      local polls, secs = out:match('read it back: "tag the new server" '
        .. "%(env=staging%) after (%d+) poll%(s%) in ([%d.]+) s")
      polls, secs = tonumber(polls), tonumber(secs)
      assert.is_true(polls and polls >= 2, out)
      assert.is_true(secs >= 0.2 and secs < 5, out)
      assert.equal(polls, stats.faults.lag_404)  -- the plain GET + polls
    end)
  end)

  describe("idempotent_post.lua", function()
    it("creates each item once although responses are lost", function()
      local srv <close> = todo.start{"--lose-response-rate", "0.3",
                                     "--seed", "1"}
      local out, code = run_script("scripts/idempotent_post.lua", srv.url)
      local stats = srv:stats()
      local list = srv:request("GET", "/items", {token = common.TOKEN})
      assert.equal(0, code, out)
      assert.truthy(out:find("GET /items: all 5 items, no duplicates", 1,
                             true), out)
      local replayed = count(out, "replayed by the server")
      assert.is_true(replayed >= 1, out)
      assert.equal(replayed, stats.idempotent_replays)
      assert.equal(replayed, count(out, "reset: the item may exist"))
      -- the server's own list: each summary once
      local seen = {}
      for _, item in ipairs(list.json) do
        seen[item.summary] = (seen[item.summary] or 0) + 1
      end
      for _, s in ipairs{"buy milk", "call the plumber", "water the plants",
                         "renew the passport", "back up the laptop"} do
        assert.equal(1, seen[s], s)
      end
      -- and without a key the lost answer is not retried
      assert.truthy(out:find("without a key: POST http://127.0.0.1:%d+/items "
        .. "gave up after 1 attempt in [%d.]+ s: reset; not retried: POST is "
        .. "not idempotent"), out)
    end)
  end)

  describe("runbook.lua", function()
    it("creates, reads, updates, pages and deletes N records, each once, "
       .. "through faults", function()
      local N = 30
      local srv <close> = todo.start{"--fail-rate", "0.05", "--reset-rate",
                                     "0.03", "--lose-response-rate", "0.1",
                                     "--lag", "100", "--seed", "3"}
      local out, code = run_script("scripts/runbook.lua", srv.url, N)
      local stats = srv:stats()
      -- the server's faults are still on: a read is tried until a 200
      local function read(path)
        local r
        for _ = 1, 20 do
          r = srv:request("GET", path, {token = common.TOKEN})
          if r.status == 200 then break end
        end
        assert.equal(200, r.status)
        return r.json
      end
      assert.equal(0, code, out)
      assert.truthy(out:find(("created=%d updated=%d listed=%d deleted=%d "
                              .. "left=0 duplicates=0\n$"):format(N, N, N, N)),
                    out)
      -- the server made each record once, and none is left open
      assert.equal(N, stats.items_created)
      assert.same({}, read("/items"))
      -- and each was updated: ids 1 to N (done items still read)
      for id = 1, N do
        assert.matches("^record %d+, checked$", read("/items/" .. id).summary)
      end
      -- every lost answer to a create was repeated with its key (how
      -- many there were depends on the order the 8 tasks' requests came)
      local f = stats.faults
      assert.equal(f.lose_response, stats.idempotent_replays)
      -- and there were faults to go through, and records not there yet
      assert.is_true(f.fail + f.reset + f.lose_response >= 3, out)
      assert.is_true(f.lag_404 >= 1)
    end)
  end)

  describe("outage.lua", function()
    it("shows the plain loop without retryrun's guards", function()
      local out, code, stats = against({"--outage", "0:1"},
        "scripts/outage.lua", "plain", "1", "64", "1.5")
      assert.equal(0, code, out)
      local retries = tonumber(out:match("retries=(%d+)"))
      local giveups = tonumber(out:match("giveups=(%d+)"))
      -- no retry budget: every call that gave up made all 4 attempts
      assert.is_true(giveups > 34, out)
      assert.is_true(retries >= 3 * giveups, out)
      assert.is_true(stats.faults.outage > 64 + 100, stats.faults.outage)
    end)
  end)

  describe("ui_flow.lua", function()
    local FLOWS = 200
    local srv, none, with
    local function counts(out)
      local last = out:match("(mode=[^\n]*)\n$")
      assert(last, "no counts line in:\n" .. out)
      local c = {}
      for k, v in last:gmatch("([%w_]+)=(%S+)") do c[k] = tonumber(v) or v end
      return c
    end

    setup(function()
      srv = todo.start{"--fail-rate", "0.02", "--missing-field-rate", "0.02",
                       "--seed", "1"}
      local out, code = run_script("scripts/ui_flow.lua", srv.url, FLOWS,
                                   "none")
      none = {out = out, code = code, stats = srv:stats()}
      srv:reset_stats()
      out, code = run_script("scripts/ui_flow.lua", srv.url, FLOWS, "retry")
      with = {out = out, code = code, stats = srv:stats()}
    end)
    teardown(function() srv:stop() end)

    it("fails flows without retries, at their first bad answer", function()
      assert.equal(0, none.code, none.out)
      local c = counts(none.out)
      assert.equal("none", c.mode)
      assert.equal(FLOWS, c.flows)
      assert.equal(0, c.retries)
      assert.is_true(c.flows_failed > 0, none.out)
      -- a failed flow stops, so fewer than 10 calls a flow were made
      assert.is_true(c.calls < 10 * FLOWS)
      assert.equal(c.calls, none.stats.requests)
      local f = none.stats.faults
      assert.equal(c.flows_failed, f.fail + f.missing_field)
      assert.truthy(none.out:find("# flow %d+ failed at call %d+: "), none.out)
    end)

    it("fails no flow with the default policy and a valid predicate",
       function()
      assert.equal(0, with.code, with.out)
      local c = counts(with.out)
      assert.equal("retry", c.mode)
      assert.equal(FLOWS, c.flows)
      assert.equal(0, c.flows_failed, with.out)
      assert.equal(10 * FLOWS, c.calls)
      -- every fault injected cost exactly one retry
      local f = with.stats.faults
      assert.is_true(c.retries > 0)
      assert.equal(f.fail + f.missing_field, c.retries)
      assert.equal(c.calls + c.retries, with.stats.requests)
      assert.equal(2 * FLOWS, with.stats.items_created)
    end)
  end)
end)
