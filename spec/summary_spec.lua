-- The end-of-run summary: per endpoint, ids folded, its counts the same as
-- the --log records', as text (--summary, or on a terminal) and as JSON
-- (--summary-json FILE).
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local SCRIPT = [[
  local http = require "retryrun.http"
  local A = {Authorization = "Bearer alice-secret"}
  local R = {attempts = 8, backoff = {initial = 0.001}}
  for i = 1, 30 do http.get(arg[1] .. "/items", {headers = A, retry = R}) end
  local item = http.post(arg[1] .. "/items", {headers = A, json = {summary =
    "s", description = "d"}, retry = {idempotency_key = true, attempts = 8,
    backoff = {initial = 0.001}}}):json()
  for i = 1, 10 do
    http.get(arg[1] .. "/items/" .. item.id, {headers = A, retry = R})
  end
]]

-- Runs SCRIPT against url with options; returns the exit code, stderr,
-- the summary JSON and the log's records.
local function summarised(options, url)
  local path, json, log = common.write_script(SCRIPT), os.tmpname(),
                          os.tmpname()
  local code, err = common.sh(("%s --summary-json %s --log %s %s %s %s "
    .. "2>&1 >/dev/null"):format(common.quote(common.BIN), json, log,
    options, common.quote(path), common.quote(url)))
  local f = io.open(json)
  local summary = todo.decode(f:read("a"))
  f:close()
  local records = {}
  for line in io.lines(log) do records[#records + 1] = todo.decode(line) end
  os.remove(path); os.remove(json); os.remove(log)
  return code, err, summary, records
end

describe("the summary", function()
  it("counts what the log records, per endpoint with ids folded",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.2", "--seed", "5"}
    local code, err, s, records = summarised("", srv.url)
    assert.equal(0, code)
    assert.equal("", err)            -- a pipe: no text unless asked
    local want = {}
    for _, r in ipairs(records) do
      local key = r.method .. " " .. r.url:gsub("^http://[^/]+", "")
                                          :gsub("/%d+$", "/{id}")
      want[key] = want[key] or {calls = 0, attempts = 0, retries = 0}
      local w = want[key]
      if r.event == "call" then w.calls = w.calls + 1
      else
        w.attempts = w.attempts + 1
        if r.decision == "retry" then w.retries = w.retries + 1 end
      end
    end
    assert.equal(3, #s.endpoints)
    for _, e in ipairs(s.endpoints) do
      local w = want[e.endpoint]
      assert.is_table(w, e.endpoint)
      assert.equal(w.calls, e.calls)
      assert.equal(w.attempts, e.attempts)
      assert.equal(w.retries, e.retries)
      assert.equal(e.calls, e.ok)
      assert.is_true(e.call_seconds.p50 <= e.call_seconds.p99)
    end
    assert.equal(41, s.calls)
    assert.equal(srv:stats().requests, #records - 41)
    assert.equal(1, s.flow10_final)
    assert.is_true(s.flow10_first_try < 1)
  end)

  it("is written as text with --summary, in the article's terms",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.2", "--seed", "5"}
    local _, err = summarised("--summary", srv.url)
    assert.matches("^retryrun: 41 calls\n", err)
    assert.matches("\n  GET /items/{id}: 10 calls, %d+ attempts, %d+ "
                   .. "retries", err)
    assert.matches("\n  a call failed first time [%d.]+ %% of the time; "
                   .. "after retries 0 of 41\n", err)
    assert.matches("\n  a 10%-call flow at these rates succeeds [%d.]+ %% of the "
                   .. "time; after retries 100 %%",
                   err)
  end)

  it("goes to stdout with --summary-json -, as --log - does", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. common.quote(dir)))
    local bin = common.BIN:sub(1, 1) == "/" and common.BIN or
                os.getenv("PWD") .. "/" .. common.BIN
    local code, out = common.sh(("cd %s && %s --summary-json - -e "
      .. "'print(\"script\")' 2>/dev/null"):format(common.quote(dir),
      common.quote(bin)))
    local stray = io.open(dir .. "/-")
    if stray then stray:close(); os.remove(dir .. "/-") end
    os.remove(dir)
    assert.equal(0, code)
    assert.is_nil(stray)
    local text, json = out:match("^(script\n)(.*)$")
    assert.equal("script\n", text)
    assert.equal(1, todo.decode(json).v)
  end)

  it("writes one call, one attempt and one retry in the singular",
     function()
    local srv <close> = todo.start{}
    local code, out = common.sh(("%s --summary -e %s %s 2>&1 >/dev/null")
      :format(common.quote(common.BIN), common.quote([[
        local http = require "retryrun.http"
        http.get(arg[1] .. "/_echo")
        local n = 0
        http.get(arg[1] .. "/_echo?x=1", {retry = {backoff = {initial =
          0.001}, valid = function() n = n + 1; return n > 1 end}})
      ]]), common.quote(srv.url)))
    assert.equal(0, code)
    assert.matches("\n  GET /_echo: 2 calls, 3 attempts, 1 retry %(200 "
                   .. "invalid: 1%), 0 gave up\n", out)
    assert.is_nil(out:find("1 calls", 1, true))
  end)

  it("says so when its file cannot be written", function()
    local code, out = common.sh(common.quote(common.BIN)
      .. " --summary-json /nonexistent/s.json -e 'print(\"ran\")'")
    assert.equal(2, code)                  -- before running anything
    assert.equal("retryrun: cannot write the summary '/nonexistent/s.json': "
                 .. "No such file or directory\n", out)
    code, out = common.sh(common.quote(common.BIN)
      .. " --summary-json /dev/full -e 'print(\"ran\")'")
    assert.equal(1, code)                  -- found at the end
    assert.equal("ran\nretryrun: cannot write the summary '/dev/full': No "
                 .. "space left on device\n", out)
  end)
end)
