--- Tasks: many workflows at once on one event loop.
--
-- Every script runs as a task; an HTTP call or a wait suspends only its own
-- task. Plain coroutines work beside the loop because the host, when it
-- makes the Lua state, puts retryrun.stdlib's coroutine functions in place
-- of the base library's; this module changes no global.
--
-- @module retryrun.run
-- @usage
-- local run = require "retryrun.run"
-- local pages = run.map({1, 2, 3}, function(n)
--   return http.get(API .. "/items/" .. n):json()
-- end, {concurrency = 2})

local core = require "retryrun.core"
local check = require "retryrun.check"
local error, type = error, type

local run = {}

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

local step_begin, step_end = core.step_begin, core.step_end
local function step_done(id, ok, ...)
  if ok then
    step_end(id)
    return ...
  end
  step_end(id, (...))
  error((...), 0)
end

--- Runs `fn(...)` as a named unit of work: a test case of `--report`,
-- with every call made inside it. Steps nest ("outer / inner"); a task
-- spawned inside a step (run.map's and run.all's included) starts in it.
-- @tparam string name the step's name
-- @tparam function fn its body
-- @param ... fn's arguments
-- @return fn's results
-- @raise fn's error, unchanged
function run.step(name, fn, ...)
  check.argtype(1, "step", name, "string")
  if name == "" then
    -- a test case a CI server would show without a name
    check.argerror(1, "step", "a name is needed, got ''")
  end
  check.argtype(2, "step", fn, "function")
  return step_done(step_begin(name), pcall(fn, ...))
end

local fail, argtype = check.fail, check.argtype
local ON_ERROR = {wait = true, cancel = true}

-- Errors are raised at the script's line (check.fail).
local function check_opts(opts)
  if opts == nil then
    return {}
  end
  if type(opts) ~= "table" then
    fail("options must be a table")
  end
  for k in pairs(opts) do
    if k ~= "concurrency" and k ~= "on_error" then
      fail(("unknown option '%s' (known: concurrency, on_error)")
           :format(tostring(k)))
    end
  end
  if opts.on_error ~= nil and not ON_ERROR[opts.on_error] then
    fail("on_error must be \"wait\" or \"cancel\"")
  end
  local c = opts.concurrency
  if c ~= nil and (math.type(c) ~= "integer" or c < 1) then
    fail("concurrency must be a whole number >= 1")
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
  argtype(1, "map", list, "table")
  argtype(2, "map", fn, "function")
  opts = check_opts(opts)
  local n = #list
  local results, nextindex, failed, first_err = {}, 1, false, nil
  local done, progress = 0, core.progress
  progress(0, n)
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
      done = done + 1
      progress(done, n)
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
  argtype(1, "all", fns, "table")
  for i = 1, #fns do
    if type(fns[i]) ~= "function" then
      check.argerror(1, "all", ("entry %d is a %s, not a function")
                     :format(i, type(fns[i])))
    end
  end
  return run.map(fns, function(f) return f() end, opts)
end

return run
