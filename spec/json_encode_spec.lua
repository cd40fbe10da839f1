-- retryrun.json: the encoder behind json= and the decoder's array marks,
-- checked value by value, against lua-cjson's decoder where it reads the
-- same, as a seeded round trip, and on the wire through todo-server's
-- /_echo, which answers with the bytes it received.
local json = require "retryrun.json"
local http = require "retryrun.http"
local cjson = require "cjson"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local encode, decode = json.encode, json.decode

-- The message encode raises for v, without the position prefix.
local function err_of(v)
  local ok, err = pcall(encode, v)
  if ok then return nil end
  return (err:gsub("^[^:]*:%d+: ", ""))
end

-- A seeded generator (an LCG: good enough for shapes and bits).
local function rng(seed)
  local state = seed
  return function(n)
    state = (state * 6364136223846793005 + 1442695040888963407)
    return ((state >> 33) % n) + 1
  end
end

-- A float from 64 random bits: every exponent, subnormals included; NaN
-- and inf are skipped.
local function random_float(rand)
  while true do
    local hi, lo = rand(1 << 32) - 1, rand(1 << 32) - 1
    local x = string.unpack("<d", string.pack("<I4I4", lo, hi))
    if x == x and x ~= math.huge and x ~= -math.huge then return x end
  end
end

-- Deep equality that also holds math.type, the sign of zero and the
-- array marks: what a round trip must keep.
local function same_value(a, b, path)
  path = path or "top"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) or a ~= b or
       (a == 0 and 1 / a ~= 1 / b) then
      return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
    end
  elseif type(a) == "table" then
    if (getmetatable(a) == json.array_mt) ~= (getmetatable(b) == json.array_mt) then
      return false, path .. ": array mark differs"
    end
    for k, v in pairs(a) do
      local ok, why = same_value(v, b[k], path .. "." .. tostring(k))
      if not ok then return ok, why end
    end
    for k in pairs(b) do
      if a[k] == nil then return false, path .. "." .. tostring(k) .. " extra" end
    end
  elseif a ~= b then
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  return true
end

