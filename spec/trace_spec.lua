-- retryrun -v: a line on stderr for every attempt, each request the
-- server saw once, URLs redacted, colour only when asked.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local LINE = "^%[ *%d+%.%d+%] task %d+  "

-- Runs BIN with options before a script made of body (whose arg[1] is
-- url); returns the exit code and stderr's lines, stdout dropped.
local traced = common.traced

local SCRIPT = [[
  local http = require "retryrun.http"
  for i = 1, 20 do
    http.get(arg[1] .. "/items", {headers = {Authorization =
      "Bearer alice-secret"}, retry = {attempts = 10,
      backoff = {initial = 0.001}}})
  end
]]

describe("retryrun -v", function()
  it("prints one line per request the server saw", function()
    local srv <close> = todo.start{"--fail-rate", "0.3", "--seed", "7"}
    local code, lines = traced("-v", SCRIPT, srv.url)
    assert.equal(0, code)
    local accepted, retried = 0, 0
    for _, l in ipairs(lines) do
      assert.matches(LINE .. "GET http://127%.0%.0%.1:%d+/items  attempt %d+ "
                     .. " %d+  %d+ ms  ", l)
      if l:find("  accept$") then accepted = accepted + 1 end
      if l:find("  retry in [%d.e-]+ s: 500$") then retried = retried + 1 end
    end
    assert.equal(20, accepted)
    assert.equal(srv:stats().requests, #lines)
    assert.equal(#lines - 20, retried)
    assert.is_true(retried > 0)
  end)

  it("says why a call gives up, and what it was", function()
    local code, lines = traced("-v", [[
      local http = require "retryrun.http"
      pcall(http.get, arg[1] .. "/x", {retry = {attempts = 2,
        backoff = {initial = 0.001}}})
      pcall(http.post, arg[1] .. "/x", {body = "a", retry = {attempts = 1}})
    ]], "http://127.0.0.1:1")
    assert.equal(0, code)
    assert.equal(3, #lines)
    assert.matches("attempt 1  connect  %d+ ms  retry in [%d.e-]+ s: connect$",
                   lines[1])
    assert.matches("attempt 2  connect  %d+ ms  give up: attempts exhausted$",
                   lines[2])
    assert.matches("POST http://127%.0%.0%.1:1/x  attempt 1  connect  %d+ ms  "
                   .. "give up: attempts exhausted$", lines[3])
  end)

  it("says whether a Retry-After was over max_retry_after or the deadline",
     function()
    local srv <close> = todo.start{"--throttle-rate", "1", "--retry-after",
                                   "3"}
    local code, lines = traced("-v", [[
      local http = require "retryrun.http"
      pcall(http.get, arg[1] .. "/items", {retry = {deadline = 2}})
      -- under a key of its own: the first call's pause, longer than this
      -- call's max_retry_after, would end it before it sent anything
      pcall(http.get, arg[1] .. "/items", {retry = {max_retry_after = 1,
                                                    key = "second"}})
    ]], srv.url)
    assert.equal(0, code)
    -- the attempts' lines; the shared cool-down the 429s start has its own
    local calls = {}
    for _, line in ipairs(lines) do
      if line:find("  GET ", 1, true) then calls[#calls + 1] = line end
    end
    lines = calls
    assert.equal(2, #lines)
    assert.matches("  429  %d+ ms  give up: Retry%-After 3 s is past the "
                   .. "deadline$", lines[1])
    assert.matches("  429  %d+ ms  give up: Retry%-After 3 s is over "
                   .. "max_retry_after$", lines[2])
  end)

  it("says why valid() refused a response, on the first line of it",
     function()
    local srv <close> = todo.start{}
    local code, lines = traced("-v", [[
      local http = require "retryrun.http"
      pcall(http.get, arg[1] .. "/_echo", {retry = {attempts = 2,
        backoff = {initial = 0.001},
        valid = function() return false, "no state\nmore" end}})
    ]], srv.url)
    assert.equal(0, code)
    assert.equal(2, #lines)
    assert.matches("  200 invalid  %d+ ms  retry in [%d.e-]+ s: 200 invalid "
                   .. "%(no state%)$", lines[1])
    assert.matches("  give up: attempts exhausted %(no state%)$", lines[2])
  end)

  it("says a POST that may have reached the server is not retried",
     function()
    local srv <close> = todo.start{"--reset-rate", "1"}
    local _, lines = traced("-v", [[
      pcall(require("retryrun.http").post, arg[1] .. "/items", {body = "{}"})
    ]], srv.url)
    assert.equal(1, #lines)
    assert.matches("attempt 1  reset  %d+ ms  not retried: POST may have "
                   .. "reached the server$", lines[1])
  end)

  it("redacts every URL it prints", function()
    local srv <close> = todo.start{}
    local _, lines = traced("-v", [[
      require("retryrun.http").get((arg[1]:gsub("//", "//al:pw-Sec-1@"))
        .. "/items?access_token=tok-Sec-2")
    ]], srv.url)
    assert.equal(1, #lines)
    assert.is_nil(lines[1]:find("Sec", 1, true), lines[1])
    assert.matches("REDACTED@.*access_token=REDACTED", lines[1])
  end)

  it("colours its decisions only when asked, never under NO_COLOR", function()
    local srv <close> = todo.start{}
    local body = [[require("retryrun.http").get(arg[1] .. "/items",
      {headers = {Authorization = "Bearer alice-secret"}})]]
    local _, plain = traced("-v", body, srv.url)
    local _, always = traced("-v --color=always", body, srv.url)
    local _, never = traced("--color never -v", body, srv.url)
    assert.is_nil(plain[1]:find("\27[", 1, true))  -- not a terminal
    assert.matches("\27%[32maccept\27%[0m$", always[1])
    assert.is_nil(never[1]:find("\27[", 1, true))
  end)

  it("prints nothing without it", function()
    local srv <close> = todo.start{}
    local code, lines = traced("", SCRIPT, srv.url)
    assert.equal(0, code)
    assert.same({}, lines)
  end)

  it("refuses a --color it does not know", function()
    local code, lines = traced("--color=sometimes", "", "x")
    assert.equal(2, code)
    assert.equal("retryrun: --color takes always, never or auto (got "
                 .. "'sometimes')", lines[1])
  end)
end)
