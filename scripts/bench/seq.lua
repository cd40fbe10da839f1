--- seq.lua - retryrun's contender for W1 (sequential) and W2 (faulty).
--
--   retryrun seq.lua URL N [TOKEN]
--
-- N GETs one after another, written the way a user would: the default policy
-- plus a `valid` predicate and the 1 ms backoff (common.lua, shared with
-- conc.lua and tasks.lua). Prints "valid=N retries=R"; a call that gives up
-- raises (exit 3).

local http  = require "retryrun.http"
local bench = dofile(arg[0]:match("^(.-)[^/]*$") .. "common.lua")

local url, n, token = arg[1], tonumber(arg[2]), arg[3]
assert(url and n, "usage: retryrun seq.lua URL N [TOKEN]")

local opts = bench.options(token)
local valid = 0
for _ = 1, n do
  if bench.valid(http.get(url, opts)) then
    valid = valid + 1
  end
end
bench.report(valid)
