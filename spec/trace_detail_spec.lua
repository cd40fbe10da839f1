-- What -v and -vv show beyond the attempt itself: the run.step a call
-- runs in, the policy's name, the headers sent and received (-vv), all
-- redacted; and a one-liner on a terminal shows its body alone.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

-- Runs BIN with options before a script made of body (whose arg[1] is
-- url); returns the exit code and stderr's lines, stdout dropped.
local traced = common.traced

describe("retryrun -v inside run.step", function()
  it("names the step path after the task, in brackets", function()
    local srv <close> = todo.start{}
    local code, lines = traced("-v", [[
      local run, http = require "retryrun.run", require "retryrun.http"
      http.get(arg[1] .. "/items")
      run.step("load", function()
        run.step("item 2", function() http.get(arg[1] .. "/items") end)
        run.map({1}, function() http.get(arg[1] .. "/items") end)
      end)
    ]], srv.url)
    assert.equal(0, code)
    assert.equal(3, #lines)
    assert.matches("^%[ *[%d.]+%] task 1  GET ", lines[1])
    assert.matches("^%[ *[%d.]+%] task 1 %[load / item 2%]  GET ", lines[2])
    assert.matches("^%[ *[%d.]+%] task %d+ %[load%]  GET ", lines[3])
  end)

  it("redacts the step's name", function()
    local srv <close> = todo.start{}
    local _, lines = traced("-v", [[
      local run, http = require "retryrun.run", require "retryrun.http"
      run.step("fetch http://u:pw-Sec-9@h/x", function()
        http.get(arg[1] .. "/items")
      end)
    ]], srv.url)
    assert.equal(1, #lines)
    assert.is_nil(lines[1]:find("Sec", 1, true), lines[1])
    assert.matches("task 1 %[fetch http://[^]]*REDACTED@h/x%]  GET", lines[1])
  end)
end)

-- Runs cmd under a pseudo-terminal (script(1)); returns what it showed.
local function on_terminal(cmd)
  local typescript = os.tmpname()
  common.sh(("script -qc %s %s >/dev/null"):format(common.quote(cmd),
                                                   typescript))
  local f = io.open(typescript)
  local shown = f:read("a")
  f:close()
  os.remove(typescript)
  return shown
end

describe("a one-liner on a terminal", function()
  it("shows the body alone, as curl does", function()
    local srv <close> = todo.start{}
    local shown = on_terminal(("%s get %s/_headers?a=b"):format(
      common.quote(common.BIN), srv.url))
    assert.matches('{"headers":1}', shown, 1, true)
    assert.is_nil(shown:find("retryrun:", 1, true), shown)
  end)

  it("adds the summary with --summary", function()
    local srv <close> = todo.start{}
    local shown = on_terminal(("%s --summary get %s/_headers?a=b"):format(
      common.quote(common.BIN), srv.url))
    assert.matches("retryrun: 1 call", shown, 1, true)
  end)

  it("still shows a script's summary", function()
    local srv <close> = todo.start{}
    local path = common.write_script(
      [[require("retryrun.http").get(arg[1] .. "/_headers?a=b")]])
    local shown = on_terminal(("%s %s %s"):format(common.quote(common.BIN),
                                                  path, srv.url))
    os.remove(path)
    assert.matches("retryrun: 1 call", shown, 1, true)
  end)
end)

-- Runs BIN with args (a one-liner); returns the exit code and stderr's
-- lines.
local function oneliner(args)
  local code, out = common.sh(("%s %s 2>&1 >/dev/null"):format(
    common.quote(common.BIN), args))
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return code, lines
end

-- The -v lines of lines, each with the "> " and "< " lines after it.
local function attempts(lines)
  local list = {}
  for _, l in ipairs(lines) do
    if l:find("^%[") then
      list[#list + 1] = {line = l, sent = {}, got = {}}
    else
      local a = assert(list[#list], l)
      local mark, text = l:match("^    ([<>]) (.*)$")
      assert(mark, l)
      table.insert(mark == ">" and a.sent or a.got, text)
    end
  end
  return list
end

describe("retryrun -vv", function()
  local SECRETS = [[
    local http = require "retryrun.http"
    http.get((arg[1]:gsub("//", "//al:pw-Sec-1@")) .. "/items", {
      query = {access_token = "tok-Sec-2"},
      headers = {Authorization = "Bearer alice-secret",
                 ["X-Api-Key"] = "key-Sec-3"},
      retry = {attempts = 10, backoff = {initial = 0.001}}})
  ]]

  it("adds the headers sent and received after each attempt's line",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "3"}
    local code, lines = traced("-vv", [[
      local http = require "retryrun.http"
      http.get(arg[1] .. "/items", {headers = {Authorization =
        "Bearer alice-secret"}, retry = {attempts = 10,
        backoff = {initial = 0.001}}})
    ]], srv.url)
    assert.equal(0, code)
    local list = attempts(lines)
    assert.equal(srv:stats().requests, #list)
    assert.is_true(#list > 1)
    for i, a in ipairs(list) do
      assert.equal("GET /items HTTP/1.1", a.sent[1])
      assert.truthy(a.sent[2]:find("^Host: 127%.0%.0%.1:%d+$"))
      assert.matches("^HTTP/1%.1 " .. (i < #list and "500" or "200"),
                     a.got[1])
      assert.truthy(table.concat(a.got, "\n"):find("Content-Type: ", 1, true), i)
    end
  end)

  it("hides every secret: headers, URL, query, the request's values",
     function()
    local srv <close> = todo.start{}
    local _, lines = traced("-vv", SECRETS, srv.url)
    local all = table.concat(lines, "\n")
    assert.is_nil(all:find("Sec", 1, true), all)
    assert.is_nil(all:find("alice-secret", 1, true), all)
    assert.truthy(all:find("> GET /items?access_token=REDACTED HTTP/1.1",
                           1, true), all)
    assert.truthy(all:find("> Authorization: REDACTED", 1, true))
    assert.truthy(all:find("> X-Api-Key: REDACTED", 1, true))
  end)

  it("is also -v -v and --verbose --verbose; -v alone has no headers",
     function()
    local srv <close> = todo.start{}
    for _, opt in ipairs{"-v -v", "--verbose --verbose", "-vv -v"} do
      local _, lines = traced(opt, SECRETS, srv.url)
      assert.equal(1, #attempts(lines))
      assert.is_true(#lines > 4, opt)
    end
    local _, lines = traced("-v", SECRETS, srv.url)
    assert.equal(1, #lines)
  end)

  it("shows each redirect hop, credentials dropped across origins",
     function()
    local srv <close> = todo.start{}
    local to = srv.url:gsub("127%.0%.0%.1", "localhost")
              .. "/_headers?a=b&token=tok-Sec-4"
    local code, lines = oneliner(("get %s -vv -H 'Authorization: Bearer "
      .. "alice-secret'"):format(common.quote(srv.url .. "/_redirect?to="
        .. (to:gsub("[?&=]", function(ch)
             return ("%%%02X"):format(ch:byte()) end)) .. "&status=302")))
    assert.equal(0, code)
    local list = attempts(lines)
    assert.equal(1, #list)
    local sent, got = table.concat(list[1].sent, "\n"),
                      table.concat(list[1].got, "\n")
    assert.equal(2, common.count(sent, "GET /"))
    assert.truthy(sent:find("GET /_headers?a=b&token=REDACTED HTTP/1.1", 1,
                            true), sent)
    assert.equal(1, common.count(sent, "Authorization: REDACTED"))
    assert.truthy(got:find("HTTP/1.1 302", 1, true))
    assert.truthy(got:find("Location: http://localhost:%d+/_headers%?a=b&"
                           .. "token=REDACTED"), got)
    -- the first request line carries the target percent-encoded in a
    -- parameter that is not secret, as the URL given did; the rest not
    assert.is_nil((sent:match("\n(.*)") .. got):find("Sec", 1, true))
  end)

  it("works in one-liners before and after the verb", function()
    local srv <close> = todo.start{}
    for _, args in ipairs{"-vv get %s", "get %s -vv", "-v get %s -v"} do
      local code, lines = oneliner(args:format(srv.url .. "/_headers?a=b"))
      assert.equal(0, code)
      local list = attempts(lines)
      assert.equal(1, #list, args)
      assert.equal("GET /_headers?a=b HTTP/1.1", list[1].sent[1])
      assert.truthy(table.concat(list[1].got, "\n"):find("a: b", 1, true))
    end
  end)

  it("shows a hedged copy's headers, cancelled or not", function()
    local srv <close> = todo.start{"--slow-rate", "0.5", "--slow-ms",
                                   "2000", "--seed", "3"}
    local _, lines = traced("-vv", [[
      local retry = require "retryrun.retry"
      retry.policy{hedge = {delay = 0.05}}:get(arg[1] .. "/_echo")
    ]], srv.url)
    local sent = 0
    for _, a in ipairs(attempts(lines)) do
      sent = sent + common.count(table.concat(a.sent, "\n"), "GET /_echo")
    end
    assert.equal(2, sent)
  end)
end)

describe("a policy's name", function()
  local retry = require "retryrun.retry"

  it("is a non-empty string without control characters, kept by :extend",
     function()
    local p = retry.policy{name = "fast", attempts = 2}
    assert.equal("fast", p.name)
    assert.equal("fast", p:extend{attempts = 3}.name)
    assert.equal("slow", p:extend{name = "slow"}.name)
    assert.is_nil(retry.policy{}.name)
    for _, bad in ipairs{"", 5, "a\nb", "a\27[31m", ("x"):rep(101)} do
      assert.has_error(function() retry.policy{name = bad} end)
    end
    local ok, err = pcall(retry.policy, {name = "a\0b"})
    assert.is_false(ok)
    assert.matches("policy field 'name' must be a string of 1 to 100 bytes "
                   .. "without control characters %(got a control "
                   .. "character%)", err)
  end)

  it("is in -v lines, --log records and report call entries, redacted",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "3"}
    local log, rep = os.tmpname(), os.tmpname()
    local _, lines = traced(("-v --log %s --report json=%s"):format(log, rep),
      [[
      local retry = require "retryrun.retry"
      local http = require "retryrun.http"
      local p = retry.policy{name = "api http://u:pw-Sec-5@h/",
        attempts = 10, backoff = {initial = 0.001}}
      p:extend{deadline = 30}:get(arg[1] .. "/items")
      http.get(arg[1] .. "/items", {retry = {name = "inline", attempts = 10,
        backoff = {initial = 0.001}}})
      http.get(arg[1] .. "/items", {retry = {attempts = 10,
        backoff = {initial = 0.001}}})
    ]], srv.url)
    local f = io.open(log)
    local logged = f:read("a")
    f:close()
    f = io.open(rep)
    local report = f:read("a")
    f:close()
    os.remove(log); os.remove(rep)
    local named, inline, plain = 0, 0, 0
    for _, l in ipairs(lines) do
      if l:find("  [policy api http://REDACTED@h/]  attempt", 1, true) then
        named = named + 1
      elseif l:find("  [policy inline]  attempt", 1, true) then
        inline = inline + 1
      else
        assert.is_nil(l:find("[policy", 1, true), l)
        plain = plain + 1
      end
    end
    assert.is_true(named > 0 and inline > 0 and plain > 0)
    local json = require "retryrun.json"
    local records = 0
    for l in logged:gmatch("[^\n]+") do
      local r = json.decode(l)
      local want = r.call == 1 and "api http://REDACTED@h/" or
                   r.call == 2 and "inline" or nil
      assert.equal(want, r.policy)
      records = records + 1
    end
    assert.equal(#lines + 3, records)
    local calls = {}
    for _, case in ipairs(json.decode(report).cases) do
      for _, call in ipairs(case.calls) do calls[call.call] = call end
    end
    assert.equal("api http://REDACTED@h/", calls[1].policy)
    assert.equal("inline", calls[2].policy)
    assert.is_nil(calls[3].policy)
    assert.is_nil((table.concat(lines) .. logged .. report):find("Sec", 1,
                                                                true))
  end)
end)
