-- RFC 8288 Link headers: http.parse_links on header values, and
-- resp:links() on real responses (misbehave.py sends any Link lines asked
-- for; todo-server's paged GET /items its own), targets resolved against
-- the response's final URL.
local http = require "retryrun.http"
local common = require "spec.support.common"
local todo = require "spec.support.todo"
local misbehave = require "spec.support.misbehave"

local BASE = "http://h.example/a/b"

-- The links of value as {url, rel} pairs in order, and the relation
-- types indexed, sorted.
local function read(value, base)
  local t = http.parse_links(value, base or BASE)
  local list, rels = {}, {}
  for i, l in ipairs(t) do list[i] = {l.url, l.rel} end
  for k in pairs(t) do
    if type(k) == "string" then rels[#rels + 1] = k end
  end
  table.sort(rels)
  return list, rels, t
end

describe("http.parse_links()", function()
  it("reads one link per comma, each under its rel", function()
    local list, rels, t = read('<http://x.example/2>; rel="next", '
                               .. '</p?3>; rel=last')
    assert.same({{"http://x.example/2", "next"},
                  {"http://h.example/p?3", "last"}}, list)
    assert.same({"last", "next"}, rels)
    assert.equal("http://x.example/2", t.next.url)
    assert.equal("/p?3", t.last.target)
  end)

  it("reads quoted parameters with commas, semicolons and escapes",
     function()
    local _, _, t = read('<x>; rel="next"; title="a, b; \\"c\\""; '
                         .. 'type=text/html, <y>; rel=prev')
    assert.equal('a, b; "c"', t.next.title)
    assert.equal("text/html", t.next.type)
    assert.equal("http://h.example/a/y", t.prev.url)
  end)

  it("files a link under each of its space-separated rel values, lower case",
     function()
    local list, rels, t = read('<x>; rel="Next  last"; REL=other')
    assert.same({{"http://h.example/a/x", "Next  last"}}, list)
    assert.same({"last", "next"}, rels)   -- a repeated rel: the first wins
    assert.equal(t.next, t.last)
  end)

  it("keeps the first link of a relation type", function()
    local _, _, t = read("<one>; rel=next, <two>; rel=next")
    assert.equal("http://h.example/a/one", t.next.url)
    assert.equal("http://h.example/a/two", t[2].url)
  end)

  it("keeps commas inside <...> and parameters without a value", function()
    local list, _, t = read("<x,y>; rel=next; crossorigin")
    assert.same({{"http://h.example/a/x,y", "next"}}, list)
    assert.equal("", t.next.crossorigin)
  end)

  it("reads what it can of malformed values and never raises", function()
    for value, want in pairs{
      ["garbage, <ok>; rel=next"] = {{"http://h.example/a/ok", "next"}},
      ["<unterminated; rel=next"] = {},
      ["<a> junk; rel=next, <b>; rel=prev"] = {{"http://h.example/a/a"},
                                               {"http://h.example/a/b",
                                                "prev"}},
      ["<a>;;rel=x"] = {{"http://h.example/a/a", "x"}},
      [",,, ,"] = {}, [""] = {}, ["<>; rel=self"] = {{BASE, "self"}},
      ['<a>; rel="open'] = {{"http://h.example/a/a", "open"}},
      ["<a>; =x; rel=y"] = {{"http://h.example/a/a"}},
    } do
      assert.same(want, (read(value)), value)
    end
    assert.same({}, http.parse_links(nil))
    assert.same({}, http.parse_links(42))
    local t = http.parse_links("<rel/x>; rel=next")   -- no base: as written
    assert.equal("rel/x", t.next.url)
    -- long hostile values end, in time linear in their length
    for _, v in ipairs{("<"):rep(100000), ('"'):rep(100000),
                       ("<a>;"):rep(25000), ("<a>; rel=x, "):rep(10000)} do
      assert.is_table(http.parse_links(v, BASE))
    end
  end)

  -- RFC 3986 section 5.4: every normal and abnormal example
  it("resolves targets as RFC 3986 section 5.4 does", function()
    local base = "http://a/b/c/d;p?q"
    local examples = {
      ["g:h"] = "g:h", g = "http://a/b/c/g", ["./g"] = "http://a/b/c/g",
      ["g/"] = "http://a/b/c/g/", ["/g"] = "http://a/g",
      ["//g"] = "http://g", ["?y"] = "http://a/b/c/d;p?y",
      ["g?y"] = "http://a/b/c/g?y", ["#s"] = "http://a/b/c/d;p?q#s",
      ["g#s"] = "http://a/b/c/g#s", ["g?y#s"] = "http://a/b/c/g?y#s",
      [";x"] = "http://a/b/c/;x", ["g;x"] = "http://a/b/c/g;x",
      ["g;x?y#s"] = "http://a/b/c/g;x?y#s", [""] = "http://a/b/c/d;p?q",
      ["."] = "http://a/b/c/", ["./"] = "http://a/b/c/",
      [".."] = "http://a/b/", ["../"] = "http://a/b/",
      ["../g"] = "http://a/b/g", ["../.."] = "http://a/",
      ["../../"] = "http://a/", ["../../g"] = "http://a/g",
      ["../../../g"] = "http://a/g", ["../../../../g"] = "http://a/g",
      ["/./g"] = "http://a/g", ["/../g"] = "http://a/g",
      ["g."] = "http://a/b/c/g.", [".g"] = "http://a/b/c/.g",
      ["g.."] = "http://a/b/c/g..", ["..g"] = "http://a/b/c/..g",
      ["./../g"] = "http://a/b/g", ["./g/."] = "http://a/b/c/g/",
      ["g/./h"] = "http://a/b/c/g/h", ["g/../h"] = "http://a/b/c/h",
      ["g;x=1/./y"] = "http://a/b/c/g;x=1/y",
      ["g;x=1/../y"] = "http://a/b/c/y",
      ["g?y/./x"] = "http://a/b/c/g?y/./x",
      ["g?y/../x"] = "http://a/b/c/g?y/../x",
      ["g#s/./x"] = "http://a/b/c/g#s/./x",
      ["g#s/../x"] = "http://a/b/c/g#s/../x", ["http:g"] = "http:g",
    }
    for ref, want in pairs(examples) do
      assert.equal(want, http.parse_links("<" .. ref .. ">; rel=x",
                                          base).x.url, ref)
    end
    assert.equal("http://h/x", http.parse_links("<x>; rel=y",
                                                "http://h").y.url)
  end)
end)

describe("resp:links()", function()
  local srv
  setup(function() srv = misbehave.start() end)
  teardown(function() srv:stop() end)

  local function q(s)
    return (s:gsub("[^%w]", function(c)
      return ("%%%02X"):format(c:byte())
    end))
  end

  it("reads every Link header of a response, several values in each",
     function()
    local resp = http.get(srv.url .. "/dir/links?v=" .. q('<p2>; rel="next", '
      .. '</first>; rel=first') .. "&v=" .. q('<../up>; rel="up prev"; '
      .. 'title="a, b"'))
    local l = resp:links()
    assert.equal(srv.url .. "/dir/p2", l.next.url)
    assert.equal(srv.url .. "/first", l.first.url)
    assert.equal(srv.url .. "/up", l.up.url)
    assert.equal(l.up, l.prev)
    assert.equal("a, b", l.prev.title)
    assert.equal(3, #l)
  end)

  it("resolves against the URL the answer came from, after redirects",
     function()
    local todo_srv <close> = todo.start{}
    local target = srv.url .. "/x/y/links?v=" .. q("<z>; rel=next")
    local resp = http.get(todo_srv.url .. "/_redirect?to=" .. q(target))
    assert.equal(target, resp.url)
    assert.equal(srv.url .. "/x/y/z", resp:links().next.url)
  end)

  it("is empty without a Link header", function()
    local resp = http.get(srv.url .. "/ok")
    assert.same({}, resp:links())
  end)

  it("reads todo-server's paged GET /items", function()
    local todo_srv <close> = todo.start{}
    for i = 1, 5 do
      http.post(todo_srv.url .. "/items", {headers = common.AUTH,
        json = {summary = "link " .. i}, expect = 201})
    end
    local resp = http.get(todo_srv.url .. "/items?page=2&per_page=2",
                          {headers = common.AUTH})
    local l = resp:links()
    assert.equal(todo_srv.url .. "/items?page=3&per_page=2", l.next.url)
    assert.equal(todo_srv.url .. "/items?page=1&per_page=2", l.prev.url)
    assert.equal(todo_srv.url .. "/items?page=1&per_page=2", l.first.url)
    assert.equal(todo_srv.url .. "/items?page=3&per_page=2", l.last.url)
  end)
end)
