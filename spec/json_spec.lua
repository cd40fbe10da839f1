-- retryrun.core.json_decode: the strict JSON decoder behind resp:json(),
-- checked against lua-cjson where cjson is right, and on its own where it
-- decides differently (integers, errors with byte offsets, depth).
local core = require "retryrun.core"
local cjson = require "cjson"


-- A seeded generator of JSON texts: every kind of value, nested, with
-- whitespace here and there, numbers cjson reads exactly (|n| < 2^53 for
-- integers, decimals strtod rounds the same way for both).
local function generator(seed)
  local state = seed
  local function rand(n)            -- 1..n, an LCG good enough for shapes
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local WS = {"", "", "", " ", "\n", "\t ", "\r\n  "}
  local CHARS = {"a", "b", "Z", "0", " ", "\\\"", "\\\\", "\\/", "\\n",
                 "\\t", "\\u00e9", "\\u20ac", "\\ud83d\\ude00", "é", "€",
                 "\\u0000", "\\b", "\\f", "\\r", "~"}
  local function ws() return WS[rand(#WS)] end
  local function str()
    local t = {}
    for i = 1, rand(12) - 1 do t[i] = CHARS[rand(#CHARS)] end
    return '"' .. table.concat(t) .. '"'
  end
  local function value(depth)
    local k = rand(depth > 4 and 6 or 8)
    if k == 1 then return tostring(rand(2000000) - 1000000)
    elseif k == 2 then return ("%d.%de%d"):format(rand(999), rand(99), rand(40) - 20)
    elseif k == 3 then return str()
    elseif k == 4 then return ({"true", "false", "null"})[rand(3)]
    elseif k == 5 then return tostring(rand(9000000000000) * rand(1000))
    elseif k == 6 then return ("-%d.%d"):format(rand(100), rand(1000))
    elseif k == 7 then
      local t = {}
      for i = 1, rand(40) - 1 do t[i] = ws() .. value(depth + 1) .. ws() end
      return "[" .. table.concat(t, ",") .. "]"
    else
      local t = {}
      for i = 1, rand(40) - 1 do
        t[i] = ws() .. str() .. ws() .. ":" .. ws() .. value(depth + 1) .. ws()
      end
      return "{" .. table.concat(t, ",") .. "}"
    end
  end
  return function() return ws() .. value(0) .. ws() end
end

-- Every number in v (a decoded value) written without fraction or
-- exponent in text is an integer: checked by walking both.
local function count_kinds(v, acc)
  acc = acc or {integer = 0, float = 0}
  if type(v) == "table" then
    for _, x in pairs(v) do count_kinds(x, acc) end
  elseif math.type(v) then
    acc[math.type(v)] = acc[math.type(v)] + 1
  end
  return acc
end

-- Every spec in suite() runs twice: on json_decode's value, and on a lazy
-- view of the same text ({lazy = true}), which must be the same in
-- everything a script can see, errors included.
local function lazy_decode(text, opts)
  local o = {lazy = true}
  for k, v in pairs(opts or {}) do o[k] = v end
  return core.json_decode(text, o)
end

local function suite(decode, name)
  -- Decodes as lua-cjson does: every null as the light userdata NULL.
  local CJSON_NULLS = {null = cjson.null}
  local function decode_like_cjson(text)
    return decode(text, CJSON_NULLS)
  end

  -- The message decode raises for text, or nil when it decodes.
  local function err_of(text)
    local ok, err = pcall(decode, text)
    if ok then return nil end
    return err
  end

  describe("retryrun.core.json_decode" .. name, function()
    describe("values", function()
      it("decodes objects, arrays and nesting as cjson does", function()
        local texts = {
          '{}', '[]', '{"a":1,"b":[1,2,3],"c":{"d":{"e":[]}}}',
          '[[[[["deep"]]]],{"k":[{},{"x":[true,false,null]}]}]',
          '{"id":1,"summary":"item number 1","tags":["a","b"],"done":false}',
          ' \t\r\n[ 1 , "two" ,\n{ "three" : 3 } ] \n',
        }
        for _, text in ipairs(texts) do
          assert.same(cjson.decode(text), decode_like_cjson(text))
        end
      end)

      it("decodes /items of todo-server's shape to sequences of records", function()
        local parts = {}
        for i = 1, 20 do
          parts[i] = ('{"id":%d,"summary":"item number %d"}'):format(i, i)
        end
        local items = decode("[" .. table.concat(parts, ",") .. "]")
        assert.equal(20, #items)
        for i, item in ipairs(items) do
          assert.equal("integer", math.type(item.id))
          assert.equal(i, item.id)
          assert.equal("item number " .. i, item.summary)
          assert.equal("/items/" .. i, "/items/" .. item.id)
        end
      end)

      it("makes arrays sequences 1..n, past 32 elements too", function()
        for _, n in ipairs{1, 31, 32, 33, 64, 65, 1000} do
          local t = {}
          for i = 1, n do t[i] = tostring(i * 7) end
          local arr = decode("[" .. table.concat(t, ",") .. "]")
          assert.equal(n, #arr)
          assert.equal(7, arr[1])
          assert.equal(n * 7, arr[n])
          assert.is_nil(arr[n + 1])
        end
      end)

      it("keeps every field of objects past 32 keys", function()
        for _, n in ipairs{31, 32, 33, 100} do
          local t, want = {}, {}
          for i = 1, n do
            t[i] = ('"k%d":%d'):format(i, i)
            want["k" .. i] = i
          end
          assert.same(want, decode("{" .. table.concat(t, ",") .. "}"))
        end
      end)

      it("lets the last of a duplicated key win, gathered or not", function()
        assert.same({a = 3, b = 2}, decode('{"a":1,"b":2,"a":3}'))
        local t = {}
        for i = 1, 40 do t[i] = ('"k%d":%d'):format(i % 5, i) end
        assert.same({k0 = 40, k1 = 36, k2 = 37, k3 = 38, k4 = 39},
                    decode("{" .. table.concat(t, ",") .. "}"))
      end)

      it("keeps siblings of differing shapes apart", function()
        local v = decode('[{"a":1},{"a":2,"b":3,"c":4,"d":5},{},{"x":1},' ..
                         '[1,2,3],[],[4],{"a":{"b":{"c":{}}}}]')
        assert.same({{a = 1}, {a = 2, b = 3, c = 4, d = 5}, {}, {x = 1},
                     {1, 2, 3}, {}, {4}, {a = {b = {c = {}}}}}, v)
      end)

      it("tells keys apart that share length and end bytes", function()
        local text = '[{"ab":1,"aab":2,"axb":3,"ayb":4,"":5,"a":6,"b":7},' ..
                     '{"axb":8,"ayb":9,"ab":10,"":11}]'
        assert.same({{ab = 1, aab = 2, axb = 3, ayb = 4, [""] = 5, a = 6, b = 7},
                     {axb = 8, ayb = 9, ab = 10, [""] = 11}}, decode(text))
      end)

      describe("null", function()
        it("is absent in an object, so that t.k == nil holds", function()
          local v = decode('{"a":null,"b":1}')
          assert.is_nil(v.a)
          assert.same({b = 1}, v)
          assert.is_nil(next(decode('{"a":null}')))
        end)

        it("removes an earlier value of a repeated key: the last wins",
           function()
          assert.same({}, decode('{"a":1,"a":null}'))
          assert.same({a = 2}, decode('{"a":null,"a":2}'))
          -- past the first 32 members, set straight into the table
          local members = {}
          for i = 1, 40 do members[i] = ('"k%d":%d'):format(i, i) end
          local v = decode("{" .. table.concat(members, ",") ..
                           ',"k3":null,"k40":null,"k41":null}')
          assert.is_nil(v.k3)
          assert.is_nil(v.k40)
          assert.is_nil(v.k41)
          assert.equal(39, v.k39)
        end)

        it("is cjson.null in an array, which keeps its length", function()
          local v = decode('{"b":[null,1,null]}')
          assert.equal(3, #v.b)
          assert.equal(cjson.null, v.b[1])
          assert.equal(cjson.null, v.b[3])
          assert.equal("userdata", type(v.b[1]))
        end)

        it("is nil as the whole text", function()
          assert.equal(1, select("#", decode(" null ")))
          assert.is_nil(decode(" null "))
        end)

        it("reads as options.null wherever it is, when given", function()
          local v = decode('{"a":null,"b":[null,1],"c":{"d":null}}',
                           {null = cjson.null})
          assert.equal(cjson.null, v.a)
          assert.equal(cjson.null, v.b[1])
          assert.equal(cjson.null, v.c.d)
          assert.equal(cjson.null, decode("null", {null = cjson.null}))
          v = decode('{"a":null,"b":[null]}', {null = false})
          assert.is_false(v.a)
          assert.is_false(v.b[1])
          assert.same({b = 1}, decode('{"a":null,"b":1}', {}))
        end)

      end)

      it("decodes true and false", function()
        assert.is_true(decode("true"))
        assert.is_false(decode(" false "))
      end)

      it("returns exactly one value", function()
        assert.equal(1, select("#", decode("[1]")))
        assert.equal(1, select("#", decode("7")))
      end)

      it("decodes 300 random documents as cjson does", function()
        local gen = generator(20240611)
        for _ = 1, 300 do
          local text = gen()
          assert.same(cjson.decode(text), decode_like_cjson(text))
        end
      end)
    end)

    describe("numbers", function()
      local cases = {
        {"0", 0, "integer"}, {"-0", 0, "integer"}, {"-12", -12, "integer"},
        {"1.5", 1.5, "float"}, {"-0.0", -0.0, "float"}, {"1e3", 1000.0, "float"},
        {"1E+3", 1000.0, "float"}, {"2.5e-3", 0.0025, "float"},
        {"1e308", 1e308, "float"},
        {"9007199254740993", 9007199254740993, "integer"},
        {"9223372036854775807", math.maxinteger, "integer"},
        {"-9223372036854775808", math.mininteger, "integer"},
        {"9223372036854775808", 9223372036854775808.0, "float"},
        {"-9223372036854775809", -9223372036854775809.0, "float"},
        {"123456789012345678901234567890", 1.2345678901234568e29, "float"},
        {"1e400", math.huge, "float"}, {"-1e400", -math.huge, "float"},
        {"1e-400", 0.0, "float"},
        {"0." .. ("0"):rep(100) .. "1e101", 1.0, "float"},
      }
      for _, c in ipairs(cases) do
        it(("reads %s as the %s %s"):format(c[1]:sub(1, 30), c[3],
                                           tostring(c[2])), function()
          local v = decode(c[1])
          assert.equal(c[3], math.type(v))
          assert.equal(c[2], v)
        end)
      end

      it("keeps the sign of -0.0 and drops it from -0", function()
        assert.equal(-math.huge, 1 / decode("-0.0"))
        assert.equal(0, decode("-0"))
        assert.equal("integer", math.type(decode("-0")))
      end)

      it("reads floats as cjson does where both are floats", function()
        for _, text in ipairs{"0.1", "3.14159", "-2.5e-7", "6.02214076e23",
                              "1.7976931348623157e308", "5e-324", "123.456"} do
          assert.equal(cjson.decode(text), decode(text))
        end
      end)

      it("makes only numbers without fraction or exponent integers", function()
        local kinds = count_kinds(decode('[1,2.0,3e0,-4,{"a":5,"b":6.5}]'))
        assert.same({integer = 3, float = 3}, kinds)
      end)
    end)

    describe("strings", function()
      it("decodes every escape", function()
        assert.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
      end)

      it("decodes \\u escapes to UTF-8, surrogate pairs included", function()
        assert.equal("A", decode([["\u0041"]]))
        assert.equal("é", decode([["\u00e9"]]))
        assert.equal("é", decode([["\u00E9"]]))
        assert.equal("€", decode([["\u20ac"]]))
        assert.equal("\u{FFFF}", decode([["\uffff"]]))
        assert.equal("😀", decode([["\ud83d\ude00"]]))
        assert.equal("\u{10FFFF}", decode([["\udbff\udfff"]]))
        assert.equal("a\0b", decode([["a\u0000b"]]))
        assert.equal(decode([["\ud83d\ude00 \u00e9"]]),
                     cjson.decode([["\ud83d\ude00 \u00e9"]]))
      end)

      it("copies bytes >= 0x80 as they are, valid UTF-8 or not", function()
        assert.equal("€ ünï", decode('"€ ünï"'))
        assert.equal("\xff\xfe\x80", decode('"\xff\xfe\x80"'))
        assert.equal("\xed\xa0\x80", decode('"\xed\xa0\x80"'))
      end)

      it("decodes long strings, with escapes and without", function()
        local plain = ("0123456789abcdef"):rep(1000)
        assert.equal(plain, decode('"' .. plain .. '"'))
        local escaped = ('ab\\"\\n\\u00e9'):rep(2000)
        local want = ('ab"\né'):rep(2000)
        assert.equal(want, decode('"' .. escaped .. '"'))
        assert.equal(want, decode('["' .. escaped .. '"]')[1])
      end)

      it("finds quotes, escapes and control characters at any offset", function()
        for k = 0, 17 do
          local x, y = ("x"):rep(k), ("y"):rep(9)
          assert.equal(x, decode('"' .. x .. '"'))
          assert.equal(x .. "\n" .. y, decode('"' .. x .. "\\n" .. y .. '"'))
          assert.equal(x .. '"' .. y, decode('"' .. x .. '\\"' .. y .. '"'))
          assert.same({[x] = k}, decode('{"' .. x .. '":' .. k .. '}'))
          for _, c in ipairs{"\n", "\0", "\31"} do
            assert.has_error(function() decode('"' .. x .. c .. y .. '"') end,
                             ("control character in string at byte %d"):format(k + 2))
          end
        end
      end)

      it("decodes escaped keys", function()
        assert.same({["a\nb"] = 1, ["é"] = 2}, decode([[{"a\nb":1,"\u00e9":2}]]))
      end)
    end)

    describe("malformed input", function()
      local cases = {
        {"", "expected a value at byte 1 (end of input)"},
        {"   ", "expected a value at byte 4 (end of input)"},
        {"[1,2", "expected ',' or ']' at byte 5 (end of input)"},
        {"[1 2]", "expected ',' or ']' at byte 4"},
        {"[1,]", "expected a value at byte 4"},
        {"[,1]", "expected a value at byte 2"},
        {'{"a":1 "b":2}', "expected ',' or '}' at byte 8"},
        {'{"a" 1}', "expected ':' at byte 6"},
        {'{"a":}', "expected a value at byte 6"},
        {'{1:2}', [[expected '"' or '}' at byte 2]]},
        {'{"a":1,}', [[expected '"' at byte 8]]},
        {'{"a":1', "expected ',' or '}' at byte 7 (end of input)"},
        {"[1] x", "expected end of input at byte 5"},
        {"[1]\0", "expected end of input at byte 4"},
        {"{}{}", "expected end of input at byte 3"},
        {'"abc', "unterminated string starting at byte 1"},
        {'["a\\"]', "unterminated string starting at byte 2"},
        {'"a\\', "unterminated string starting at byte 1"},
        {'"a\\u12"', [[expected 4 hex digits after \u at byte 3]]},
        {'"\\u12g4"', [[expected 4 hex digits after \u at byte 2]]},
        {'"\\ud800"', "lone surrogate at byte 2"},
        {'"\\udc00"', "lone surrogate at byte 2"},
        {'"\\ud800\\u0041"', "lone surrogate at byte 2"},
        {'"\\ud800\\ud800"', "lone surrogate at byte 2"},
        {'"x\\ud83d"', "lone surrogate at byte 3"},
        {'"\\x"', "invalid escape at byte 2"},
        {'"\\U0041"', "invalid escape at byte 2"},
        {'"a\nb"', "control character in string at byte 3"},
        {'"a\tb"', "control character in string at byte 3"},
        {'"a\\n\1"', "control character in string at byte 5"},
        {'"\0"', "control character in string at byte 2"},
        {"01", "expected end of input at byte 2"},
        {"-", "expected a digit at byte 2 (end of input)"},
        {"-a", "expected a digit at byte 2"},
        {"+1", "expected a value at byte 1"},
        {".5", "expected a value at byte 1"},
        {"1.", "expected a digit after '.' at byte 3 (end of input)"},
        {"1.e5", "expected a digit after '.' at byte 3"},
        {"1e", "expected a digit in the exponent at byte 3 (end of input)"},
        {"1e+", "expected a digit in the exponent at byte 4 (end of input)"},
        {"0x10", "expected end of input at byte 2"},
        {"nan", "expected a value at byte 1"},
        {"inf", "expected a value at byte 1"},
        {"-inf", "expected a digit at byte 2"},
        {"tru", "expected a value at byte 1"},
        {"nul", "expected a value at byte 1"},
        {"True", "expected a value at byte 1"},
        {"[truex]", "expected ',' or ']' at byte 6"},
        {"'a'", "expected a value at byte 1"},
        {"\xef\xbb\xbf[]", "expected a value at byte 1"},
        {"\f[]", "expected a value at byte 1"},
      }
      for _, c in ipairs(cases) do
        -- %q writes a line break as "\" and the break itself, which would
        -- split the case's line in TAP
        it(("rejects %q"):format(c[1]):gsub("\\\n", "\\n"), function()
          assert.has_error(function() decode(c[1]) end, c[2])
        end)
      end

      it("says where in a longer text, as a 1-based byte", function()
        local text = '[{"id":1,"summary":"item number 1"},' ..
                     '{"id":2,"summary":"item number 2" "x":1}]'
        assert.has_error(function() decode(text) end,
                         "expected ',' or '}' at byte 71")
        assert.equal('"x"', text:sub(71, 73))
      end)

      it("fails an escaped string over the buffer size cleanly", function()
        local long = ("\\n"):rep(5000)
        assert.has_error(function() decode('["' .. long .. '\\q"]') end,
                         "invalid escape at byte 10003")
        assert.equal(("\n"):rep(5000), decode('"' .. long .. '"'))
      end)

      it("rejects every truncation of a valid document", function()
        local text = '{"a":[1,-2.5e3,"x\\u00e9\\ud83d\\ude00",true,false,null,' ..
                     '{"b":{}}],"c":"d"}'
        assert.is_table(decode(text))
        for n = 0, #text - 1 do
          local err = err_of(text:sub(1, n))
          assert.is_string(err)
          assert.truthy(err:match(" at byte %d+"), err)
        end
      end)
    end)

    describe("caps", function()
      it("decodes arrays nested 1000 deep", function()
        local v = decode(("["):rep(1000) .. ("]"):rep(1000))
        for _ = 1, 999 do v = v[1] end
        assert.same({}, v)
      end)

      it("rejects arrays nested 1001 deep", function()
        assert.has_error(function() decode(("["):rep(1001) .. ("]"):rep(1001)) end,
                         "nesting deeper than 1000 at byte 1001")
      end)

      it("counts objects and arrays alike", function()
        local ok = ('{"a":['):rep(500) .. "1" .. (']}'):rep(500)
        assert.is_table(decode(ok))
        local deep = ('{"a":['):rep(500) .. '{"b":1}' .. (']}'):rep(500)
        assert.has_error(function() decode(deep) end,
                         "nesting deeper than 1000 at byte 3001")
      end)

      it("decodes a 1 MB document as cjson does", function()
        local gen = generator(7)
        local parts, size = {}, 0
        while size < 1024 * 1024 do
          local text = gen()
          parts[#parts + 1] = text
          size = size + #text + 1
        end
        local text = "[" .. table.concat(parts, ",") .. "]"
        assert.is_true(#text >= 1024 * 1024)
        local v = decode_like_cjson(text)
        assert.equal(#parts, #v)
        assert.same(cjson.decode(text), v)
      end)

      it("decodes an array of a million elements", function()
        local v = decode("[" .. ("0,"):rep(999999) .. "1]")
        assert.equal(1000000, #v)
        assert.equal(1, v[1000000])
      end)
    end)
  end)
end

suite(core.json_decode, "")
suite(lazy_decode, " (lazy view)")

describe("retryrun.core.json_decode's options", function()
  local decode = core.json_decode

  it("refuses options it does not know", function()
    assert.has_error(function() decode("1", {nul = 1}) end,
      "bad argument #2 to 'decode' (unknown option 'nul': the options are "
      .. "null and lazy)")
    assert.has_error(function() decode("1", {1}) end,
      "bad argument #2 to 'decode' (options take names, not a number "
      .. "key: the options are null and lazy)")
    assert.has_error(function() decode("1", "null") end,
      "bad argument #2 to 'decode' (table expected, got string)")
    assert.has_error(function() decode("[]", {lazy = 1}) end,
      "bad argument #2 to 'decode' (lazy must be true or false (got "
      .. "number))")
  end)

  it("decodes eagerly unless lazy is true", function()
    local text = '[{"a":1},{"b":[2]}]'
    assert.equal(0, core.json_unmade(decode(text)))
    assert.equal(0, core.json_unmade(decode(text, {lazy = false})))
    local v = decode(text, {lazy = true})
    assert.equal(2, core.json_unmade(v))
    assert.equal(1, v[1].a)
    assert.equal(1, core.json_unmade(v))
  end)

  it("raises for a missing argument", function()
    assert.has_error(function() core.json_decode() end,
                     "bad argument #1 to 'json_decode' (string expected, got no value)")
  end)
end)

-- The lazy view's validator (json_scan.c) tries the usual byte first at
-- each place and reads whitespace and strings sixteen bytes at a time;
-- whatever the text, it must say what the decoder says, byte for byte.
describe("the lazy view's validator", function()
  local decode = core.json_decode

  -- The decoder's answer and the lazy view's: "ok" or the message.
  local function answers(text)
    local ok, err = pcall(decode, text)
    local lok, lerr = pcall(decode, text, {lazy = true})
    return ok and "ok" or err, lok and "ok" or lerr
  end

  local function agree(text)
    local want, got = answers(text)
    assert.equal(want, got, ("%q"):format(text))
    return want
  end

  local RUNS = {"", " ", "  ", "\n", "\n  ", "\n" .. (" "):rep(17),
                "\t", "\r\n    ", " \t \r\n\t", ("\n"):rep(20) .. "\t",
                (" "):rep(15) .. "\r" .. (" "):rep(15)}
  -- a list of records, whitespace w at every place it may go
  local function records(w, n)
    local t = {}
    for i = 1, n do
      t[i] = w .. "{" .. w .. '"id"' .. w .. ":" .. w .. i .. w .. "," .. w ..
             '"tags"' .. w .. ":" .. w .. "[" .. w .. '"a"' .. w .. "," .. w ..
             "true" .. w .. "]" .. w .. "}" .. w
    end
    return "[" .. table.concat(t, ",") .. "]"
  end

  it("reads whitespace runs of every shape at every place", function()
    for _, w in ipairs(RUNS) do
      for _, n in ipairs{0, 1, 2, 33} do
        assert.equal("ok", agree(records(w, n)))
      end
    end
  end)

  it("stops at a stray byte anywhere in a run of whitespace", function()
    local seed = 7
    local function rand(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    for _, w in ipairs(RUNS) do
      if #w > 0 then
        local text = records(w, 3)
        local spaces = {}                 -- where a run of w is
        for at = 1, #text do
          if text:sub(at, at):match("%s") then spaces[#spaces + 1] = at end
        end
        for _ = 1, 40 do
          local at = spaces[rand(#spaces)]
          for _, c in ipairs{"\0", "\1", "\v", "\f", "x", "\xff", '"', ","} do
            assert.are_not.equal("ok",
              agree(text:sub(1, at - 1) .. c .. text:sub(at)))
          end
        end
      end
    end
  end)

  it("finds a string's end at every offset of a sixteen-byte read",
     function()
    for k = 0, 40 do
      local x = ("x"):rep(k)
      for _, s in ipairs{x, x .. "\\n", x .. '\\"', x .. "\\\\", x .. "\1",
                         x .. "\0", x .. "\t", x .. "\\u00e9",
                         x .. "\\ud83d\\ude00", x .. "\\ud83d", x .. "\\q",
                         x .. "\xc3\xa9", x .. "\xff"} do
        agree('[{"' .. s .. '":"' .. s .. '"},["' .. s .. '"]]')
        agree('[{"k":"' .. s .. '"}]')          -- the string ends the text
        agree('[{"k":"' .. s)                    -- unterminated at the end
      end
    end
  end)

  it("reads numbers and literals that end the text or a block", function()
    for _, v in ipairs{"0", "-0", "12", "1.5", "1e5", "-2.5E-3", "true",
                       "false", "null", "01", "1.", "-", "1e", "tru", "nul"} do
      for k = 0, 20 do
        local pad = (" "):rep(k)
        agree('[{"a":' .. pad .. v .. "}]")
        agree('[{"a":' .. pad .. v)
        agree('[[' .. pad .. v .. "]]")
        agree('[[' .. v)
      end
    end
  end)

  it("notes a top list's records, then its other elements, alike", function()
    local rec = '{"id":1}'
    for _, tail in ipairs{"", ",1", ',"x"', ",[]", ",{}", ",null",
                          ", 2 ]", ",", " x", ",]", "]"} do
      for _, n in ipairs{1, 31, 32, 33, 70} do
        local body = ("," .. rec):rep(n - 1)
        agree("[" .. rec .. body .. tail .. "]")
        agree("[ " .. rec .. body .. tail .. " ]")
        agree("[" .. rec .. body .. tail)
      end
    end
  end)

  it("counts nesting as the decoder does, in a top list too", function()
    for _, n in ipairs{998, 999, 1000, 1001} do
      agree(("["):rep(n) .. ("]"):rep(n))
      agree("[{}," .. ("["):rep(n - 1) .. ("]"):rep(n - 1) .. "]")
      agree('{"a":' .. ("["):rep(n - 1) .. ("]"):rep(n - 1) .. "}")
    end
  end)
end)
