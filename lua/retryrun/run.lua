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

--- Caps on connections: `run.limits{connections = 256, per_host = 16}`,
-- and rate limits per host: `run.limits{rate = {["api.example.com"] =
-- "50/s"}}` (or `rate = "50/s"` for every host, `"adaptive"`, `false`).
-- Transfers over a cap wait in a queue; connections are reused across tasks;
-- a request over a rate waits for its turn before it is sent.
-- @function limits
run.limits = core.limits

--- The rate a request to a URL is held to now.
-- @param url the URL
-- @return requests a second, or nil when no rate limit holds it
-- @function rate
run.rate = core.rate

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

local fail, argtype, show = check.fail, check.argtype, check.show
local setmetatable, pcall = setmetatable, pcall
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

-- The progress line's run.map count: items done and items to do, over
-- every run.map of the run (nested, side by side or one after another),
-- so that no map's count hides another's. Moved by (done, total) each
-- time; returns true when the line is drawn at all.
local map_done, map_total = 0, 0
local core_progress = core.progress
local function progress(d_done, d_total)
  map_done, map_total = map_done + d_done, map_total + d_total
  return core_progress(map_done, map_total)
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
  local done = 0
  local shown = progress(0, n)
  local workers = {}
  local function stop_others()
    for _, w in ipairs(workers) do
      if w ~= run.current() then
        w:cancel()
      end
    end
  end
  local function worker()
    while not failed do
      local i = nextindex
      if i > n then break end
      nextindex = i + 1
      local ok, res = pcall(fn, list[i], i)
      done = done + 1
      map_done = map_done + 1         -- progress(1, 0), once an item
      if shown then core_progress(map_done, map_total) end
      if ok then
        results[i] = res
      else
        core.task_error(res)        -- this task's report case fails
        if not failed then
          failed, first_err = true, res
          if opts.on_error == "cancel" then
            stop_others()
          end
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
      progress(0, done - n)
      error(err, 0)
    end
  end
  progress(0, done - n)     -- the items never started leave the total
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

-- run.once: the flight in progress for each key (a Task).
local flights = {}

--- Single flight: runs `fn()` once for all the tasks that ask with the
-- same key while it runs. The first caller starts it, in a task of its
-- own (so a caller cancelled meanwhile does not stop it for the others);
-- every caller waits for it and gets the same results, or the same error
-- raised. Once it has ended, the next call with that key runs `fn` again:
-- this shares work in progress, it does not cache (the auth of a session
-- refreshes its token through it).
-- @param key any value but nil or NaN, compared as a table key
-- @tparam function fn called with no arguments
-- @return fn's results
-- @raise fn's error, for every caller
-- @usage local tok = run.once("token", function() return login() end)
function run.once(key, fn)
  if key == nil or key ~= key then
    check.argerror(1, "once", "a key expected, got " .. show(key))
  end
  argtype(2, "once", fn, "function")
  local h = flights[key]
  if not h then
    -- the flight ends normally either way, so its error reaches every
    -- caller as fn raised it (no task traceback added)
    h = core.spawn(function()
      local r = table.pack(pcall(fn))
      flights[key] = nil
      return r
    end)
    flights[key] = h
  end
  if h == core.current() then
    fail(("once: fn asked for its own key %s again (itself or through a "
          .. "call that needs it), and would wait on itself"):format(
          show(key)))
  end
  local r = h:wait()
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

local Lock = {__name = "retryrun.Lock"}
Lock.__index = Lock

--- A lock for a critical section shared by tasks: one task holds it at a
-- time, the others wait in line, in the order they asked.
-- @treturn Lock `lock:hold(fn, ...)`, or `lock:acquire()` and
--   `lock:release()`
-- @usage
-- local lock = run.lock()
-- run.map(ids, function(id)
--   lock:hold(function() append(report, id) end)
-- end)
function run.lock()
  return setmetatable({holder = nil, queue = {}}, Lock)
end

--- Waits until the lock is free and takes it for the running task.
-- @raise when the task already holds it (a lock is not re-entrant), or
--   is cancelled while it waits
function Lock:acquire()
  local me = core.current()
  if not me then
    fail("a lock is taken inside a task")
  end
  if self.holder == me then
    fail("this task already holds the lock")
  end
  if self.holder == nil then
    self.holder = me
    return
  end
  local queue = self.queue
  queue[#queue + 1] = me
  local ok, err = pcall(core.park)
  if not ok then
    if self.holder == me then      -- handed over as the error came
      self:release()
    else
      for i = #queue, 1, -1 do
        if queue[i] == me then table.remove(queue, i) end
      end
    end
    error(err, 0)
  end
end

--- Gives the lock to the next task in line.
-- @raise when the running task does not hold it
function Lock:release()
  if self.holder ~= core.current() then
    fail("release() of a lock this task does not hold")
  end
  local nxt = table.remove(self.queue, 1)
  self.holder = nxt
  if nxt then
    core.unpark(nxt)
  end
end

--- Runs `fn(...)` holding the lock, and releases it however fn ends.
-- @return fn's results
-- @raise fn's error, after the lock is released
function Lock:hold(fn, ...)
  argtype(1, "hold", fn, "function")
  self:acquire()
  local r = table.pack(pcall(fn, ...))
  self:release()
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

return run
