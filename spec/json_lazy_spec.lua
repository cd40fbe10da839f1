-- Lazy JSON views (resp:json(), json.decode with {lazy = true}): made a
-- container at a time, the same as json.decode's value in everything a
-- script can do with them. spec/json_spec.lua and json_encode_spec.lua run
-- the whole decoder suite on views too; this file checks what only a view
-- can get wrong: that it is lazy, and what happens to a table whose
-- members are not all made yet when a script writes to it or reads it
-- raw.
local json = require "retryrun.json"
local http = require "retryrun.http"
local core = require "retryrun.core"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local unmade = core.json_unmade

local function view(text, opts)
  local o = {lazy = true}
  for k, v in pairs(opts or {}) do o[k] = v end
  return json.decode(text, o)
end

-- A list of n records, as todo-server's /items and W1's nginx serve.
local function items(n)
  local parts = {}
  for i = 1, n do
    parts[i] = ('{"id": %d, "summary": "item %d", "tags": ["t%d"]}')
               :format(i, i, i)
  end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- A seeded generator (an LCG) of JSON texts: containers nested in
-- containers, every kind of scalar, repeated keys and nulls.
local function generator(seed)
  local state = seed
  local function rand(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local KEYS = {'"a"', '"b"', '"c"', '"k\\u00e9"', '""', '"1"'}
  local function value(depth)
    local k = rand(depth > 4 and 5 or 8)
    if k == 1 then return tostring(rand(2000) - 1000)
    elseif k == 2 then return ("%d.%de%d"):format(rand(99), rand(99), rand(9))
    elseif k == 3 then return ('"s%d\\n"'):format(rand(50))
    elseif k == 4 then return ({"true", "false", "null"})[rand(3)]
    elseif k == 5 then return "9223372036854775807"
    elseif k == 6 or k == 7 then
      local t = {}
      for i = 1, rand(6) - 1 do t[i] = value(depth + 1) end
      return "[" .. table.concat(t, ",") .. "]"
    else
      local t = {}
      for i = 1, rand(6) - 1 do
        t[i] = KEYS[rand(#KEYS)] .. ":" .. value(depth + 1)
      end
      return "{" .. table.concat(t, ",") .. "}"
    end
  end
  return function() return rand(2) == 1 and "[" .. value(1) .. "]"
                                         or "{\"x\":" .. value(1) .. "}" end,
         rand
end

-- Walks v in a seeded order, reading members one by one (never pairs
-- first), and returns a canonical text of what it read.
local function walk(v, rand)
  if type(v) ~= "table" then
    return math.type(v) and (math.type(v) .. ":" .. tostring(v))
           or tostring(v == json.null and "null" or v)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local order = {}
  for i = #keys, 1, -1 do table.insert(order, rand(#order + 1), keys[i]) end
  local out = {}
  for _, k in ipairs(order) do
    out[#out + 1] = tostring(k) .. "=" .. walk(v[k], rand)
  end
  table.sort(out)
  return (getmetatable(v) == json.array_mt and "[" or "{") .. #v .. ":" ..
         table.concat(out, ",")
end

describe("a lazy JSON view", function()
  it("makes the top level and nothing inside it until it is read", function()
    local v = view(items(20))
    assert.equal(20, unmade(v))
    assert.equal("item 1", v[1].summary)
    assert.equal(19, unmade(v))
    assert.equal(1, unmade(v[1]))        -- its tags, not yet read
    assert.equal("t1", v[1].tags[1])
    assert.equal(0, unmade(v[1]))
    assert.equal(20, #v)                 -- # makes the rest, a level each
    assert.equal(0, unmade(v))
    assert.equal(1, unmade(v[20]))
  end)

  -- A level made lazily steps over the text of each member it leaves
  -- out; down a deep nesting that is the rest of the text once per level
  -- (a 1 MB body 900 deep took 0.7 s to walk): from eight levels down a
  -- member is made whole when first reached.
  it("makes a deep member whole, so a walk down costs no level per level",
     function()
    local depth = 40
    local text = ("[{\"k\":"):rep(depth) .. "[1,[2],{\"x\":null}]"
                 .. ("}]"):rep(depth)
    local v, eager = view(text), json.decode(text)
    for i = 1, depth do               -- v: the array 2 (i - 1) levels down
      assert.equal(2 * (i - 1) < 8 and 1 or 0, unmade(v), "step " .. i)
      v, eager = v[1].k, eager[1].k
    end
    assert.equal(0, unmade(v))
    assert.equal(json.encode(eager), json.encode(v))
    assert.equal(json.array_mt, getmetatable(v[2]))
    assert.is_nil(v[3].x)
  end)

  it("checks the whole text first, failing as json.decode does", function()
    local text = items(20):gsub('"t17"', 't17')
    local ok, eager = pcall(json.decode, text)
    assert.is_false(ok)
    assert.has_error(function() view(text) end, eager)
    assert.matches("^expected a value at byte %d+$", eager)
  end)

  it("reads as json.decode's value in any order, 200 seeded texts", function()
    local gen, rand = generator(42)
    for _ = 1, 200 do
      local text = gen()
      local seed0 = rand(1000)
      local seed = seed0
      local function r(n) seed = (seed * 69069 + 1) % 4294967296
                          return seed % n + 1 end
      local a = walk(json.decode(text), r)
      seed = seed0                       -- the same order for the view
      assert.equal(a, walk(view(text), r), text)
      assert.equal(json.encode(json.decode(text)), json.encode(view(text)))
      assert.same(json.decode(text, {null = json.null}),
                  view(text, {null = json.null}))
    end
  end)

  it("fails at the same byte with the same message, 500 damaged texts",
     function()
    local gen, rand = generator(7)
    local seen = 0
    for _ = 1, 500 do
      local text = gen()
      local at = rand(#text)
      local damaged = text:sub(1, at - 1) ..
                      ({"", "]", "}", ",", '"', ":", "x", "\1"})[rand(8)] ..
                      text:sub(at + 1)
      local ok, eager = pcall(json.decode, damaged)
      local vok, lazy = pcall(view, damaged)
      assert.equal(ok, vok, damaged)
      if not ok then
        seen = seen + 1
        assert.equal(eager, lazy)
      end
    end
    assert.is_true(seen > 200)
  end)

  -- The top level is read by the decoder's own code; what is inside it,
  -- by the checker alone (json_scan.c), which must say what json.decode
  -- says, at the same byte, wherever the fault is.
  describe("checks what is nested as json.decode does", function()
    local function same(text)
      local ok, eager = pcall(json.decode, text)
      local vok, lazy = pcall(view, text)
      assert.equal(ok, vok, text)
      if ok then
        assert.equal(json.encode(eager), json.encode(lazy))
      else
        assert.equal(eager, lazy, text)
      end
      return ok, eager
    end

    it("fails every malformed value two levels down alike", function()
      local bad = {"", "1 2", "[1,]", "[,1]", '{"a":1 "b":2}', '{"a" 1}',
        '{"a":}', "{1:2}", '{"a":1,}', "[1] x", "[1]\0", "{}{}", '"abc',
        '"a\\', '"a\\u12"', '"\\u12g4"', '"\\ud800"', '"\\udc00"',
        '"\\ud800\\u0041"', '"x\\ud83d"', '"\\x"', '"a\nb"', '"\0"', "01",
        "-", "-a", "+1", ".5", "1.", "1.e5", "1e", "1e+", "0x10", "nan",
        "-inf", "tru", "nul", "fals", "True", "[truex]", "'a'", "\f1",
        "[1 \n\t\r", '{"a" \n: [', "\xef\xbb\xbf1", ("["):rep(999)}
      local failed = 0
      for _, b in ipairs(bad) do
        for _, wrap in ipairs{{'[{"k": [', ']}]'}, {'{"a":[1,', ']}'},
                              {"[ [ ", "\n]\t]"}} do
          if not same(wrap[1] .. b .. wrap[2]) then failed = failed + 1 end
          if not same(wrap[1] .. b) then failed = failed + 1 end
        end
      end
      -- only '[{"k": []}]' and "[ [ \n]\t]" are JSON
      assert.equal(2 * 3 * #bad - 2, failed)
    end)

    it("finds quotes, escapes and control characters at any offset",
       function()
      for k = 0, 20 do
        local x, y = ("x"):rep(k), ("y"):rep(9)
        assert.equal(x, view('[["' .. x .. '"]]')[1][1])
        assert.equal(x .. "\n" .. y,
                     view('[["' .. x .. "\\n" .. y .. '"]]')[1][1])
        assert.equal(k, view('[{"' .. x .. '":' .. k .. '}]')[1][x])
        for _, c in ipairs{"\n", "\0", "\31", '\\q'} do
          local ok, err = same('[["' .. x .. c .. y .. '"]]')
          assert.is_false(ok)
          assert.matches(" at byte " .. (k + 4) .. "$", err)
        end
        assert.matches("^unterminated string starting at byte 3$",
                       select(2, same('[["' .. x)))
      end
    end)

    it("counts nesting from the top, in a later member too", function()
      for _, open in ipairs{"[", '{"a":'} do
        local shut = open == "[" and "]" or "}"
        local ok999 = '[1,{"x":2},' .. open:rep(999) .. "7" ..
                      shut:rep(999) .. "]"
        local v = view(ok999)[3]
        for _ = 1, 999 do v = v[1] or v.a end
        assert.equal(7, v)
        assert.is_true((same(ok999)))
        local deep = '{"x":[1],"y":' .. open:rep(1000) .. "7" ..
                     shut:rep(1000) .. "}"
        local ok, err = same(deep)
        assert.is_false(ok)
        assert.equal(("nesting deeper than 1000 at byte %d"):format(
          14 + 999 * #open), err)
      end
    end)

    it("finds a wrong byte late in a long text", function()
      local text = items(3000)
      local last = text:find('"t3000"', 1, true)
      for _, fault in ipairs{{'"t3000\1"', "control character in string"},
                             {'"t3000', "unterminated string starting"},
                             {'"t3000" 1', "expected ',' or ']'"},
                             {"t3000", "expected a value"}} do
        local ok, err = same(text:sub(1, last - 1) .. fault[1] ..
                             text:sub(last + 7))
        assert.is_false(ok)
        assert.matches("^" .. fault[2] .. " at byte %d+", err)
        assert.is_true(tonumber(err:match("byte (%d+)")) >= last)
      end
    end)

    it("steps over whitespace of every kind, in runs", function()
      local text = '[ \t\r\n{ \n"a" \t: \r\n[ 1 ,\t2 ,"x"\n] ,  "b":{ } ,' ..
                   '"c" : true\r\n}\n,\t[\n]\t , null ]'
      assert.is_true((same(text)))
      assert.equal(json.encode(json.decode(text)), json.encode(view(text)))
      assert.same({1, 2, "x"}, view(text)[1].a)
      for k = 0, 40 do                   -- runs of every length
        local w = (" \t\r\n"):rep(11):sub(1, k)
        local t = "[" .. w .. '{"a"' .. w .. ":" .. w .. "[1" .. w .. "," ..
                  w .. '"x"' .. w .. "]" .. w .. "}" .. w .. "]"
        assert.is_true((same(t)))
        assert.same({1, "x"}, view(t)[1].a)
        local ok, err = same("[[1" .. w .. "x]]")
        assert.is_false(ok)
        assert.equal(("expected ',' or ']' at byte %d"):format(k + 4), err)
      end
    end)
  end)

  it("is refused by encode as json.decode's value is, naming the path",
     function()
    local v = view('{"items":[{"price":1},{"price":2,"tags":[]}],"n":3}')
    v.items[1].price = 0 / 0
    local ok, err = pcall(json.encode, v)
    assert.is_false(ok)
    assert.matches("json: cannot encode NaN at %.items%[1%]%.price$", err)
    v.items[1].price = 1
    assert.equal('{"items":[{"price":1},{"price":2,"tags":[]}],"n":3}',
                 json.encode(v))
  end)

  it("reads keys that name no member as nil, a float as its integer",
     function()
    local v = view('[[1],{"a":2},3]')
    for _, k in ipairs{0, -1, -2, -3, -4, math.mininteger, math.maxinteger,
                       "1", true, 1.5} do
      assert.is_nil(v[k], tostring(k))
    end
    assert.equal(1, v[1.0][1])
    assert.equal(2, v[2.0].a)
    local o = view('{"1":[1],"2":{"x":1},"3":4}')
    for _, k in ipairs{0, 1, 2, 3, 4, -1, 1.0} do
      assert.is_nil(o[k], tostring(k))
    end
    assert.equal(1, o["1"][1])
    v[0], o[1] = "zero", "one"
    assert.equal("zero", v[0])
    assert.equal(3, #v)
    assert.equal("one", o[1])
    assert.equal(1, o["2"].x)
  end)

  it("keeps long levels and repeated keys as json.decode does", function()
    local parts, members = {}, {}
    for i = 1, 40 do
      parts[i] = i % 3 == 0 and tostring(i) or ('{"i":%d}'):format(i)
      members[i] = ('"k%d":%s'):format(i % 7,
        i % 2 == 0 and ('[%d]'):format(i) or tostring(i))
    end
    for _, text in ipairs{"[" .. table.concat(parts, ",") .. "]",
                          "{" .. table.concat(members, ",") .. "}",
                          '{"a":[1],"a":2}', '{"a":1,"a":[2]}',
                          '{"a":[1],"a":null}', '{"a":[1],"b":[2],"a":[3]}'} do
      local e, v = json.decode(text), view(text)
      assert.equal(json.encode(e), json.encode(view(text)))
      assert.same(e, v)
      local w = view(text)
      for k, x in pairs(e) do
        assert.equal(json.encode(x), json.encode(w[k]))
      end
    end
    assert.equal(0, unmade(view('{"a":[1],"a":2}')))
    assert.equal(2, unmade(view('{"a":[1],"b":[2],"a":[3]}')))
  end)

  it("keeps arrays of any length, read in any order", function()
    local seed = 11
    local function rand(n) seed = (seed * 69069 + 1) % 4294967296
                           return seed % n + 1 end
    for _, n in ipairs{1, 31, 32, 33, 63, 64, 65, 129, 1000} do
      local parts = {}
      for i = 1, n do   -- every fifth a number, the rest records
        parts[i] = i % 5 == 0 and tostring(i) or ('{"i":%d}'):format(i)
      end
      local text = "[" .. table.concat(parts, ",") .. "]"
      local v, left, made = view(text), n - n // 5, {}
      local function read(i) return i % 5 == 0 and v[i] or v[i].i end
      assert.equal(left, unmade(v))
      for _ = 1, 30 do
        local i = rand(n)
        assert.equal(i, read(i))
        if i % 5 ~= 0 and not made[i] then made[i], left = true, left - 1 end
        assert.equal(left, unmade(v))
      end
      assert.is_nil(v[n + 1])
      assert.is_nil(v[0])
      local k = rand(n)                  -- set, made or not
      v[k] = "set"
      if k % 5 ~= 0 and not made[k] then left = left - 1 end
      assert.equal(left, unmade(v))
      assert.equal(n, #v)
      assert.equal(0, unmade(v))
      for i, x in ipairs(v) do
        assert.equal(i == k and "set" or i, i ~= k and i % 5 ~= 0 and x.i or x)
      end
      parts[k] = '"set"'
      assert.equal(json.encode(json.decode("[" .. table.concat(parts, ",") ..
                                           "]")), json.encode(v))
    end
  end)

  it("keeps lists of records of any length, ending in records or scalars",
     function()
    for _, n in ipairs{1, 2, 31, 32, 33, 64, 65, 100} do
      for _, tail in ipairs{"", ', 7, "s", null, true', ', [], {}, 8'} do
        local text = items(n):sub(1, -2) .. tail .. "]"
        local v, want = view(text), json.decode(text)
        local records = n + (tail:find("%[%]") and 2 or 0)
        assert.equal(records, unmade(v))
        for _, i in ipairs{n, 1, n + 1, n + 3, (n + 1) // 2} do
          assert.same(want[i], v[i])
        end
        assert.same(want, v)
        assert.equal(0, unmade(v))
        assert.equal(json.encode(want), json.encode(view(text)))
      end
    end
  end)

  it("makes wide levels inside a coroutine, whose stack starts small",
     function()
    local members = {}
    for i = 1, 100 do
      members[i] = ('"k\\u00e9%d":%s'):format(i, i % 3 == 0 and
        ('[{"a\\n":"\\u20ac%d"}]'):format(i) or ('"v\\t%d"'):format(i))
    end
    local text = "{" .. table.concat(members, ",") .. "}"
    local got = coroutine.wrap(function()
      local v = view(text)
      return v["ké99"][1]["a\n"], json.encode(v)
    end)
    local first, all = got()
    assert.equal("€99", first)
    assert.equal(json.encode(json.decode(text)), all)
  end)

  it("refuses a nil or NaN key with a plain table's message", function()
    local e, v = json.decode('{"a":[1]}'), view('{"a":[1]}')
    for _, k in ipairs{"nil", "0/0"} do
      local set = load("local t = ...; t[" .. k .. "] = 1", "=set")
      local _, want = pcall(set, e)
      local _, got = pcall(set, v)
      assert.matches("^set:1: table index is ", want)
      assert.equal(want, got)
    end
  end)

  describe("written to before it is whole", function()
    it("keeps what a script sets, adds and removes", function()
      local v = view('{"a":{"x":1},"b":[1,[2]],"c":3}')
      v.a = nil                          -- a member not made yet, removed
      v.d = "new"
      assert.is_nil(v.a)
      v.c = nil                          -- a made one, removed
      assert.is_nil(v.c)
      assert.equal('{"b":[1,[2]],"d":"new"}', json.encode(v))
      local b = v.b
      table.insert(b, 3)
      b[2][2] = "two"
      assert.same({1, {2, "two"}, 3}, b)
      assert.equal('{"b":[1,[2,"two"],3],"d":"new"}', json.encode(v))
    end)

    it("makes a member read after its sibling was replaced", function()
      local v = view('[{"a":1},{"b":2},{"c":3}]')
      v[2] = "x"
      assert.equal(1, v[1].a)
      assert.equal("x", v[2])
      assert.equal(3, v[3].c)
      local n = 0
      for _ in pairs(v) do n = n + 1 end
      assert.equal(3, n)
    end)

    it("keeps a member the script took, once made", function()
      local v = view('{"a":{"x":1}}')
      local a = v.a
      a.y = 2
      assert.equal(a, v.a)
      assert.equal(2, v.a.y)
      v.a = nil
      assert.is_nil(v.a)
      assert.is_nil(next(v))
    end)
  end)

  describe("read raw before it is whole", function()
    it("gives next, rawget, rawlen and # what json.decode's value gives",
       function()
      local text = '{"a":[[1],[2],[3]],"b":{"c":{}}}'
      local e, v = json.decode(text), view(text)
      assert.is_not_nil(next(v.b))
      assert.equal(next(e.b), next(v.b))
      assert.equal(3, rawlen(view(text).a))
      assert.equal(3, #view(text).a)
      assert.same({1}, rawget(view(text).a, 1))
      assert.equal(2, rawget(view(text).a, 2)[1])
      local w = view(text)
      rawset(w, "b", nil)
      assert.is_nil(w.b)
      assert.same({{1}, {2}, {3}}, w.a)
    end)

    it("gives pairs({})'s iterator what it gives next", function()
      local rawnext = pairs({})
      assert.equal(next, rawnext)
      local seen = {}
      for k, val in rawnext, view('{"a":1,"b":[1,2]}') do
        seen[#seen + 1] = k .. "=" .. type(val)
      end
      table.sort(seen)
      assert.same({"a=number", "b=table"}, seen)
      assert.has_error(function() pairs() end,
                       "bad argument #1 to 'pairs' (value expected)")
    end)

    it("has json.decode's metatables, and setmetatable works", function()
      local v = view('{"a":[],"o":{},"l":[{}]}')
      assert.is_nil(getmetatable(v))
      assert.equal(json.array_mt, getmetatable(view('[[1]]')))
      assert.equal(json.array_mt, debug.getmetatable(view('[[1]]')))
      assert.equal(json.array_mt, getmetatable(v.l))
      assert.is_nil(getmetatable(v.l[1]))
      local mt = {__index = function() return "dflt" end}
      local w = view('{"a":{"b":1}}')
      assert.equal(w, setmetatable(w, mt))
      assert.equal("dflt", w.zzz)
      assert.equal(1, w.a.b)
      local x = view('[{"b":1}]')
      debug.setmetatable(x, nil)
      assert.equal(1, x[1].b)
    end)

    it("is a table that compares and prints as json.decode's", function()
      local v = view('[[1],{"a":[2]}]')
      assert.equal("table", type(v))
      assert.equal("table", type(v[2]))
      assert.equal(v[2], v[2])
      assert.are_not.equal(v[1], view('[[1]]')[1])
      assert.matches("^retryrun%.json%.array: 0x%x+$", tostring(view('[[1]]')))
      assert.matches("^table: 0x%x+$", tostring(view('{"a":[1]}')))
      assert.has_error(function() return ("x"):rep(view('[[1]]')) end,
        "bad argument #1 to 'rep' (number expected, got retryrun.json.array)")
    end)

    it("keeps the base library's messages", function()
      assert.has_error(function() next() end,
        "bad argument #1 to 'next' (table expected, got no value)")
      assert.has_error(function() rawget({}) end,
        "bad argument #2 to 'rawget' (value expected)")
      assert.has_error(function() rawset({}, 1) end,
        "bad argument #3 to 'rawset' (value expected)")
      assert.has_error(function() rawlen(1) end,
        "bad argument #1 to 'rawlen' (table or string expected, got number)")
      assert.has_error(function() getmetatable() end,
        "bad argument #1 to 'getmetatable' (value expected)")
      assert.has_error(function() setmetatable({}, 1) end,
        "bad argument #2 to 'setmetatable' (nil or table expected, got number)")
      assert.has_error(function()
        setmetatable(setmetatable({}, {__metatable = 1}), {}) end,
        "cannot change a protected metatable")
      assert.equal(3, rawlen("abc"))
      assert.is_false(getmetatable(setmetatable({}, {__metatable = false})))
    end)
  end)

  it("passes into retryrun's own options as a plain table would", function()
    local cfg = view('{"policy":{"attempts":2,"backoff":{"initial":0.001}},' ..
                     '"rate":{"127.0.0.1":"100/s"}}')
    local retry = require "retryrun.retry"
    local p = retry.policy(cfg.policy)
    assert.equal(2, p.attempts)
    assert.has_error(function() retry.policy(view('{"atempts":2,"x":{}}')) end)
  end)

  describe("from resp:json()", function()
    local srv
    setup(function() srv = todo.start{} end)
    teardown(function() srv:stop() end)

    -- a response whose body is the given text (a script may set body
    -- before it asks for the JSON)
    local function response(text)
      local resp = http.get(srv.url .. "/_echo")
      resp.body = text
      return resp
    end

    it("is made once and cached; {lazy = false} decodes in full", function()
      local resp = response(items(5))
      local seen = resp:json()
      assert.equal(seen, resp:json())
      assert.equal(seen, resp:json{lazy = true})
      assert.equal(5, unmade(seen))
      assert.equal("item 2", seen[2].summary)
      local full = resp:json{lazy = false}
      assert.are_not.equal(full, seen)
      assert.equal(0, unmade(full))
      assert.equal(0, unmade(full[1]))
      assert.equal(json.encode(full), json.encode(seen))
      resp.body = "[]"                   -- the view keeps its own text
      assert.equal(seen, resp:json())
      assert.equal("item 5", resp:json()[5].summary)
      assert.same({}, resp:json{lazy = false})
    end)

    it("says the body is not JSON, wherever the fault is, at once", function()
      local resp = response((items(20):gsub('"t20"', '"t20')))
      local ok, err = pcall(resp.json, resp)
      assert.is_false(ok)
      assert.matches("response to GET http://127%.0%.0%.1:%d+/_echo %(status "
                     .. "200%) is not JSON: unterminated string starting at "
                     .. "byte %d+$", err)
      assert.has_error(function() resp:json{lazy = false} end,
                       (err:gsub("^[^:]*:%d+: ", "")))
    end)
  end)

  -- Making a member allocates, so finalizers may run in the middle of it,
  -- and one may read the very member being made. In a fresh process,
  -- whose heap is small, the collector's minor collections come often
  -- enough that many rounds of this met it; before, a member could then
  -- be made twice, and another be lost for good.
  describe("read by a finalizer while a member is made", function()
    local script = [[
local json = require "retryrun.json"
local record = '{"a": [1, 2, 3], "b": "' .. ("z"):rep(50) .. '"}'
local text, key, n
if arg[1] == "list" then
  text, key, n = "[" .. (record .. ", "):rep(30) .. '{"last": true}]', 1, 31
else
  local parts = {}
  for i = 1, 30 do parts[i] = ('"k%d": %s'):format(i, record) end
  text, key, n = "{" .. table.concat(parts, ", ") .. "}", "k1", 30
end
local cur, seen
local key2 = arg[1] == "list" and 2 or "k2"
local mt = {__gc = function()
  if cur then seen = cur[key]; local _ = cur[key2] end
end}
local lost, twice = 0, 0
for _ = 1, 20000 do
  cur, seen = json.decode(text, {lazy = true}), nil
  for _ = 1, 50 do setmetatable({}, mt) end
  local first = cur[key]
  if seen and seen ~= first then twice = twice + 1 end
  for i = 1, n do
    if cur[arg[1] == "list" and i or "k" .. i] == nil then
      lost = lost + 1
      break
    end
  end
end
print(lost, twice)
]]
    for _, kind in ipairs{"list", "object"} do
      it("keeps every member of " .. kind .. ", each made once", function()
        local code, out = common.run(script, {args = {kind}})
        assert.equal(0, code)
        assert.equal("0\t0\n", out)
      end)
    end
  end)
end)
