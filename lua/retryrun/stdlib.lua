--- What the host puts in place of standard library functions.
--
-- Loading this module changes nothing: it returns replacements, and the
-- host (host.c), when it makes the Lua state and before any script runs,
-- sets each one into the library table of the same name (`file` is the
-- methods of open files, `_G` the base library). Scripts and retryrun's
-- other modules then use the plain `coroutine`, `os`, `io`, `next` and
-- other names.
--
-- Coroutines work beside the loop: when a coroutine a script made waits on
-- the loop (it makes an HTTP call), its `coroutine.resume` passes that wait
-- up to the task, and resumes the coroutine when the wait is over, so the
-- script's own yields and the loop's never mix. A yield where no coroutine
-- of the script runs raises, as in plain Lua. And a child process that
-- dies of SIGINT or SIGTERM interrupts the run, as the signal would.
--
-- @module retryrun.stdlib

local core = require "retryrun.core"

local SUSPEND = core.SUSPEND
-- core.resume tells the loop which coroutine runs, so ^C interrupts it
local co_create, co_resume, co_yield = coroutine.create, core.resume,
                                       coroutine.yield
local co_status, co_close = coroutine.status, coroutine.close
local co_isyieldable = coroutine.isyieldable
local select, error = select, error

-- Coroutines suspended on the loop (an HTTP call or a sleep inside them):
-- only the wait itself resumes them.
local on_loop = setmetatable({}, {__mode = "k"})

-- Passes a loop wait from a script's coroutine up to the task, until the
-- coroutine yields for the script (or ends).
local function pass_up(co, ok, first, ...)
  if ok and first == SUSPEND and select("#", ...) == 0 then
    if not co_isyieldable() then
      error("a coroutine that waits on an HTTP call or a sleep was resumed "
            .. "where retryrun cannot wait (inside require, a metamethod or "
            .. "another C function)", 0)
    end
    on_loop[co] = true
    co_yield(SUSPEND)
    on_loop[co] = nil
    return pass_up(co, co_resume(co))
  end
  return ok, first, ...
end

--- coroutine.resume: as the base library's, passing loop waits up.
-- @return as coroutine.resume; false and a message for a coroutine that
--   waits on the loop
local function resume(co, ...)
  if on_loop[co] then
    return false, "cannot resume a coroutine that waits on an HTTP call "
                  .. "or a sleep"
  end
  return pass_up(co, co_resume(co, ...))
end

--- coroutine.close: as the base library's, refusing a coroutine that
-- waits on the loop.
local function close(co)
  if on_loop[co] then
    return false, "cannot close a coroutine that waits on an HTTP call "
                  .. "or a sleep"
  end
  return co_close(co)
end

local function unwrap(co, ok, ...)
  if ok then
    return ...
  end
  local err = ...
  if co_status(co) == "dead" then
    co_close(co)
  end
  error(err, 0)
end

--- coroutine.wrap: as the base library's, over resume above.
local function wrap(fn)
  local co = co_create(fn)
  return function(...)
    return unwrap(co, resume(co, ...))
  end
end

-- A child process (os.execute, io.popen) that dies of SIGINT or SIGTERM
-- interrupts the run as the signal itself would: the terminal's ^C reaches
-- the child while os.execute ignores it in retryrun.
local after_child = core.after_child
-- core.execute: os.execute keeping retryrun's signal handlers
local execute, io_close = core.execute, io.close
local file_close = getmetatable(io.stdout).__index.close

-- next, rawget, rawset, rawlen, getmetatable and setmetatable, which see
-- a table as it is (and pairs, which hands out next), first make a lazy
-- JSON view's table whole (retryrun.json), so that it reads as
-- json.decode would have made it; collectgarbage("step") in generational
-- mode can make a major collection
local base = {collectgarbage = core.base.collectgarbage}
for name, fn in pairs(core.json_base) do base[name] = fn end

return {
  _G = base,
  debug = core.json_debug,
  coroutine = {
    resume = resume,
    wrap = wrap,
    close = close,
    -- a task's own coroutine yields only to the loop: a script's yield
    -- there raises, as in plain Lua's main thread
    yield = core.yield,
    isyieldable = core.isyieldable,
  },
  os = {
    execute = function(...) return after_child(execute(...)) end,
  },
  io = {
    close = function(...) return after_child(io_close(...)) end,
  },
  file = {
    close = function(...) return after_child(file_close(...)) end,
  },
}
