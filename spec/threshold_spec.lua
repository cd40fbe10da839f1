-- --fail-if: thresholds checked against the summary at the end; a broken
-- one exits 4 and says what it measured, a malformed one is a usage error.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local SCRIPT = [[
  local http = require "retryrun.http"
  local A = {Authorization = "Bearer alice-secret"}
  local R = {attempts = 8, backoff = {initial = 0.001}}
  local item = http.post(arg[1] .. "/items", {headers = A, json = {summary =
    "s", description = "d"}, retry = {idempotency_key = true, attempts = 8,
    backoff = {initial = 0.001}}}):json()
  for i = 1, 20 do
    http.get(arg[1] .. "/items/" .. item.id, {headers = A, retry = R})
  end
]]

local function checked(thresholds, url)
  local args = {}
  for _, t in ipairs(thresholds) do
    args[#args + 1] = "--fail-if " .. common.quote(t)
  end
  local path = common.write_script(SCRIPT)
  local code, out = common.sh(("%s %s %s %s 2>&1 >/dev/null"):format(
    common.quote(common.BIN), table.concat(args, " "), common.quote(path),
    common.quote(url)))
  os.remove(path)
  return code, out
end

describe("--fail-if", function()
  local srv
  setup(function() srv = todo.start{"--fail-rate", "0.3", "--seed", "9"} end)
  teardown(function() srv:stop() end)

  it("exits 0 when every threshold holds", function()
    local code, out = checked({"giveups > 0", "p99 > 10s",
                               "ok_rate < 100%"}, srv.url)
    assert.equal("", out)
    assert.equal(0, code)
  end)

  it("exits 4 and says what broke it, per endpoint too", function()
    local code, out = checked({"retry_rate > 1%",
                               "GET /items/{id}: retries >= 1",
                               "calls < 5"}, srv.url)
    assert.equal(4, code)
    assert.matches("retryrun: %-%-fail%-if retry_rate > 1%%: retry_rate "
                   .. "[%d.]+ %% > 1 %%\n", out)
    assert.matches("retryrun: %-%-fail%-if GET /items/{id}: retries >= 1: "
                   .. "GET /items/{id}: retries %d+ >= 1\n", out)
    assert.is_nil(out:find("calls < 5", 1, true))
  end)

  it("refuses a malformed threshold before running anything", function()
    local code, out = checked({"p99 > 5%"}, srv.url)
    assert.equal(2, code)
    assert.matches("^retryrun: %-%-fail%-if 'p99 > 5%%': '%%' is not a unit "
                   .. "of p99 %(ms or s%)\n", out)
    code, out = checked({"bogus > 1"}, srv.url)
    assert.equal(2, code)
    assert.matches("unknown measure 'bogus'", out)
  end)

  it("refuses a rate that could never be reached", function()
    local code, out = checked({"retry_rate > 5"}, srv.url)
    assert.equal(2, code)
    assert.matches("a rate is a share from 0 to 1, or 0 %% to 100 %% "
                   .. "%(write '5%%' or '0.05'%)", out)
    code, out = checked({"giveup_rate > 150%"}, srv.url)
    assert.equal(2, code)
    assert.matches("a rate is at most 100 %%", out)
  end)

  it("breaks on an endpoint that was never called, not in silence", function()
    local code, out = checked({"GET /itemz/{id}: p95 > 10s"}, srv.url)
    assert.equal(4, code)
    assert.matches("retryrun: %-%-fail%-if GET /itemz/{id}: p95 > 10s: no "
                   .. "call was made to GET /itemz/{id}\n", out)
  end)

  it("counts zero calls as zero", function()
    local code, out = common.sh(("%s --fail-if 'calls < 1' --fail-if "
      .. "'p99 > 1ms' -e '' 2>&1"):format(common.quote(common.BIN)))
    assert.equal(4, code)
    assert.equal("retryrun: --fail-if calls < 1: calls 0 < 1\n", out)
  end)
end)
