--- Tasks: many workflows at once on one event loop.
--
-- Every script runs as a task; an HTTP call or a wait suspends only its own
-- task. This module also makes plain coroutines work beside the loop: when
-- a coroutine a script made waits on the loop (it makes an HTTP call), its
-- `coroutine.resume` passes that wait up to the task, and resumes the
-- coroutine when the wait is over, so the script's own yields and the
-- loop's never mix. A yield where no coroutine of the script runs raises,
-- as in plain Lua. And a child process that dies of SIGINT or SIGTERM
-- interrupts the run, as the signal would.
--
-- @module retryrun.run
-- @usage
-- local run = require "retryrun.run"
-- local pages = run.map({1, 2, 3}, function(n)
--   return http.get(API .. "/items/" .. n):json()
-- end, {concurrency = 2})

local core = require "retryrun.core"

local SUSPEND = core.SUSPEND
-- core.resume tells the loop which coroutine runs, so ^C interrupts it
local co_create, co_resume, co_yield = coroutine.create, core.resume,
                                       coroutine.yield
local co_status, co_close = coroutine.status, coroutine.close
local co_isyieldable = coroutine.isyieldable

-- Coroutines suspended on the loop (an HTTP call or a sleep inside them):
-- only the wait itself resumes them.
local on_loop = setmetatable({}, {__mode = "k"})
local select, error, type = select, error, type

local run = {}

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

local function resume(co, ...)
  if on_loop[co] then
    return false, "cannot resume a coroutine that waits on an HTTP call "
                  .. "or a sleep"
  end
  return pass_up(co, co_resume(co, ...))
end

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

local function wrap(fn)
  local co = co_create(fn)
  return function(...)
    return unwrap(co, resume(co, ...))
  end
end

coroutine.resume = resume
coroutine.wrap = wrap
coroutine.close = close
-- a task's own coroutine yields only to the loop: a script's yield there
-- raises, as in plain Lua's main thread
coroutine.yield = core.yield
coroutine.isyieldable = core.isyieldable

-- A child process (os.execute, io.popen) that dies of SIGINT or SIGTERM
-- interrupts the run as the signal itself would: the terminal's ^C reaches
-- the child while os.execute ignores it in retryrun.
local after_child = core.after_child
local execute, io_close = os.execute, io.close
local file_methods = getmetatable(io.stdout).__index
local file_close = file_methods.close
os.execute = function(...) return after_child(execute(...)) end
io.close = function(...) return after_child(io_close(...)) end
file_methods.close = function(...) return after_child(file_close(...)) end

--- Starts a task; it runs when the current one waits.
-- @function spawn
-- @tparam function fn the task's body
-- @param ... its arguments
-- @return a Task handle: `h:wait()` returns fn's results or raises its
--   error; `h:cancel()` stops it at its next wait; `h:status()`
run.spawn = core.spawn

--- Suspends the running task for `seconds`; other tasks go on.
-- @function sleep
-- @raise "cancelled" or "interrupted" when the task is stopped meanwhile;
--   inside a policy's hook, an error when the call's deadline comes first
--   (the sleep ends then, and the call gives up with reason "deadline")
run.sleep = core.sleep

--- Monotonic seconds, for measuring.
-- @function now
run.now = core.now

--- Caps on connections: `run.limits{connections = 256, per_host = 16}`.
-- Transfers over a cap wait in a queue; connections are reused across tasks.
-- @function limits
run.limits = core.limits

--- The running task's handle.
-- @function current
run.current = core.current

local ON_ERROR = {wait = true, cancel = true}

local function check_opts(opts, level)
  if opts == nil then
    return {}
  end
  if type(opts) ~= "table" then
    error("options must be a table", level + 1)
  end
  for k in pairs(opts) do
    if k ~= "concurrency" and k ~= "on_error" then
      error(("unknown option '%s' (known: concurrency, on_error)"):format(k),
            level + 1)
    end
  end
  if opts.on_error ~= nil and not ON_ERROR[opts.on_error] then
    error("on_error must be \"wait\" or \"cancel\"", level + 1)
  end
  local c = opts.concurrency
  if c ~= nil and (math.type(c) ~= "integer" or c < 1) then
    error("concurrency must be a whole number >= 1", level + 1)
  end
  return opts
end

--- Runs `fn(item, i)` for every item, at most `concurrency` at a time, and
-- returns the first result of each, in the order of `list`.
-- When a call raises, the first error raised is raised by map after the
-- others have finished (`on_error = "wait"`, the default) or have been
-- cancelled (`on_error = "cancel"`).
-- @tparam table list the items
-- @tparam function fn called as fn(item, index)
-- @tparam[opt] table opts `{concurrency = N, on_error = "wait"|"cancel"}`
-- @treturn table the results, `results[i]` for `list[i]`
-- @raise the first error a call raised
function run.map(list, fn, opts)
  if type(list) ~= "table" then
    error("bad argument #1 to 'map' (table expected, got " .. type(list)
          .. ")", 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'map' (function expected, got " .. type(fn)
          .. ")", 2)
  end
  opts = check_opts(opts, 2)
  local n = #list
  local results, nextindex, failed, first_err = {}, 1, false, nil
  local workers = {}
  local function stop_others()
    for _, w in ipairs(workers) do
      if w ~= run.current() then
        w:cancel()
      end
    end
  end
  local function worker()
    while not failed and nextindex <= n do
      local i = nextindex
      nextindex = i + 1
      local ok, res = pcall(fn, list[i], i)
      if ok then
        results[i] = res
      elseif not failed then
        failed, first_err = true, res
        if opts.on_error == "cancel" then
          stop_others()
        end
      end
    end
  end
  for w = 1, math.min(opts.concurrency or n, n) do
    workers[w] = core.spawn(worker)
  end
  -- workers catch what fn raises, so wait() raises only when this task
  -- itself is cancelled: then the workers stop too
  for _, w in ipairs(workers) do
    local ok, err = pcall(w.wait, w)
    if not ok then
      for _, x in ipairs(workers) do x:cancel() end
      error(err, 0)
    end
  end
  if failed then
    error(first_err, 0)
  end
  return results
end

--- Runs every function at once and returns the first result of each, in
-- order. Errors as in @{map}.
-- @tparam table fns a list of functions
-- @tparam[opt] table opts `{on_error = "wait"|"cancel"}`
-- @treturn table the results
function run.all(fns, opts)
  if type(fns) ~= "table" then
    error("bad argument #1 to 'all' (table expected, got " .. type(fns)
          .. ")", 2)
  end
  for i = 1, #fns do
    if type(fns[i]) ~= "function" then
      error(("bad argument #1 to 'all' (entry %d is a %s, not a function)")
            :format(i, type(fns[i])), 2)
    end
  end
  return run.map(fns, function(f) return f() end, opts)
end

return run
