--- Argument checks shared by retryrun's Lua modules: raising an error at
-- the script's line, "did you mean" suggestions, and how a bad value is
-- shown in a message.
--
-- Private to retryrun (scripts use retryrun.http and retryrun.retry). It
-- reads the stack with the debug library and never changes anything.
--
-- @module retryrun.check

local type, tostring, error = type, tostring, error
local getinfo = debug.getinfo

local check = {}

-- "@/.../retryrun/": the chunk names of retryrun's own modules start so.
local OURS = getinfo(1, "S").source:match("^(@.*/)[^/]*$")

--- Raises msg with the position of the script's line: the innermost
-- caller that is not one of retryrun's modules, however deep the call
-- runs inside them (a verb, a policy verb, a policy built for `retry=`).
-- As with `error(msg, 2)`, a C caller (pcall) gives no position.
-- @param msg the message (another value is raised as it is)
-- @raise always
function check.fail(msg)
  if type(msg) == "string" then
    local level = 2
    local info = getinfo(level, "Sl")
    while info and OURS and info.source:sub(1, #OURS) == OURS do
      level = level + 1
      info = getinfo(level, "Sl")
    end
    if info and info.currentline > 0 then
      msg = ("%s:%d: %s"):format(info.short_src, info.currentline, msg)
    end
  end
  error(msg, 0)
end

--- Raises "bad argument #n to 'fname' (why)" at the script's line.
-- @param n the argument's position
-- @param fname the function's name as the script calls it
-- @param why what was wrong, e.g. "table expected, got nil"
-- @raise always
function check.argerror(n, fname, why)
  check.fail(("bad argument #%d to '%s' (%s)"):format(n, fname, why))
end

--- Raises check.argerror unless type(v) is want (or v is nil and
-- optional is true).
-- @return v
function check.argtype(n, fname, v, want, optional)
  local t = type(v)
  if t ~= want and not (optional and v == nil) then
    check.argerror(n, fname, ("%s expected, got %s"):format(want, t))
  end
  return v
end

--- " (did you mean 'headers'?)" for a name close to a known one, else "".
-- @param name the unknown name (a string)
-- @param known a table whose keys are the known names
-- @return the suffix for the message
-- (src/lua_check.c's check_suggest, as the policy fields use it)
check.suggest = require("retryrun.core").suggest

--- How a value from the script is shown in a message: a number as Lua
-- writes it (NaN as "nan"), a string in double quotes with control bytes
-- escaped and cut after 40 bytes, anything else by its type name. Runs no
-- metamethod.
-- @param v the value
-- @return a string
function check.show(v)
  local t = type(v)
  if t == "number" then
    return v ~= v and "nan" or tostring(v)
  elseif t == "string" then
    local s = v:sub(1, 40):gsub('[%c"\\\127-\255]', function(c)
      local named = {["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t",
                     ['"'] = '\\"', ["\\"] = "\\\\"}
      return named[c] or ("\\x%02x"):format(c:byte())
    end)
    return '"' .. s .. '"' .. (#v > 40 and "..." or "")
  end
  return t
end

return check
