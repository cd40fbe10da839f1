--- What a call's `multipart = {...}` becomes: the list of parts that
-- core.request sends as a multipart/form-data body (src/mime.c makes it
-- anew for every attempt).
--
-- Private to retryrun.http. Reads the script's table and, for a file, that
-- it is a regular file that can be read; never sends anything.
--
-- @module retryrun.multipart

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local core = require "retryrun.core"
local check = require "retryrun.check"
local fail, show, suggest = check.fail, check.show, check.suggest

local multipart = {}

-- The fields a part table may have.
local PART = {data = true, path = true, filename = true, type = true}

-- Raises unless s is a string with no control character, for a part's
-- name, path, filename or type (libcurl would write it into the part's
-- headers).
local function check_text(name, field, s)
  if type(s) ~= "string" or s == "" or s:find("%c") then
    fail(("multipart part '%s': %s must be a non-empty string without "
          .. "control characters (got %s)"):format(name, field, show(s)))
  end
end

-- The part for one value v of field name: a string or a number is data,
-- a table {data = s} or {path = s} with filename and type optional.
local function part_of(name, v)
  local t = type(v)
  if t == "string" then
    return {name = name, data = v}
  elseif t == "number" then
    if v ~= v or v == 1 / 0 or v == -1 / 0 then
      fail(("multipart field '%s' is %s, which has no text to send")
           :format(name, show(v)))
    end
    return {name = name, data = tostring(v)}
  elseif t ~= "table" then
    fail(("multipart field '%s' must be a string, a number, a part table "
          .. "or a list of them (got %s)"):format(name, t))
  end
  for k in pairs(v) do
    if not PART[k] then
      fail(("multipart part '%s' has an unknown field %s%s"):format(name,
        type(k) == "string" and "'" .. k .. "'" or show(k),
        type(k) == "string" and suggest(k, PART) or ""))
    end
  end
  if (v.data == nil) == (v.path == nil) then
    fail(("multipart part '%s' needs data (a string) or path (a file), "
          .. "one of them"):format(name))
  end
  if v.data ~= nil and type(v.data) ~= "string" then
    fail(("multipart part '%s': data must be a string (got %s)")
         :format(name, type(v.data)))
  end
  if v.path ~= nil then
    check_text(name, "path", v.path)
    local err = core.check_file_part(name, v.path)
    if err then
      fail(err)
    end
  end
  if v.filename ~= nil then check_text(name, "filename", v.filename) end
  if v.type ~= nil then check_text(name, "type", v.type) end
  return {name = name, data = v.data, path = v.path, filename = v.filename,
          type = v.type}
end

--- The parts of `multipart = t`, fields in the byte order of their names
-- (so a body is the same from run to run), a list value giving one part
-- for each of its entries, in order. Raises at the script's line on
-- anything else, and for a file that cannot be read.
-- @param t the table the script gave
-- @return a list of {name =, data = | path =, filename =, type =}
function multipart.parts(t)
  if type(t) ~= "table" then
    fail(("multipart must be a table of name = value (got %s)")
         :format(type(t)))
  end
  local names = {}
  for k in pairs(t) do
    if type(k) ~= "string" or k == "" or k:find("%c") then
      fail(("multipart field names must be non-empty strings without "
            .. "control characters (got %s)"):format(show(k)))
    end
    names[#names + 1] = k
  end
  if #names == 0 then
    fail("multipart has no fields: give at least one")
  end
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do
    local v = t[name]
    if type(v) == "table" and v[1] ~= nil then
      local n = 0
      for _ in pairs(v) do n = n + 1 end
      if n ~= #v then
        fail(("multipart field '%s' mixes a list with named fields")
             :format(name))
      end
      for i, x in ipairs(v) do
        if type(x) == "table" and x[1] ~= nil then
          fail(("multipart field '%s': entry %d is a list; give a string, "
                .. "a number or a part table"):format(name, i))
        end
        parts[#parts + 1] = part_of(name, x)
      end
    else
      parts[#parts + 1] = part_of(name, v)
    end
  end
  return parts
end

return multipart