-- A seeded Lua value JSON can carry: integers over the whole range,
-- floats from random bits, UTF-8 strings with every control character,
-- arrays (some empty, marked), objects.
local function value_generator(seed)
  local rand = rng(seed)
  local CHARS = {"a", "Z", "0", " ", '"', "\\", "/", "\n", "\t", "\0",
                 "\31", "\127", "é", "€", "😀", "\u{10FFFF}", "key"}
  local function str()
    local t = {}
    for i = 1, rand(8) - 1 do t[i] = CHARS[rand(#CHARS)] end
    return table.concat(t)
  end
  local function value(depth)
    local k = rand(depth > 3 and 7 or 9)
    if k == 1 then return math.mininteger + rand(1 << 30) * rand(1 << 30) * rand(1 << 3)
    elseif k == 2 then return rand(2000) - 1000
    elseif k == 3 then return random_float(rand)
    elseif k == 4 then return str()
    elseif k == 5 then return ({true, false, json.null})[rand(3)]
    elseif k == 6 then return (rand(1000) - 500) / 8
    elseif k == 7 then return math.maxinteger - rand(1000)
    elseif k == 8 then
      local t = json.array()
      for i = 1, rand(6) - 1 do t[i] = value(depth + 1) end
      return t
    else
      local t = {}
      for _ = 1, rand(6) - 1 do t[str()] = value(depth + 1) end
      return t
    end
  end
  return function() return value(0) end
end

describe("retryrun.json", function()
  describe("the module", function()
    it("has encode, decode, array, array_mt, null and empty_array",
       function()
      assert.is_function(json.encode)
      assert.is_function(json.decode)
      assert.is_function(json.array)
      assert.equal("retryrun.json.array", json.array_mt.__name)
      assert.equal(cjson.null, json.null)
      assert.equal("userdata", type(json.null))
      assert.is_table(json.empty_array)
      assert.is_nil(next(json.empty_array))
    end)

    it("has an empty_array that encodes as [] and cannot change",
       function()
      assert.equal("[]", encode(json.empty_array))
      assert.equal('{"a":[],"b":[[]]}',
                   encode{a = json.empty_array, b = {json.empty_array}})
      assert.has_error(function() json.empty_array[1] = "x" end,
        "json.empty_array cannot change: json.array() makes an array of "
        .. "your own")
      assert.has_error(function() table.insert(json.empty_array, "x") end)
      assert.has_error(function() setmetatable(json.empty_array, nil) end,
                       "cannot change a protected metatable")
      assert.is_nil(next(json.empty_array))
      assert.equal("[]", encode(json.empty_array))
    end)

    it("marks tables as arrays with array()", function()
      local t = {1, 2}
      assert.equal(t, json.array(t))
      assert.equal(json.array_mt, getmetatable(t))
      assert.equal(json.array_mt, getmetatable(json.array()))
      assert.equal(t, json.array(t))
      assert.has_error(function() json.array(1) end,
        "bad argument #1 to 'array' (table expected, got number)")
      assert.has_error(function() json.array(setmetatable({}, {})) end,
        "bad argument #1 to 'array' (the table already has a metatable)")
    end)
  end)

  describe("encode()", function()
    describe("scalars", function()
      it("writes null, booleans and json.null", function()
        assert.equal("null", encode(nil))
        assert.equal("true", encode(true))
        assert.equal("false", encode(false))
        assert.equal("null", encode(json.null))
        assert.equal("[null,true,false]", encode{json.null, true, false})
      end)

      it("refuses a call without a value", function()
        local ok, err = pcall(encode)
        assert.is_false(ok)
        assert.matches("^bad argument #1 to '[%w._]*encode' %(value expected%)$", err)
      end)
    end)

    describe("integers", function()
      it("writes every integer exactly, the extremes included", function()
        local cases = {0, 1, -1, 123456789012345, -123456789012345,
                       (1 << 53) + 1, -(1 << 53) - 1, 99999999999999999,
                       math.maxinteger, math.mininteger,
                       math.maxinteger - 1, math.mininteger + 1}
        for _, i in ipairs(cases) do
          assert.equal(string.format("%d", i), encode(i))
          local back = decode(encode(i))
          assert.equal("integer", math.type(back))
          assert.equal(i, back)
        end
        assert.equal('{"id":123456789012345}', encode{id = 123456789012345})
      end)

      it("round-trips 10,000 seeded integers across the whole range", function()
        local rand = rng(42)
        for _ = 1, 10000 do
          local i = ((rand(1 << 32) - 1) << 32 | (rand(1 << 32) - 1)) >> rand(63)
          if rand(2) == 1 then i = -i end
          local s = encode(i)
          assert.equal(string.format("%d", i), s)
          assert.equal(i, decode(s))
        end
      end)
    end)

    describe("floats", function()
      it("writes the fewest digits that read back, and .0 when integral", function()
        local cases = {
          {0.1, "0.1"}, {1 / 3, "0.3333333333333333"},
          {0.1 + 0.2, "0.30000000000000004"}, {3.0, "3.0"}, {-0.0, "-0.0"},
          {0.0, "0.0"}, {1e300, "1e+300"}, {-2.5e-10, "-2.5e-10"},
          {2.0 ^ 53, "9007199254740992.0"}, {123456789012345.0, "123456789012345.0"},
          {1e15, "1e+15"}, {1e16, "1e+16"}, {math.pi, "3.141592653589793"},
          {1.7976931348623157e308, "1.7976931348623157e+308"},
        }
        for _, c in ipairs(cases) do
          assert.equal(c[2], encode(c[1]))
        end
      end)

      it("round-trips 10,000 floats from random bits, as floats", function()
        local rand = rng(7)
        for _ = 1, 10000 do
          local x = random_float(rand)
          local s = encode(x)
          local back = decode(s)
          assert(math.type(back) == "float" and back == x and
                 (x ~= 0 or 1 / x == 1 / back), s)
          -- the first of 15, 16, 17 significant digits that reads back
          local want
          for p = 15, 17 do
            want = ("%." .. p .. "g"):format(x)
            if tonumber(want) == x then break end
          end
          if not want:find("[.e]") then want = want .. ".0" end
          assert.equal(want, s)
        end
      end)

      it("refuses NaN and infinities, naming where they were", function()
        assert.equal("json: cannot encode NaN at the top level", err_of(0 / 0))
        assert.equal("json: cannot encode inf at the top level", err_of(math.huge))
        assert.equal("json: cannot encode -inf at the top level", err_of(-math.huge))
        assert.equal("json: cannot encode NaN at .items[3].price",
          err_of{items = {{price = 1}, {price = 2}, {price = 0 / 0}}})
        assert.equal("json: cannot encode inf at [2].x",
          err_of{{x = 1}, {x = math.huge}})
      end)

      it("raises at the caller's line", function()
        local ok, err = pcall(function() return encode{x = 0 / 0} end)
        assert.is_false(ok)
        assert.matches("json_encode_spec%.lua:%d+: json: cannot encode NaN at %.x$", err)
      end)
    end)

    describe("strings", function()
      it("escapes quotes, backslashes and every control character", function()
        local named = {[8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f",
                       [13] = "\\r"}
        for c = 0, 31 do
          local want = named[c] or ("\\u%04x"):format(c)
          assert.equal('"' .. want .. '"', encode(string.char(c)))
        end
        assert.equal([["a\"b\\c/d"]], encode('a"b\\c/d'))
        assert.equal('"\127"', encode("\127"))
      end)

      it("writes every ASCII byte so that lua-cjson reads it back", function()
        local t = {}
        for c = 0, 127 do t[#t + 1] = string.char(c) end
        local s = table.concat(t)
        assert.equal(s, cjson.decode(encode(s)))
        assert.equal(s, decode(encode(s)))
      end)

      it("passes UTF-8 through as it is", function()
        for _, s in ipairs{"é", "€", "😀", "\u{10FFFF}", "\u{FFFD}", "\u{80}",
                           "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}",
                           "naïve café ☕"} do
          assert.equal('"' .. s .. '"', encode(s))
        end
      end)

      it("refuses invalid UTF-8, naming the byte and never the value", function()
        local bad = {
          {"\xff", 1}, {"ab\x80", 3}, {"\xc0\x80", 1}, {"\xc1\xbf", 1},
          {"\xe0\x80\x80", 1}, {"x\xed\xa0\x80", 2}, {"\xed\xbf\xbf", 1},
          {"\xf0\x80\x80\x80", 1}, {"\xf4\x90\x80\x80", 1}, {"\xf5\x80\x80\x80", 1},
          {"ok\xe2\x82", 3}, {"\xe2\x28\xa1", 1}, {"secret\xfe", 7},
        }
        for _, c in ipairs(bad) do
          assert.equal(("json: invalid UTF-8 in a string (byte %d) at .password"):format(c[2]),
                       err_of{password = c[1]})
        end
        assert.equal("json: invalid UTF-8 in a key (byte 2) at [\"a\\xFF\"]",
                     err_of{["a\xff"] = 1})
      end)
    end)

    describe("tables", function()
      it("writes a table with keys 1..n as an array", function()
        assert.equal("[1,2,3]", encode{1, 2, 3})
        assert.equal('[[1],["a"],{"k":[true]}]', encode{{1}, {"a"}, {k = {true}}})
      end)

      it("writes string keys as an object, sorted by their bytes", function()
        assert.equal('{"A":3,"a":2,"aa":4,"b":1,"\xc3\xa9":5}',
                     encode{b = 1, a = 2, A = 3, aa = 4, ["é"] = 5})
        local t = {}
        for i = 100, 1, -1 do t["k" .. i] = i end
        local s = encode(t)
        assert.equal(s, encode(decode(s)))
        assert.matches('^{"k1":1,"k10":10,"k100":100,"k11":11,', s)
      end)

      it("writes {} as an object and json.array() as an array", function()
        assert.equal("{}", encode{})
        assert.equal("[]", encode(json.array()))
        assert.equal('{"id":123456789012345,"tags":[]}',
                     encode{id = 123456789012345, tags = json.array()})
        assert.equal("[1,2]", encode(json.array{1, 2}))
      end)

      it("refuses mixed, sparse and other keys, naming where", function()
        assert.equal("json: cannot encode a table with both integer and "
          .. "string keys at .t", err_of{t = {1, 2, x = 3}})
        assert.equal("json: cannot encode a sparse array (key 4 among 3 "
          .. "integer keys; an array has keys 1..n) at .t",
          err_of{t = {1, 2, nil, 4}})
        assert.equal("json: cannot encode a sparse array (key 0 among 2 "
          .. "integer keys; an array has keys 1..n) at the top level",
          err_of{[0] = 1, [1] = 2})
        assert.equal("json: cannot encode a sparse array (key -1 among 1 "
          .. "integer keys; an array has keys 1..n) at [1]",
          err_of{{[-1] = 1}})
        assert.equal("json: cannot encode a table with a float key at .t",
          err_of{t = {[1.5] = 1}})
        assert.equal("json: cannot encode a table with a boolean key at .t",
          err_of{t = {[true] = 1}})
        assert.equal("json: cannot encode a table with a table key at .t",
          err_of{t = {[{}] = 1}})
        assert.equal("json: cannot encode a table marked as an array with "
          .. "string keys at .t", err_of{t = json.array{x = 1}})
      end)

      it("refuses values JSON has no word for", function()
        assert.equal("json: cannot encode a function at .f", err_of{f = print})
        assert.equal("json: cannot encode a userdata at [1]", err_of{io.stdout})
        assert.equal("json: cannot encode a thread at .co",
          err_of{co = coroutine.create(print)})
      end)

      it("names keys that are not identifiers in brackets, cut when long", function()
        assert.equal('json: cannot encode NaN at ["my key"]["a\\"b"].'
          .. ("x"):rep(32) .. "...",
          err_of{["my key"] = {['a"b'] = {[("x"):rep(50)] = 0 / 0}}})
        assert.equal('json: cannot encode NaN at ["1a"]["\\x0A"]',
          err_of{["1a"] = {["\n"] = 0 / 0}})
      end)

      it("refuses a table that contains itself, not one seen twice", function()
        local t = {}
        t.a = {b = t}
        assert.equal("json: cannot encode a table that contains itself at .a.b",
                     err_of(t))
        local self = {}
        self[1] = self
        assert.equal("json: cannot encode a table that contains itself at [1]",
                     err_of(self))
        local shared = {1}
        assert.equal('{"x":[1],"y":[1]}', encode{x = shared, y = shared})
      end)

      it("nests 1000 deep, as the decoder does, and refuses 1001", function()
        local function nest(n)
          local top = {}
          local t = top
          for _ = 2, n do t[1] = {} t = t[1] end
          return top
        end
        local s = encode(nest(1000))
        assert.equal(("["):rep(999) .. "{}" .. ("]"):rep(999), s)
        assert.equal("table", type(decode(s)))
        assert.equal("json: cannot encode nesting deeper than 1000 at ..."
          .. ("[1]"):rep(52), err_of(nest(1001)))
        assert.has_error(function() decode(("["):rep(1001) .. ("]"):rep(1001)) end,
          "nesting deeper than 1000 at byte 1001")
      end)

      it("reads tables raw: no metamethod is called", function()
        local mt = {__index = function() error("called") end,
                    __pairs = function() error("called") end,
                    __len = function() error("called") end}
        assert.equal('{"a":1}', encode(setmetatable({a = 1}, mt)))
        assert.equal("{}", encode(setmetatable({}, mt)))
      end)
    end)

    it("writes text lua-cjson decodes to the same values", function()
      local v = {id = 123, name = "x\n\"y\"", list = {1, 2.5, "three", true},
                 nested = {a = {b = {c = "d"}}}, none = json.null}
      assert.same(v, cjson.decode(encode(v)))
    end)
  end)

  -- decode() and what encode makes of its values, on json.decode's value
  -- and on a lazy view of the same text, which must encode the same
  for _, mode in ipairs{{"", json.decode},
                        {" (lazy view)", function(text, opts)
                           local o = {lazy = true}
                           for k, v in pairs(opts or {}) do o[k] = v end
                           return json.decode(text, o)
                         end}} do
  local decode = mode[2]
  describe("decode()" .. mode[1], function()
    it("marks every array, and no object, with array_mt", function()
      local v = decode('{"a":[],"b":{},"c":[[],{"d":[1]}]}')
      assert.equal(json.array_mt, getmetatable(v.a))
      assert.is_nil(getmetatable(v.b))
      assert.is_nil(getmetatable(v))
      assert.equal(json.array_mt, getmetatable(v.c))
      assert.equal(json.array_mt, getmetatable(v.c[1]))
      assert.equal(json.array_mt, getmetatable(v.c[2].d))
      local big = decode("[" .. ("[],"):rep(100) .. "[]]")
      for i = 1, 101 do assert.equal(json.array_mt, getmetatable(big[i])) end
    end)

    it("gives back the same text, canonical, when encoded again", function()
      local cases = {
        {'[]', '[]'}, {'{}', '{}'}, {' [ [ ] , { } ] ', '[[],{}]'},
        {'{"tags":[],"id":123456789012345,"meta":{}}',
         '{"id":123456789012345,"meta":{},"tags":[]}'},
        {'[1.0,-0,-0.0,1e2,1E-2,0.30000000000000004,9223372036854775807]',
         '[1.0,0,-0.0,100.0,0.01,0.30000000000000004,9223372036854775807]'},
        {'["\\u00e9\\ud83d\\ude00\\/\\u0000"]', '["é😀/\\u0000"]'},
        {'[null,true,false]', '[null,true,false]'},
      }
      for _, c in ipairs(cases) do
        assert.equal(c[2], encode(decode(c[1])))
      end
    end)

    it("round-trips 500 seeded values exactly, nulls read as json.null",
       function()
      local gen = value_generator(2024)
      for _ = 1, 500 do
        local v = gen()
        local s = encode(v)
        local back = decode(s, {null = json.null})
        local ok, why = same_value(v, back)
        assert(ok, why)
        assert.equal(s, encode(back))
      end
    end)
  end)

  describe("null" .. mode[1], function()
    it("drops an object's nulls by default, keeps them on request",
       function()
      local text = '{"a":null,"b":[null,1],"c":{"d":null}}'
      assert.equal('{"b":[null,1],"c":{}}', encode(decode(text)))
      assert.equal(text, encode(decode(text, {null = json.null})))
    end)

  end)
  end

  describe("encode()'s options", function()
    it("refuses a second argument to encode: it has no options",
       function()
      assert.has_error(function() encode({b = 1, a = 2}, {sort_keys = true})
      end, "bad argument #2 to 'encode' (encode takes no options: keys are "
           .. "always sorted)")
      assert.equal('{"a":2,"b":1}', encode({b = 1, a = 2}, nil))
    end)
  end)

  describe("on the wire", function()
    local srv
    setup(function() srv = todo.start{} end)
    teardown(function() srv:stop() end)

    it("todo-server's /_echo answers with the bytes it received", function()
      local body = '{"b":[],"a":1.5e300,"c":"\\u00e9"}'
      local r = srv:request("PUT", "/_echo", {json = body})
      assert.equal(200, r.status)
      local seen = cjson.decode(r.body)
      assert.equal("PUT", seen.method)
      assert.equal("application/json", seen.headers["Content-Type"])
      assert.equal(body, seen.body)
    end)

    it("sends json= exactly: big integers and an empty array", function()
      local resp = http.post(srv.url .. "/_echo",
        {json = {id = 123456789012345, tags = json.array()}})
      local seen = cjson.decode(resp.body)
      assert.equal("POST", seen.method)
      assert.equal("application/json", seen.headers["Content-Type"])
      assert.equal('{"id":123456789012345,"tags":[]}', seen.body)
      -- a plain {} stays an empty object: Lua cannot tell, the mark can
      resp = http.post(srv.url .. "/_echo",
        {json = {id = 123456789012345, tags = {}}})
      assert.equal('{"id":123456789012345,"tags":{}}',
                   cjson.decode(resp.body).body)
    end)

    it("sends a decoded response back as it came", function()
      local sent = '{"id":9007199254740993,"items":[{"price":0.1,"tags":[]}],' ..
                   '"meta":{},"when":null}'
      local first = http.post(srv.url .. "/_echo", {body = sent})
      local echoed = decode(first:json().body, {null = json.null})
      local second = http.post(srv.url .. "/_echo", {json = echoed})
      assert.equal(sent, second:json().body)
      -- read the plain way, "when" is absent, and so not sent back
      second = http.post(srv.url .. "/_echo",
                         {json = decode(first:json().body)})
      assert.equal(sent:gsub(',"when":null', ""), second:json().body)
      -- and a list from resp:json() that is empty goes back as []
      local list = http.get(srv.url .. "/items",
                            {headers = common.AUTH}):json()
      local third = http.post(srv.url .. "/_echo", {json = {items = list}})
      assert.equal('{"items":[]}', third:json().body)
    end)

    it("reads null in resp:json() as json.decode does, options and all",
       function()
      -- /_echo shows a query parameter without a value as null
      local resp = http.get(srv.url .. "/_echo?summary&id=7")
      assert.truthy(resp.body:find('"query":{"summary":null,"id":"7"}', 1,
                                   true))
      local seen = resp:json()
      assert.is_nil(seen.query.summary)     -- README's `item.summary == nil`
      assert.equal("7", seen.query.id)
      assert.equal(seen, resp:json())       -- decoded once
      local full = resp:json{null = json.null}
      assert.equal(json.null, full.query.summary)
      assert.are_not.equal(full, resp:json{null = json.null})
      assert.equal(seen, resp:json())
      assert.has_error(function() resp:json{nulls = json.null} end,
        "bad argument #1 to 'json' (unknown option 'nulls': the options "
        .. "are null and lazy)")
    end)

    it("refuses a value it cannot encode before sending anything", function()
      local before = srv:stats().requests
      local ok, err = pcall(function()
        local resp = http.post(srv.url .. "/_echo",
                               {json = {items = {{price = 0 / 0}}}})
        return resp
      end)
      assert.is_false(ok)
      assert.matches("json_encode_spec%.lua:%d+: json: cannot encode NaN at "
                     .. "%.items%[1%]%.price$", err)
      assert.equal(before, srv:stats().requests)
    end)
  end)
end)
