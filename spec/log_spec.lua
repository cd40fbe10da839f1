-- retryrun --log FILE: a JSON object a line, schema "v": 1, for every
-- attempt (each request the server saw, once) and every finished call;
-- URLs redacted as in every message.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

-- Runs BIN with options before a script made of body (arg[1] is url);
-- returns the exit code and the records of the log file, decoded.
local function logged(options, body, url)
  local code, out, records = todo.logged(options, body, url)
  return code, records, out
end

describe("retryrun --log", function()
  it("records every attempt the server saw and every call, once", function()
    local srv <close> = todo.start{"--fail-rate", "0.4", "--seed", "11"}
    local code, records = logged("", [[
      local http = require "retryrun.http"
      for i = 1, 10 do
        pcall(http.get, arg[1] .. "/items", {headers = {Authorization =
          "Bearer alice-secret"}, retry = {attempts = 3,
          backoff = {initial = 0.001}}})
      end
    ]], srv.url)
    assert.equal(0, code)
    local attempts, calls, last = 0, 0, {}
    for _, r in ipairs(records) do
      assert.equal(1, r.v)
      assert.equal(1, r.task)
      assert.equal("GET", r.method)
      assert.matches("^http://127%.0%.0%.1:%d+/items$", r.url)
      if r.event == "attempt" then
        attempts = attempts + 1
        assert.equal((last[r.call] or 0) + 1, r.attempt)
        last[r.call] = r.attempt
        assert.is_true(r.decision == "accept" or r.decision == "retry" or
                       r.decision == "giveup")
        if r.decision == "retry" then
          assert.equal("backoff", r.wait_cause)
          assert.is_number(r.wait)
        end
      else
        assert.equal("call", r.event)
        calls = calls + 1
        assert.equal(last[r.call], r.attempts)
        assert.is_true(r.outcome == "ok" or
                       (r.outcome == "gave_up" and r.reason == "exhausted"))
      end
    end
    assert.equal(srv:stats().requests, attempts)
    assert.equal(10, calls)
  end)

  it("records failure classes and why a POST was not retried", function()
    local srv <close> = todo.start{"--reset-rate", "1"}
    local _, records = logged("", [[
      pcall(require("retryrun.http").post, arg[1] .. "/items", {body = "{}"})
    ]], srv.url)
    assert.equal(2, #records)
    assert.equal("reset", records[1].error)
    assert.is_true(records[1].sent)
    assert.equal("giveup", records[1].decision)
    assert.equal("unsafe", records[1].reason)
    assert.equal("gave_up", records[2].outcome)
    assert.equal("unsafe", records[2].reason)
  end)

  it("records a wrapped function's error it does not retry as a give-up",
     function()
    local srv <close> = todo.start{}
    local _, records, out = logged("", [[
      local http, retry = require "retryrun.http", require "retryrun.retry"
      local f = retry.policy{retry_on = {503}}(function()
        return http.get(arg[1] .. "/items/1", {expect = 200})
      end)
      local ok, err = pcall(f)
      print(ok, http.is_expect_error(err), err.status)
    ]], srv.url)
    assert.equal("false\ttrue\t401\n", out)   -- the error, passed on as it is
    assert.equal(4, #records)
    assert.equal("accept", records[1].decision)  -- the inner call's answer,
    assert.equal("to_wrapper", records[2].outcome) -- which expect= refused
    assert.equal(401, records[3].status)         -- the wrapper's attempt
    assert.equal("giveup", records[3].decision)
    assert.equal("not_retryable", records[3].reason)
    assert.equal("gave_up", records[4].outcome)
    assert.equal("not_retryable", records[4].reason)
  end)

  it("hides secrets as every message does", function()
    local srv <close> = todo.start{}
    local _, records = logged("", [[
      require("retryrun.http").get((arg[1]:gsub("//", "//al:pw-Sec-1@"))
        .. "/items?access_token=tok-Sec-2")
    ]], srv.url)
    for _, r in ipairs(records) do
      assert.is_nil(r.url:find("Sec", 1, true), r.url)
    end
    assert.matches("REDACTED@.*access_token=REDACTED", records[1].url)
  end)

  it("says so when it cannot write the file", function()
    local code, out = common.sh(common.quote(common.BIN)
                                .. " --log /nonexistent/dir/x.log -e ''")
    assert.equal(2, code)
    assert.matches("^retryrun: cannot write the log '/nonexistent/dir/x.log'"
                   .. ": No such file or directory\n", out)
  end)
end)
