-- http.pages over todo-server's paged GET /items: rel="next" links and
-- cursor functions, each page retried through faults, and the loop guard.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local AUTH = common.AUTH
local RETRY = {attempts = 10, backoff = common.FAST}

-- Creates n items for alice; returns their ids in order.
local function create(srv, n)
  local ids = {}
  for i = 1, n do
    ids[i] = http.post(srv.url .. "/items", {headers = AUTH,
      json = {summary = "page item " .. i},
      retry = {idempotency_key = true, attempts = 10,
               backoff = common.FAST}, expect = 201}):json().id
  end
  return ids
end

-- The ids of every item on the pages, and the pages' numbers.
local function read_all(iter)
  local ids, pages = {}, {}
  for resp in iter do
    pages[#pages + 1] = resp.page
    for _, item in ipairs(resp:json()) do ids[#ids + 1] = item.id end
  end
  return ids, pages
end

describe("http.pages()", function()
  it("follows rel=next through 500s and resets: every item once, in order",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.2", "--reset-rate",
                                   "0.1", "--seed", "11"}
    local want = create(srv, 23)
    local before = srv:stats()
    local ids, pages = read_all(http.pages(srv.url .. "/items",
      {headers = AUTH, query = {per_page = 5}, retry = RETRY}))
    assert.same(want, ids)
    assert.same({1, 2, 3, 4, 5}, pages)
    local after = srv:stats()
    -- the faults happened, and were retried, not skipped
    assert.is_true(after.faults.fail + after.faults.reset >
                   before.faults.fail + before.faults.reset)
    assert.equal(5 + (after.faults.fail - before.faults.fail)
                 + (after.faults.reset - before.faults.reset),
                 after.requests - before.requests)
  end)

  it("reads one page when there is no next link", function()
    local srv <close> = todo.start{}
    local want = create(srv, 3)
    local ids, pages = read_all(http.pages(srv.url .. "/items",
                                           {headers = AUTH}))
    assert.same(want, ids)
    assert.same({1}, pages)
  end)

  it("takes next = function(resp) for cursor APIs, relative URLs resolved",
     function()
    local srv <close> = todo.start{}
    local want = create(srv, 7)
    local seen = {}
    local ids, pages = read_all(http.pages(srv.url .. "/items?page=1&"
                                           .. "per_page=3", {
      headers = AUTH,
      next = function(resp)
        seen[#seen + 1] = resp.url:match("%?(.*)$")
        if #resp:json() == 3 then
          return ("?page=%d&per_page=3"):format(resp.page + 1)
        end
      end}))
    assert.same(want, ids)
    assert.same({1, 2, 3}, pages)
    assert.same({"page=1&per_page=3", "page=2&per_page=3",
                 "page=3&per_page=3"}, seen)
  end)

  it("stops a loop: a page that links to one already read", function()
    local srv <close> = todo.start{}
    create(srv, 2)
    local n = 0
    local ok, err = pcall(function()
      for _ in http.pages(srv.url .. "/items?per_page=1", {headers = AUTH,
          next = function() return "/items?per_page=1" end}) do
        n = n + 1
      end
    end)
    assert.is_false(ok)
    assert.equal(1, n)
    assert.matches("pages_spec.lua:%d+: http.pages: page 1 links to "
      .. common.literal(srv.url) .. "/items%?per_page=1, which was page 1: "
      .. "stopped %(a loop%)$", err)
  end)

  it("stops after max_pages with an error naming the next page", function()
    local srv <close> = todo.start{}
    create(srv, 5)
    local n = 0
    local ok, err = pcall(function()
      for _ in http.pages(srv.url .. "/items", {headers = AUTH,
                                                query = {per_page = 1},
                                                max_pages = 2}) do
        n = n + 1
      end
    end)
    assert.is_false(ok)
    assert.equal(2, n)
    assert.matches("http.pages: more than max_pages %(2%) pages: stopped "
                   .. "before " .. common.literal(srv.url)
                   .. "/items%?page=3&per_page=1$", err)
  end)

  it("raises a page's give-up even with raise = false", function()
    local srv <close> = todo.start{"--fail-rate", "1"}
    local ok, err = pcall(function()
      for _ in http.pages(srv.url .. "/items", {headers = AUTH,
          retry = {attempts = 2, backoff = common.FAST, raise = false}}) do
      end
    end)
    assert.is_false(ok)
    assert.is_true(retry.is_giveup(err))
    assert.equal("exhausted", err.reason)
  end)

  it("expects 2xx pages unless told otherwise", function()
    local srv <close> = todo.start{}
    local ok, err = pcall(function()
      for _ in http.pages(srv.url .. "/items") do end
    end)
    assert.is_false(ok)
    assert.is_true(http.is_expect_error(err))
    assert.equal(401, err.status)
    local statuses = {}
    for resp in http.pages(srv.url .. "/items", {expect = {401}}) do
      statuses[#statuses + 1] = resp.status
    end
    assert.same({401}, statuses)
  end)

  it("refuses bad options at the script's line", function()
    local cases = {
      {{next = 3}, "next must be a function%(resp%) returning a URL or nil "
                   .. "%(got 3%)"},
      {{max_pages = 0}, "max_pages must be a whole number >= 1 %(got 0%)"},
      {{max_pages = 1.5}, "max_pages must be a whole number >= 1"},
      {{nxt = print}, "unknown http.pages option 'nxt' %(did you mean "
                      .. "'next'%?%)"},
      {{url = "x"}, "http.pages takes the url as its first argument"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(function()
        local iter = http.pages("http://127.0.0.1:9/", c[1])
        return iter
      end)
      assert.is_false(ok)
      assert.matches("pages_spec.lua:%d+: " .. c[2], err)
    end
  end)

  it("refuses what next() returns when it is not a URL", function()
    local srv <close> = todo.start{}
    local ok, err = pcall(function()
      for _ in http.pages(srv.url .. "/items", {headers = AUTH,
          next = function() return {} end}) do end
    end)
    assert.is_false(ok)
    assert.matches("http.pages: next%(%) must return a URL %(a string%) or "
                   .. "nil %(got table at page 1%)", err)
  end)

  it("sends no credential header to a page of another origin", function()
    local srv <close> = todo.start{}
    local other <close> = todo.start{}
    local seen = {}
    for resp in http.pages(srv.url .. "/_headers", {
        query = {link = "<" .. other.url .. "/_echo>; rel=\"next\""},
        headers = {Authorization = "Bearer alice-secret",
                   ["X-Api-Key"] = "k1", ["X-Tag"] = "t"}}) do
      if resp.page == 2 then
        for k, v in pairs(todo.decode(resp.body).headers) do
          seen[k:lower()] = v
        end
      end
    end
    assert.is_nil(seen.authorization)
    assert.is_nil(seen["x-api-key"])
    assert.equal("t", seen["x-tag"])
  end)
end)
