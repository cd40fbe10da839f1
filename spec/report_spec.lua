-- run.step and --report junit|tap|json=FILE: a test case per step (or per
-- task when there is none), passed, flaky (passed after retries) or
-- failed, with every attempt of its calls; JUnit that validates against
-- the schema CI servers read (spec/support/junit.xsd, with xmllint), TAP
-- that Perl's TAP::Parser reads, JSON whose attempts are the --log's.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local q, BIN = common.quote, common.quote(common.BIN)

local function slurp(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Runs body as a script with args, asking for every report (and a log);
-- returns the exit code, what it printed, and the reports' texts by
-- format (plus "log").
local function reported(body, args, options)
  local path = common.write_script(body)
  local files = {junit = os.tmpname(), tap = os.tmpname(),
                 json = os.tmpname(), log = os.tmpname()}
  local argv = {}
  for _, a in ipairs(args or {}) do argv[#argv + 1] = q(a) end
  local code, out = common.sh(("%s --report junit=%s --report tap=%s "
    .. "--report json=%s --log %s %s %s %s"):format(BIN, files.junit,
    files.tap, files.json, files.log, options or "", q(path),
    table.concat(argv, " ")))
  os.remove(path)
  local texts = {}
  for k, f in pairs(files) do
    texts[k] = slurp(f)
    os.remove(f)
  end
  return code, out, texts
end

-- The cases of a JSON report, by name.
local function cases(json)
  local r = todo.decode(json)
  local by = {}
  for _, c in ipairs(r.cases) do by[c.name] = c end
  return by, r
end

-- xmllint's verdict on text against the JUnit schema: exit code, output.
local function validate(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  local code, out = common.sh("xmllint --noout --schema "
    .. "spec/support/junit.xsd " .. q(path))
  os.remove(path)
  return code, out
end

-- TAP::Parser's reading of text: a line per test ("ok|not ok<TAB>desc"),
-- then "plan N", "parse_errors K".
local function tap_parse(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  local _, out = common.sh("perl -MTAP::Parser -e '" .. [[
    open(my $f, "<", $ARGV[0]) or die;
    my $p = TAP::Parser->new({tap => do { local $/; <$f> }});
    while (my $r = $p->next) {
      print(($r->is_ok ? "ok" : "not ok"), "\t", $r->description, "\n")
        if $r->is_test;
    }
    print "plan ", $p->tests_planned, "\n";
    print "parse_errors ", scalar($p->parse_errors), "\n";
  ]] .. "' " .. q(path))
  os.remove(path)
  return out
end

local HEAD = [[
  local http = require "retryrun.http"
  local run = require "retryrun.run"
  local A = {Authorization = "Bearer alice-secret"}
  local R = {attempts = 30, backoff = {initial = 0.001, max = 0.002}}
  local function get(url) return http.get(url, {headers = A, retry = R}) end
]]

describe("run.step", function()
  it("returns fn's results and raises its error unchanged", function()
    local code, out = common.run([[
      local run = require "retryrun.run"
      print(run.step("a", function(x, y) return x + y, "two" end, 1, 2))
      local e = {}
      local ok, err = pcall(run.step, "b", function() error(e) end)
      print(ok, err == e)
      print(select("#", run.step("c", function() end)))
      print(pcall(run.step, 1, print))
      print(pcall(run.step, "d"))
      print(pcall(run.step, "", print))
    ]])
    assert.equal(0, code)
    assert.equal("3\ttwo\nfalse\ttrue\n0\n" ..
      "false\tbad argument #1 to 'step' (string expected, got number)\n" ..
      "false\tbad argument #2 to 'step' (function expected, got nil)\n" ..
      "false\tbad argument #1 to 'step' (a name is needed, got '')\n",
      out)
  end)
end)

describe("--report", function()
  it("marks steps passed, flaky (after retries) and failed; exit code as "
     .. "without it", function()
    local clean <close> = todo.start{}
    local faulty <close> = todo.start{"--fail-rate", "0.5", "--seed", "3"}
    local code, out, r = reported(HEAD .. [[
      run.step("clean", function() for i = 1, 3 do get(arg[1] .. "/items") end end)
      run.step("faulty", function()
        for i = 1, 10 do get(arg[2] .. "/items") end
      end)
      print(pcall(run.step, "broken", function()
        get(arg[1] .. "/items")
        http.get("http://127.0.0.1:1/refused", {retry = {attempts = 2,
          backoff = {initial = 0.001}}})
      end))
    ]], {clean.url, faulty.url})
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.equal(1, all.v)
    assert.equal(3, all.tests)
    assert.same({1, 1, 1}, {all.passed, all.flaky, all.failed})
    assert.equal("passed", by.clean.status)
    assert.equal(3, #by.clean.calls)
    assert.equal("flaky", by.faulty.status)
    local retries = 0
    for _, c in ipairs(by.faulty.calls) do
      assert.equal("ok", c.outcome)
      retries = retries + c.attempts - 1
    end
    assert.equal(faulty:stats().requests - 10, retries)
    assert.equal(retries, by.faulty.retries)
    assert.equal("failed", by.broken.status)
    assert.equal("gave_up", by.broken.error.type)
    assert.matches("^GET http://127%.0%.0%.1:1/refused gave up after 2 "
                   .. "attempts", by.broken.error.message)
    local last = by.broken.calls[2]
    assert.same({"gave_up", "exhausted", 2, "connect", "retry", "backoff",
                 "giveup"},
      {last.outcome, last.reason, last.attempts, last.history[1].error,
       last.history[1].decision, last.history[1].wait_cause,
       last.history[2].decision})
    -- the JUnit file says the same
    assert.equal(0, (validate(r.junit)))
    assert.matches('<testcase name="faulty"[^>]*>%s*<system%-out>flaky: '
                   .. 'passed after ' .. retries .. ' retr', r.junit)
    -- the status attribute tells a flaky case apart; its name stays
    assert.matches('<testcase name="faulty" classname="[^"]*" time="[%d.]+" '
                   .. 'status="flaky">', r.junit)
    assert.matches('<testcase name="clean" classname="[^"]*" time="[%d.]+" '
                   .. 'status="passed">', r.junit)
    assert.matches('<testcase name="broken" classname="[^"]*" time="[%d.]+" '
                   .. 'status="failed">', r.junit)
    assert.matches('<testcase name="broken"[^>]*>%s*<failure message="GET '
                   .. 'http://127%.0%.0%.1:1/refused gave up[^"]*" '
                   .. 'type="gave_up">', r.junit)
    assert.equal(1, common.count(r.junit, "<failure "))
    assert.matches('tests="3" failures="1"', r.junit)
    -- and the TAP
    assert.equal("ok\t- clean\nok\t- faulty # flaky: " .. retries ..
                 " retries\nnot ok\t- broken\nplan 3\nparse_errors 0\n",
                 tap_parse(r.tap))
  end)

  it("names nested steps by path, and gives each call to the innermost",
     function()
    local srv <close> = todo.start{}
    local code, out, r = reported(HEAD .. [[
      run.step("outer", function()
        get(arg[1] .. "/items")
        run.step("inner", function()
          get(arg[1] .. "/items?in=1")
          run.step("deepest", function() get(arg[1] .. "/items?in=2") end)
        end)
      end)
    ]], {srv.url})
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.equal(3, all.tests)
    local o, i, d = by.outer, by["outer / inner"],
                    by["outer / inner / deepest"]
    assert.same({"step", "step", "step"}, {o.kind, i.kind, d.kind})
    assert.is_nil(o.parent)
    assert.equal(o.step, i.parent)
    assert.equal(i.step, d.parent)
    assert.equal(1, #o.calls)
    assert.matches("/items$", o.calls[1].request)
    assert.matches("/items%?in=1$", i.calls[1].request)
    assert.matches("/items%?in=2$", d.calls[1].request)
    assert.equal(0, (validate(r.junit)))
    assert.matches('<testcase name="outer / inner / deepest"', r.junit)
  end)

  it("keeps a coroutine's steps to the coroutine, even one abandoned",
     function()
    local srv <close> = todo.start{}
    local code, out, r = reported(HEAD .. [[
      local co = coroutine.wrap(function()
        run.step("in co", function()
          coroutine.yield()
          get(arg[1] .. "/items?co=1")
          coroutine.yield()
        end)
      end)
      run.step("outer", function()
        co()                              -- "in co" begins, then yields
        get(arg[1] .. "/items?outer=1")
        run.step("inner", function() co() end)   -- "in co" goes on
      end)
      run.step("after", function() end)   -- "in co" never ends
    ]], {srv.url})
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.same({"after", "outer", "outer / in co", "outer / inner"},
                 (function()
                   local t = {}
                   for n in pairs(by) do t[#t + 1] = n end
                   table.sort(t)
                   return t
                 end)())
    assert.equal(4, all.tests)
    assert.matches("outer=1$", by.outer.calls[1].request)
    assert.matches("co=1$", by["outer / in co"].calls[1].request)
    assert.equal(0, #by["outer / inner"].calls)
    assert.same({"failed", "did not finish"}, {by["outer / in co"].status,
                 by["outer / in co"].error.message})
    assert.same({"passed", "passed"}, {by.outer.status, by.after.status})
    assert.is_nil(by.after.parent)
  end)

  it("cuts long step names, so deep paths of them stay small", function()
    local code, out, r = reported([[
      local run = require "retryrun.run"
      local long = ("\u{e9}"):rep(50000)      -- 100 KB, 2 bytes a char
      local function nest(k)
        if k > 0 then run.step(k .. long, nest, k - 1) end
      end
      nest(30)
    ]])
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.equal(30, all.tests)
    local cut = ("\u{e9}"):rep(125) .. "..."   -- "30" and 125 chars: 254
    assert.truthy(by["30" .. cut], "the outermost")
    assert.truthy(by["30" .. cut .. " / 29" .. cut], "the second")
    local cut1 = ("\u{e9}"):rep(126) .. "..."   -- 1 digit, 126 chars: 256
    assert.truthy(by["... / 3" .. cut1 .. " / 2" .. cut1 .. " / 1" .. cut1],
                  "the innermost, its path started again at 28")
    for name in pairs(by) do
      assert.is_true(#name <= 1024, #name)
    end
    assert.is_true(#r.json < 200000, #r.json)
    assert.equal(0, (validate(r.junit)))
  end)

  it("writes a NUL in a step's name as '?', losing nothing after it",
     function()
    local code, out, r = reported([[
      require("retryrun.run").step("a\0b", function() end)
    ]])
    assert.equal(0, code, out)
    local by = cases(r.json)
    assert.truthy(by["a?b"])
  end)

  it("reports steps inside run.map, each in its own task", function()
    local srv <close> = todo.start{"--fail-rate", "0.3", "--seed", "8"}
    local code, out, r = reported(HEAD .. [[
      run.step("load", function()
        get(arg[1] .. "/items")
        run.map({1, 2, 3, 4, 5, 6}, function(n)
          return run.step("item " .. n, function()
            return get(arg[1] .. "/items?n=" .. n).status
          end)
        end, {concurrency = 3})
      end)
    ]], {srv.url})
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.equal(7, all.tests)
    local attempts = 0
    for n = 1, 6 do
      local c = by["load / item " .. n]
      assert.equal(by.load.step, c.parent)
      assert.is_true(c.task > 1)               -- a run.map worker
      assert.equal(1, #c.calls)
      assert.matches("/items%?n=" .. n .. "$", c.calls[1].request)
      assert.equal(c.calls[1].attempts > 1 and "flaky" or "passed", c.status)
      attempts = attempts + c.calls[1].attempts
    end
    assert.equal(1, #by.load.calls)            -- its own call only
    attempts = attempts + by.load.calls[1].attempts
    assert.equal(srv:stats().requests, attempts)
    assert.equal(0, (validate(r.junit)))
  end)

  it("costs under a KiB a call that made one attempt", function()
    if common.BUILD:find("asan", 1, true) then
      -- a sanitizer build holds freed memory back: peaks say nothing
      pending("not measured under a sanitizer")
      return
    end
    local srv <close> = todo.start{}
    local path = common.write_script(HEAD .. [[
      for i = 1, 4000 do get(arg[1] .. "/items?i=" .. i) end
      for l in io.lines("/proc/self/status") do
        local kb = l:match("^VmHWM:%s*(%d+) kB")
        if kb then print(kb) end
      end
    ]])
    local peak = {}
    for _, opts in ipairs{"", "--report json=/dev/null"} do
      local code, out = common.sh(("%s %s %s %s"):format(BIN, opts, q(path),
                                                         q(srv.url)))
      assert.equal(0, code, out)
      peak[#peak + 1] = tonumber(out:match("^(%d+)\n$"))
    end
    os.remove(path)
    -- under 1 KiB a call (it was 4.6 KiB); peaks of a loaded machine move
    -- by a few hundred KiB, so the bound is not tighter
    assert.is_true(peak[2] - peak[1] < 4000,           -- KiB
                   ("%d KiB more with the report"):format(peak[2] - peak[1]))
  end)

  it("without steps, makes a case per task that made a call or failed",
     function()
    local srv <close> = todo.start{}
    local code, out, r = reported(HEAD .. [[
      local a = run.spawn(function() get(arg[1] .. "/items?t=a") end)
      local b = run.spawn(function()
        get(arg[1] .. "/items?t=b")
        error("b stops here")
      end)
      a:wait()
      print(pcall(b.wait, b))
    ]], {srv.url})
    assert.equal(0, code, out)
    local by, all = cases(r.json)
    assert.equal(2, all.tests)
    assert.same({"task", 2, "passed"}, {by["task 2"].kind, by["task 2"].task,
                                       by["task 2"].status})
    assert.matches("t=a$", by["task 2"].calls[1].request)
    assert.equal("failed", by["task 3"].status)
    assert.matches("b stops here$", by["task 3"].error.message)
    assert.equal(0, (validate(r.junit)))
    assert.equal("ok\t- task 2\nnot ok\t- task 3\nplan 2\nparse_errors 0\n",
                 tap_parse(r.tap))
  end)

  it("fails the case of a run.map worker whose item raised", function()
    local srv <close> = todo.start{}
    local code, out, r = reported(HEAD .. [[
      print(pcall(run.map, {1, 2}, function(i)
        get(arg[1] .. "/items?i=" .. i)
        if i == 2 then error("item 2 stops here") end
      end, {concurrency = 2}))
    ]], {srv.url})
    assert.equal(0, code, out)
    local by = cases(r.json)
    assert.equal("passed", by["task 2"].status)
    assert.equal("failed", by["task 3"].status)
    assert.matches("item 2 stops here$", by["task 3"].error.message)
    assert.equal("ok\t- task 2\nnot ok\t- task 3\nplan 2\nparse_errors 0\n",
                 tap_parse(r.tap))
  end)

  it("holds as many attempts as the --log, call by call", function()
    local srv <close> = todo.start{"--fail-rate", "0.4", "--seed", "21"}
    local code, out, r = reported(HEAD .. [[
      run.step("one", function()
        for i = 1, 8 do pcall(http.get, arg[1] .. "/items", {headers = A,
          retry = {attempts = 3, backoff = {initial = 0.001}}}) end
      end)
      for i = 1, 4 do get(arg[1] .. "/items") end
    ]], {srv.url})
    assert.equal(0, code, out)
    local logged, calls = {}, 0
    for line in r.log:gmatch("[^\n]+") do
      local rec = todo.decode(line)
      if rec.event == "attempt" then
        logged[rec.call] = (logged[rec.call] or 0) + 1
      end
    end
    local by = cases(r.json)
    for _, c in pairs(by) do
      for _, k in ipairs(c.calls) do
        calls = calls + 1
        assert.equal(logged[k.call], k.attempts)
        assert.equal(logged[k.call], #k.history)
        for n, a in ipairs(k.history) do assert.equal(n, a.attempt) end
      end
    end
    assert.equal(12, calls)
    assert.equal(4, #by["task 1"].calls)        -- calls outside any step
  end)

  it("shows no secret of a URL, a header, an error or a step name",
     function()
    local srv <close> = todo.start{"--fail-rate", "0.5", "--seed", "4"}
    local code, out, r = reported(HEAD .. [[
      local H = {Authorization = "Bearer alice-secret",
                 ["X-Api-Key"] = "hdr-s3cret-value"}
      run.step("login " .. arg[1] .. "/?token=name-s3cret", function()
        http.get(arg[1] .. "/items?api_key=query-s3cret", {headers = H,
          retry = R})
      end)
      run.step("fails", function()
        error("failed at " .. arg[1] .. "/x?password=error-s3cret")
      end)
    ]], {srv.url})
    assert.equal(1, code, out)
    for _, fmt in ipairs{"junit", "tap", "json"} do
      for _, s in ipairs{"name-s3cret", "query-s3cret", "hdr-s3cret-value",
                         "alice-secret", "error-s3cret"} do
        assert.is_nil(r[fmt]:find(s, 1, true), fmt .. " shows " .. s)
      end
      assert.truthy(r[fmt]:find("password=REDACTED", 1, true), fmt)
    end
  end)

  it("writes JUnit that validates whatever an error holds", function()
    local code, out, r = reported([[
      local run = require "retryrun.run"
      run.step('quotes " & <tags> \t', function() end)
      pcall(run.step, "bytes", function()
        error("ctl \1\27 bad \255\254 utf8 \237\160\128 <&>\"'", 0)
      end)
      pcall(run.step, "table", function() error({code = 7}) end)
      pcall(run.step, "nul\0name", function() error("a\0b c", 0) end)
    ]])
    assert.equal(0, code, out)
    local rc, why = validate(r.junit)
    assert.equal(0, rc, why)
    assert.equal("a?b c", cases(r.json)["nul?name"].error.message)
    assert.matches('message="ctl %?%? bad %?%? utf8 %?%?%? &lt;&amp;&gt;'
                   .. '&quot;\'"', r.junit)
    assert.matches('message="%(an error object: table%)"', r.junit)
    local by = cases(r.json)
    assert.equal("ctl ?? bad ?? utf8 ??? <&>\"'", by.bytes.error.message)
    assert.equal("plan 4\nparse_errors 0\n", tap_parse(r.tap):match(
      "plan.*"))
  end)

  it("is written, with the summary, when the script calls os.exit",
     function()
    local srv <close> = todo.start{}
    local sum = os.tmpname()
    for _, exit in ipairs{"os.exit(5)", "os.exit(false, true)",
                          "os.exit(true)"} do
      local code, out, r = reported(HEAD .. [[
        run.step("outer", function()
          get(arg[1] .. "/items")
          run.step("leaving", function() ]] .. exit .. [[ end)
        end)
      ]], {srv.url}, "--summary-json " .. q(sum) .. " --fail-if 'calls > 0'")
      assert.equal(exit == "os.exit(true)" and 4 or exit == "os.exit(5)"
                   and 5 or 1, code, out)
      local by, all = cases(r.json)
      assert.equal(2, all.tests, exit)
      assert.equal("did not finish", by["outer / leaving"].error.message)
      assert.equal(1, #by.outer.calls)
      assert.equal(0, (validate(r.junit)))
      assert.equal(2, common.count(r.log, '"event":"attempt"') +
                      common.count(r.log, '"event":"call"'))
      assert.equal(1, todo.decode(slurp(sum)).calls)
      os.remove(sum)
    end
  end)

  it("is written when the script fails, with what was done", function()
    local srv <close> = todo.start{}
    local code, out, r = reported(HEAD .. [[
      run.step("first", function() get(arg[1] .. "/items") end)
      get(arg[1] .. "/items")
      error("the script stops")
    ]], {srv.url})
    assert.equal(1, code)
    assert.matches("the script stops", out)
    local by, all = cases(r.json)
    assert.equal(2, all.tests)
    assert.equal("passed", by.first.status)
    assert.equal("failed", by["task 1"].status)
    assert.matches("the script stops$", by["task 1"].error.message)
    assert.equal(1, #by["task 1"].calls)
  end)

  it("is written when the run is interrupted", function()
    local marker, report = os.tmpname(), os.tmpname()
    os.remove(marker)
    local path = common.write_script(([[
      local run = require "retryrun.run"
      run.step("done", function() end)
      run.step("waits", function()
        io.open(%q, "w"):close()
        run.sleep(60)
      end)
    ]]):format(marker))
    local code = common.sh(("%s --report json=%s %s & p=$!; i=0; "
      .. "while [ ! -e %s ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); "
      .. "done; kill -INT $p; wait $p"):format(BIN, report, q(path), marker))
    local by = cases(slurp(report))
    os.remove(path); os.remove(marker); os.remove(report)
    assert.equal(130, code)
    assert.equal("passed", by.done.status)
    assert.equal("failed", by.waits.status)
    assert.matches(":5: interrupted$", by.waits.error.message)
  end)

  it("says which report it cannot write, exits 1, and loses nothing else",
     function()
    local json, sum = os.tmpname(), os.tmpname()
    local code, out = common.sh(("%s --report junit=/dev/full "
      .. "--report json=%s --summary-json %s -e %s"):format(BIN, json, sum,
      q('require("retryrun.run").step("s", print, "still here")')))
    local by = cases(slurp(json))
    local s = slurp(sum)
    os.remove(json); os.remove(sum)
    assert.equal(1, code)
    assert.equal("still here\nretryrun: cannot write the junit report "
                 .. "'/dev/full': No space left on device\n", out)
    assert.equal("passed", by.s.status)
    assert.matches('^{"v":1,', s)
  end)

  it("refuses a report it could never write before running anything",
     function()
    local code, out = common.sh(("%s --report junit=/nonexistent/r.xml -e %s"
      .. " 2>&1"):format(BIN, q('print("ran")')))
    assert.equal(2, code)
    assert.equal("retryrun: cannot write the junit report "
                 .. "'/nonexistent/r.xml': No such file or directory\n", out)
  end)

  it("writes to stdout with -", function()
    local code, out = common.sh(BIN .. " --report tap=- -e "
      .. q('require("retryrun.run").step("s", function() end)'))
    assert.equal(0, code)
    assert.matches("^TAP version 13\n1..1\nok 1 %- s\n", out)
  end)

  it("names the suite after the script, its cases' class without .lua",
     function()
    local path = os.tmpname() .. "-flow.lua"
    local f = assert(io.open(path, "w"))
    f:write('pcall(require("retryrun.run").step, "s", error, 42)\n')
    f:close()
    local code, out = common.sh(BIN .. " --report junit=- " .. q(path))
    local _, json = common.sh(BIN .. " --report json=- -e " .. q(
      'require("retryrun.run").step("s", function() end)'))
    os.remove(path)
    assert.equal(0, code)
    local name = path:match("[^/]+$")
    assert.matches('<testsuite name="' .. name:gsub("%p", "%%%0") .. '"',
                   out)
    assert.matches('<testcase name="s" classname="'
                   .. name:gsub("%.lua$", ""):gsub("%p", "%%%0") .. '"', out)
    assert.matches('<failure message="42" type="error">', out)
    assert.matches('^{"v":1,"name":"command line",', json)
  end)

  it("refuses two outputs into one file, or onto stdout, as a usage "
     .. "error", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. q(dir)))
    local f = dir .. "/out"
    local cases_ = {
      {"--report junit=%s --report tap=%s",
       "--report junit=%s and --report tap=%s both write to the same file"},
      {"--report json=%s --log %s",
       "--log %s and --report json=%s both write to the same file"},
      {"--summary-json %s --report json=" .. dir .. "/./out",
       "--summary-json %s and --report json=" .. dir .. "/./out both "
       .. "write to the same file"},
      {"--log - --report json=-",
       "--log - and --report json=- both write to stdout"},
      {"--report json=- --summary-json -",
       "--summary-json - and --report json=- both write to stdout"},
    }
    for _, c in ipairs(cases_) do
      local opts = c[1]:gsub("%%s", f)
      local code, out = common.sh(("%s %s -e 'print(1)'"):format(BIN, opts))
      assert.equal(2, code, opts)
      assert.equal(("retryrun: %s\nTry 'retryrun --help' for more "
                    .. "information.\n"):format((c[2]:gsub("%%s", f))), out)
      assert.is_nil(io.open(f), opts)
    end
    local code, out = common.sh(("%s --summary-json - -e ''"):format(BIN))
    assert.equal(0, code)
    assert.matches('^{"v":1,', out)
    os.remove(dir)
  end)

  it("refuses an unknown format or a missing file as a usage error",
     function()
    local code, out = common.sh(BIN .. " --report xml=r.xml -e ''")
    assert.equal(2, code)
    assert.matches("^retryrun: %-%-report: unknown format 'xml' %(known: "
                   .. "junit, tap, json%)\n", out)
    code, out = common.sh(BIN .. " --report junit -e ''")
    assert.equal(2, code)
    assert.matches("^retryrun: %-%-report takes FORMAT=FILE", out)
    code, out = common.sh(BIN .. " --report")
    assert.equal(2, code)
    assert.matches("^retryrun: option '%-%-report' needs a value", out)
  end)
end)
