-- The process: how a run ends when its main chunk fails, when a hook waits
-- past its call's deadline, on SIGINT and SIGTERM, in CPU-bound code and
-- around child processes, and what a script's own yield meets. Each case
-- runs build/retryrun on a script, under `timeout` so a hang fails.
local todo = require "spec.support.todo"

local BIN = (os.getenv("RETRYRUN_BUILD") or "build") .. "/retryrun"
local AUTH = '{Authorization = "Bearer alice-secret"}'

-- Runs a shell command; returns its exit code, its output (both streams)
-- and the seconds it took.
local function sh(cmd)
  local t0 = todo.now()
  local f = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"rc=$?\""))
  local out = f:read("a")
  f:close()
  local code = tonumber(out:match("rc=(%d+)\n$"))
  return code, (out:gsub("rc=%d+\n$", "")), todo.now() - t0
end

local function script(body)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

-- Runs a script to its end (at most 5 s).
local function run_script(body, args)
  local path = script(body)
  local code, out, took = sh("timeout 5 " .. BIN .. " " .. path .. " " ..
                             (args or ""))
  os.remove(path)
  return code, out, took, path
end

-- Starts a script, sends it the signals after `delay` seconds each, and
-- waits for it; a watchdog kills it after 5 s (not `timeout`, which would
-- take the signals itself).
local function signal_script(body, signals, delay)
  local path = script(body)
  local kills = {}
  for i, s in ipairs(signals) do
    kills[i] = ("sleep %s; kill -%s $p"):format(delay or 0.3, s)
  end
  local code, out, took = sh(BIN .. " " .. path .. " & p=$!; " ..
                             "{ sleep 5; kill -KILL $p; } >/dev/null 2>&1 " ..
                             "& w=$!; " .. table.concat(kills, "; ") ..
                             "; wait $p; r=$?; kill $w; exit $r")
  os.remove(path)
  return code, out, took
end

local function count(s, pattern)
  local _, n = s:gsub(pattern, "")
  return n
end

describe("the give-up message of a call stopped in flight", function()
  it("says \"interrupted\" once", function()
    local srv <close> = todo.start{"--slow-rate", "1", "--slow-ms", "5000"}
    local code, out = signal_script(([[
      local http = require "retryrun.http"
      local ok, err = pcall(http.get, "%s/items")
      print(err.message)
    ]]):format(srv.url), {"INT"})
    assert.equal(130, code)
    assert.matches("^GET " .. srv.url:gsub("%p", "%%%0") .. "/items gave " ..
                   "up after 1 attempt in 0%.%d s: interrupted\n$", out)
  end)
end)
