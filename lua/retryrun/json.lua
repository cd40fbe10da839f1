--- JSON for scripts: the strict decoder behind `resp:json()` and the
-- encoder behind `json=`, each the other turned round.
--
-- Both are in C (src/lua_json.c, src/lua_json_encode.c, and
-- src/lua_json_lazy.c for the lazy views of `resp:json()`; lua_json.h
-- has every rule). Integers stay exact integers both ways (every one from
-- `math.mininteger` to `math.maxinteger`), floats stay the same floats,
-- and an empty array stays an empty array, because the decoder marks
-- every array it makes with `json.array_mt`.
--
-- JSON's `null` reads as absent, so that `item.summary == nil` is true
-- for `{"summary": null}` as for `{}`: an object member that is null is
-- not set, and a whole text of `null` is nil. Inside an array, where a
-- nil would end the list, it reads as `json.null`. To tell null from
-- absent, decode with `{null = json.null}`: every null is then
-- `json.null`, and encoding the value gives the nulls back.
--
-- In Lua `{}` is both an empty array and an empty object; encoded, a plain
-- `{}` is an object, `json.array()`, `json.empty_array` (or any table
-- whose metatable is `json.array_mt`) an array.
--
-- @module retryrun.json
-- @usage
-- local json = require "retryrun.json"
-- json.encode{id = 123456789012345, tags = json.empty_array}
-- --> {"id":123456789012345,"tags":[]}
-- local item = json.decode('{"id":7,"tags":[],"due":null}')
-- item.due == nil --> true
-- json.encode(item) --> {"id":7,"tags":[]}
-- item = json.decode('{"id":7,"due":null}', {null = json.null})
-- item.due == json.null --> true
-- json.encode(item) --> {"due":null,"id":7}

local core = require "retryrun.core"

local type, getmetatable, setmetatable, error = type, getmetatable,
                                                setmetatable, error

local json = {}

--- The value of `null` inside an array (and everywhere, when decoding
-- with `{null = json.null}`), and the value that encodes as `null`: the
-- light userdata NULL, the same value as lua-cjson's `cjson.null`. It is
-- true in a test (`if v then`): compare with `v == json.null`.
json.null = core.json_null

--- The metatable that marks a table as a JSON array: the decoder sets it
-- on every array, the encoder writes an empty table that has it as `[]`.
-- Its `__name` is "retryrun.json.array".
json.array_mt = core.json_array_mt

--- An empty table that encodes as `[]`, for a literal:
-- `{tags = json.empty_array}`. It is shared, so it refuses new keys
-- (assigning raises); `json.array()` makes an array of your own.
json.empty_array = core.json_empty_array

local ARRAY_MT = json.array_mt

--- Encodes a value as JSON text.
--
-- Integers are written exactly; a float in the fewest digits that read
-- back as the same float, with ".0" when it is integral (`3.0` is "3.0");
-- strings must be UTF-8 and are escaped as JSON needs; a table whose keys
-- are exactly 1..n is an array, one whose keys are all strings an object
-- with its keys sorted by their bytes (the same table always gives the
-- same text), an empty table `{}` unless it is `json.empty_array` or
-- marked with `json.array_mt`. `nil` (as the whole value) and `json.null`
-- are `null`. Tables are read raw (no metamethods). Nesting is capped at
-- 1000, as in decoding.
-- @function encode
-- @param v a nil, boolean, number, string, table or `json.null`
-- @return the JSON text, a string
-- @raise "json: cannot encode ... at PATH" naming what and where, PATH as
--   in Lua with 1-based indices: "json: cannot encode NaN at
--   .items[3].price", for NaN and inf, invalid UTF-8, a table mixing
--   integer and string keys, a sparse array, a table that contains
--   itself, nesting deeper than 1000, a function or userdata; a second
--   argument is an error too (encode has no options).
-- @usage json.encode{ids = {1, 2, 3}, name = "x"} --> {"ids":[1,2,3],"name":"x"}
json.encode = core.json_encode

--- Decodes JSON text (RFC 8259, strictly) into a Lua value.
--
-- Objects become tables, arrays sequences marked with `json.array_mt`;
-- a number without fraction or exponent that fits is an integer, any
-- other a float. `null` is absent in an object, `json.null` in an array
-- and nil as the whole text, unless `options.null` says what it reads as.
-- A repeated key keeps its last value. Nesting deeper than 1000 is an
-- error. With `options.lazy`, the value is a lazy view, as `resp:json()`
-- returns: the text is checked in full, and each array and object is
-- made when first read (docs/reference.md, "Lazy views").
-- @function decode
-- @param s the JSON text, a string
-- @param[opt] options a table: `null`, the value every `null` reads as
--   (`json.null` to tell null from absent and encode it back); `lazy`,
--   true for a lazy view (default false: the whole value at once)
-- @return the value
-- @raise what was expected and at which byte: "expected ',' or '}' at
--   byte 57"; a bad argument error for an unknown option
-- @usage local item = json.decode(resp.body)
json.decode = core.json_decode

--- Marks a table as a JSON array, so that it is encoded as `[]` when it
-- is empty; a marked table with string keys is an encoding error.
-- @param[opt] t a table without a metatable (or already marked); a new
--   empty table when nil
-- @return t, marked
-- @raise "bad argument #1 to 'array' (...)" for anything else
-- @usage http.post(url, {json = {name = "x", tags = json.array()}})
function json.array(t)
  if t == nil then
    return setmetatable({}, ARRAY_MT)
  end
  if type(t) ~= "table" then
    error("bad argument #1 to 'array' (table expected, got " .. type(t)
          .. ")", 2)
  end
  local mt = getmetatable(t)
  if mt ~= nil and mt ~= ARRAY_MT then
    error("bad argument #1 to 'array' (the table already has a metatable)",
          2)
  end
  return setmetatable(t, ARRAY_MT)
end

return json
