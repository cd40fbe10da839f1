-- retryrun get|post|... URL [FLAGS]: one call without a script, curl's
-- flags, the body on stdout, the trace on stderr, a script's exit codes.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local quote = common.quote

-- Reads and removes file path.
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

-- Runs retryrun with args (each quoted); returns the exit code, stdout
-- and stderr, apart.
local function oneliner(args)
  local out, err = os.tmpname(), os.tmpname()
  local argv = {quote(common.BIN)}
  for _, a in ipairs(args) do argv[#argv + 1] = quote(a) end
  local code = common.sh(("%s >%s 2>%s"):format(table.concat(argv, " "),
                                                quote(out), quote(err)))
  return code, slurp(out), slurp(err)
end

-- The request /_echo saw, from the body it answered with.
local function echoed(body)
  return todo.decode(body)
end

describe("retryrun VERB URL", function()
  local srv

  setup(function()
    srv = todo.start{}
  end)

  teardown(function()
    srv:stop()
  end)

  it("retries a flaky server and prints the body, each retry on -v",
     function()
    local flaky <close> = todo.start{"--fail-rate", "0.3", "--seed", "4"}
    local code, out, err = oneliner{"--seed", "1", "get",
      flaky.url .. "/_echo", "--retry-on", "5xx", "--attempts", "5"}
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("GET", echoed(out).method)
    assert.equal("}", out:sub(-1))          -- no newline added
    flaky:reset_stats()
    local retried = 0
    for _ = 1, 8 do
      code, out, err = oneliner{"--seed", "1", "get", flaky.url .. "/_echo",
        "--retry-on", "5xx", "--attempts", "5", "-v"}
      assert.equal(0, code)
      assert.equal("GET", echoed(out).method)
      for l in err:gmatch("[^\n]+") do
        assert.matches("^%[ *%d+%.%d+%] task 1  GET http://127%.0%.0%.1:%d+"
                       .. "/_echo  attempt %d  %d+  %d+ ms  ", l)
        if l:find("  retry in [%d.e-]+ s: 500$") then
          retried = retried + 1
        end
      end
    end
    -- every attempt the server saw has its line, retries among them
    assert.is_true(retried > 0)
    assert.equal(flaky:stats().requests, 8 + retried)
  end)

  it("takes the trace flag before the verb too", function()
    local code, out, err = oneliner{"-v", "get", srv.url .. "/_echo"}
    assert.equal(0, code)
    assert.equal("GET", echoed(out).method)
    assert.matches("attempt 1  200  %d+ ms  accept\n$", err)
  end)

  it("sends -H headers and a -d body", function()
    local code, out, err = oneliner{"put", srv.url .. "/_echo", "-H",
      "X-One: 1", "-H", "X-Two:  two ", "-d", "a=b&c=d"}
    assert.equal("", err)
    assert.equal(0, code)
    local e = echoed(out)
    assert.equal("PUT", e.method)
    assert.equal("1", e.headers["X-One"])
    assert.equal("two", e.headers["X-Two"])
    assert.equal("application/x-www-form-urlencoded",
                 e.headers["Content-Type"])
    assert.equal("a=b&c=d", e.body)
    -- a value that looks like the trace flag is a value
    code, out, err = oneliner{"post", srv.url .. "/_echo", "-d", "-v"}
    assert.equal(0, code)
    assert.equal("", err)
    assert.equal("-v", echoed(out).body)
  end)

  it("sends --json text and --json @file as JSON", function()
    local code, out = oneliner{"post", srv.url .. "/_echo", "--json",
      '{"a":1}'}
    assert.equal(0, code)
    local e = echoed(out)
    assert.equal("POST", e.method)
    assert.equal('{"a":1}', e.body)
    assert.equal("application/json", e.headers["Content-Type"])
    assert.equal("application/json", e.headers["Accept"])
    local path = common.write_script('{"from":"file"}')
    code, out = oneliner{"patch", srv.url .. "/_echo", "--json", "@" .. path}
    os.remove(path)
    assert.equal(0, code)
    e = echoed(out)
    assert.equal("PATCH", e.method)
    assert.equal('{"from":"file"}', e.body)
    code, out, e = oneliner{"post", srv.url .. "/_echo", "--json",
      "@/nonexistent/x.json"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun post: --json: cannot read /nonexistent/x.json: "
                 .. "No such file or directory\nTry 'retryrun post --help' "
                 .. "for more information.\n", e)
  end)

  it("refuses an @file it cannot read whole (2), sending nothing", function()
    local before = todo.decode(select(2, oneliner{"get", srv.url .. "/_stats"}))
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. quote(dir)))
    local cases = {
      {{"-d", "@" .. dir}, "-d: cannot read " .. dir .. ": Is a directory"},
      {{"--json", "@/dev/zero"}, "--json: /dev/zero holds more than 64 MiB"},
    }
    for _, c in ipairs(cases) do
      local code, out, err = oneliner{"post", srv.url .. "/_echo", c[1][1],
                                      c[1][2]}
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("retryrun post: " .. c[2] .. "\nTry 'retryrun post "
                   .. "--help' for more information.\n", err)
    end
    os.remove(dir)
    local after = todo.decode(select(2, oneliner{"get", srv.url .. "/_stats"}))
    assert.equal(before.requests, after.requests)   -- /_stats counts none
    -- an empty file is an empty body
    local empty = os.tmpname()
    local code, out = oneliner{"post", srv.url .. "/_echo", "-d", "@" .. empty}
    os.remove(empty)
    assert.equal(0, code)
    assert.equal("", echoed(out).body)
  end)

  it("writes the body to -o FILE", function()
    local path = os.tmpname()
    local code, out, err = oneliner{"get", srv.url .. "/_echo", "-o", path}
    assert.equal(0, code)
    assert.equal("", out)
    assert.equal("", err)
    assert.equal("GET", echoed(slurp(path)).method)
  end)

  it("refuses an -o FILE it cannot write before sending anything", function()
    local before = srv:stats().requests
    local code, out, err = oneliner{"post", srv.url .. "/_echo", "-d", "x",
                                    "-o", "/nonexistent/body.txt"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun post: -o: cannot write /nonexistent/body.txt: "
                 .. "No such file or directory\nTry 'retryrun post --help' "
                 .. "for more information.\n", err)
    assert.equal(before, srv:stats().requests)
  end)

  it("leaves no -o FILE behind when the call gives up", function()
    local path = os.tmpname()
    os.remove(path)
    local code = oneliner{"get", "http://127.0.0.1:1/", "--attempts", "1",
                          "-o", path}
    assert.equal(3, code)
    assert.is_nil(io.open(path, "rb"))
  end)

  it("refuses --summary-json, --log or --report to stdout beside the body",
     function()
    for _, opt in ipairs{{"--summary-json", "-"}, {"--log", "-"},
                         {"--report", "json=-"}} do
      local code, out, err = oneliner{opt[1], opt[2], "get",
                                      srv.url .. "/_stats"}
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("retryrun: the one-liner's body and " .. opt[1] .. " "
        .. opt[2] .. " both write to stdout (write the body to a file with "
        .. "-o FILE, or the other to a file)\n", err:match("^[^\n]*\n"))
    end
    -- with -o (or --output=) the body is in a file and stdout is free
    for _, o in ipairs{{"-o", os.tmpname()}, {"--output=" .. os.tmpname()}} do
      local code, out = oneliner{"--summary-json", "-", "get",
                                 srv.url .. "/_stats", o[1], o[2]}
      assert.equal(0, code)
      assert.equal(1, todo.decode(out).calls)
      os.remove(o[2] or o[1]:sub(10))
    end
  end)

  -- stdout by another name, and -o, went unchecked: one output was lost
  it("knows stdout by its other names, and -o's file as an output",
     function()
    for _, name in ipairs{"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"} do
      local code, out, err = oneliner{"--log", name, "get",
                                      srv.url .. "/_stats"}
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("^retryrun: the one%-liner's body and %-%-log " .. name
                     .. " both write to stdout", err)
    end
    local path = os.tmpname()
    for _, opt in ipairs{"--log", "--summary-json"} do
      local code, _, err = oneliner{opt, path, "get", srv.url .. "/_stats",
                                    "-o", path}
      assert.equal(2, code)
      assert.equal(1, err:find("retryrun: -o " .. path .. " and " .. opt
                               .. " " .. path .. " both write to the same "
                               .. "file", 1, true))
    end
    os.remove(path)
  end)

  it("says what to write for a curl flag it has no flag for", function()
    for flag, hint in pairs{["-f"] = "write --expect 2xx",
                            ["--retry"] = "curl's --retry N is --attempts "
                                          .. "N+1 here",
                            ["-L"] = "redirects are always followed",
                            ["-sS"] = "not needed: only the body goes to "
                                      .. "stdout"} do
      local code, out, err = oneliner{"get", srv.url .. "/_echo", flag}
      assert.equal(2, code)
      assert.equal("", out)
      local want = ("retryrun get: unknown option '%s': %s"):format(flag,
                                                                   hint)
      assert.equal(want, err:sub(1, #want))
    end
  end)

  it("names its --report case after the request, redacted", function()
    local path = os.tmpname()
    local code = oneliner{"--report", "json=" .. path, "get",
                          srv.url .. "/_echo?token=tok-s3cret", "-o",
                          "/dev/null"}
    assert.equal(0, code)
    local report = todo.decode(slurp(path))
    assert.equal(1, #report.cases)
    assert.equal("GET " .. srv.url .. "/_echo?token=REDACTED",
                 report.cases[1].name)
    assert.equal("passed", report.cases[1].status)
  end)

  it("prints the status line and headers first with -i", function()
    local code, out = oneliner{"get", srv.url .. "/_echo", "-i"}
    assert.equal(0, code)
    local head, body = out:match("^(.-)\r\n\r\n(.*)$")
    assert.matches("^HTTP/1%.1 200\r\n", head)
    assert.matches("\r\ncontent%-type: application/json", head)
    assert.equal("GET", echoed(body).method)
  end)

  it("exits 1 with the expect message when --expect fails", function()
    local code, out, err = oneliner{"get", srv.url .. "/nope", "--expect",
      "2xx,304"}
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal(("retryrun: GET %s/nope: expected status 2xx or 304, got "
                  .. "404 {\"error\":\"no such path\"}\n"):format(srv.url),
                 err)
    code = oneliner{"get", srv.url .. "/_echo", "--expect", "200"}
    assert.equal(0, code)
  end)

  it("retries until --valid holds, and gives up (3) when it never does",
     function()
    local code, out = oneliner{"get", srv.url .. "/_echo", "--valid",
      'r:json().method == "GET"'}
    assert.equal(0, code)
    assert.equal("GET", echoed(out).method)
    local err
    srv:reset_stats()
    code, out, err = oneliner{"get", srv.url .. "/_echo", "--valid",
      "false", "--attempts", "2"}
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("^" .. common.literal(("retryrun: GET %s/_echo gave up "
      .. "after 2 attempts in "):format(srv.url)) .. "%d+%.%d s: 200 invalid, "
      .. "200 invalid %(%-%-valid 'false' is false%)\n$", err)
    assert.equal(2, srv:stats().requests)
  end)

  it("refuses a --valid that does not compile, naming it (2)", function()
    local code, out, err = oneliner{"get", srv.url, "--valid", "r:json("}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun get: --valid: cannot compile 'r:json(': --valid:2:"
                 .. " unexpected symbol near 'end'\nTry 'retryrun get --help'"
                 .. " for more information.\n", err)
  end)

  it("exits 3 when a POST gives up, with one idempotency key", function()
    local flaky <close> = todo.start{"--fail-rate", "1"}
    local code, out, err = oneliner{"--seed", "1", "post",
      flaky.url .. "/_echo", "-d", "x", "--retry-on", "500", "--attempts",
      "3", "--idempotency-key"}
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("^retryrun: POST [^\n]* gave up after 3 attempts in "
                   .. "%d+%.%d s: 500, 500, 500\n$", err)
    assert.equal(3, flaky:stats().requests)
  end)

  it("refuses an unknown flag with a suggestion (2)", function()
    local code, out, err = oneliner{"get", srv.url, "--atempts", "3"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun get: unknown option '--atempts' (did you mean "
                 .. "'--attempts'?)\nTry 'retryrun get --help' for more "
                 .. "information.\n", err)
    code, _, err = oneliner{"get", srv.url, "--attempts", "0"}
    assert.equal(2, code)
    assert.equal("retryrun get: --attempts takes a whole number from 1 to "
                 .. "1000 (got '0')\nTry 'retryrun get --help' for more "
                 .. "information.\n", err)
    code, _, err = oneliner{"get", srv.url, "--retry-on", "5xx,bogus"}
    assert.equal(2, code)
    assert.matches("^retryrun get: retry_on: unknown failure class 'bogus'",
                   err)
    code, _, err = oneliner{"get", srv.url, "-H", "Bad Name: x"}
    assert.equal(2, code)
    assert.equal("retryrun get: header name \"Bad Name\" must be a token: "
                 .. "letters, digits and !#$%&'*+-.^_`|~\nTry 'retryrun get "
                 .. "--help' for more information.\n", err)
    code, _, err = oneliner{"get", "ftp://x"}
    assert.equal(2, code)
    assert.matches("^retryrun get: url scheme 'ftp' is not http or https\n",
                   err)
    code, _, err = oneliner{"get"}
    assert.equal(2, code)
    assert.matches("^retryrun get: a URL is needed\n", err)
    code, _, err = oneliner{"get", srv.url, "-H"}
    assert.equal(2, code)
    assert.matches("^retryrun get: option '%-H' needs a value\n", err)
  end)

  it("sends -F fields and files as multipart/form-data", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("file body")
    f:close()
    local code, out, err = oneliner{"put", srv.url .. "/_echo",
      "-F", "tag=a", "-F", "upload=@" .. path .. ";type=text/plain;"
      .. "filename=up.txt", "--form", "tag=b=c"}
    os.remove(path)
    assert.equal("", err)
    assert.equal(0, code)
    local seen = echoed(out)
    assert.equal("PUT", seen.method)
    assert.matches("^multipart/form%-data; boundary=",
                   seen.headers["Content-Type"])
    local order = {}
    for name, filename in seen.body:gmatch('name="([^"]*)"([^\r]*)') do
      order[#order + 1] = name .. filename
    end
    assert.same({"tag", "tag", 'upload; filename="up.txt"'}, order)
    assert.truthy(seen.body:find("\r\n\r\na\r\n", 1, true))
    assert.truthy(seen.body:find("\r\n\r\nb=c\r\n", 1, true))
    assert.truthy(seen.body:find("Content-Type: text/plain\r\n\r\n"
                                 .. "file body\r\n", 1, true))
  end)

  it("refuses a -F it cannot send (2)", function()
    local cases = {
      {{"-F", "novalue"}, "-F takes NAME=VALUE or NAME=@FILE (got "
                          .. "'novalue')"},
      {{"-F", "f=@x;size=1"}, "-F: a file takes ;type= and ;filename= "
                              .. "(got ';size=')"},
      {{"-F", "f=@"}, "-F takes NAME=@FILE[;type=T][;filename=F] (got "
                      .. "'f=@')"},
      {{"-F", "a=1", "-d", "x"}, "give one of -d and --json, once, or -F"},
      {{"-F", "f=@/nonexistent/x"}, "multipart part 'f': cannot read "
                                    .. "/nonexistent/x: No such file or "
                                    .. "directory"},
    }
    for _, c in ipairs(cases) do
      local args = {"post", srv.url .. "/_echo"}
      for _, a in ipairs(c[1]) do args[#args + 1] = a end
      local code, out, err = oneliner(args)
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("retryrun post: " .. c[2] .. "\nTry 'retryrun post "
                   .. "--help' for more information.\n", err)
    end
  end)

  it("asks for a compressed answer with --compressed and writes it "
     .. "decoded", function()
    local code, out = oneliner{"get", srv.url .. "/_gzip?pad=3",
                               "--compressed"}
    assert.equal(0, code)
    local seen = echoed(out)
    assert.equal("xxx", seen.pad)
    assert.truthy(seen.headers["Accept-Encoding"]:find("gzip", 1, true))
    code, out = oneliner{"get", srv.url .. "/_gzip?pad=3"}
    assert.equal(0, code)
    assert.equal("\31\139", out:sub(1, 2))
  end)

  it("prints a repeated header a line a value with -i", function()
    local code, out = oneliner{"get", srv.url .. "/_headers?"
      .. "Set-Cookie=a%3D1%3B%20Expires%3DWed%2C%2021%20Oct%202037&"
      .. "Set-Cookie=b%3D2", "-i"}
    assert.equal(0, code)
    assert.truthy(out:find("\r\nset-cookie: a=1; Expires=Wed, 21 Oct 2037"
                           .. "\r\nset-cookie: b=2\r\n", 1, true), out)
  end)

  it("keeps secrets out of its usage errors", function()
    local code, out, err = oneliner{"get",
      "http://alice:pw-4711@127.0.0.1:1/items?token=tok-4711", "extra"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun get: one URL only (got 'extra' after "
                 .. "'http://REDACTED@127.0.0.1:1/items?token=REDACTED')\n"
                 .. "Try 'retryrun get --help' for more information.\n", err)
    code, _, err = oneliner{"get", srv.url, "-H",
      "Authorization Bearer alice-secret"}
    assert.equal(2, code)
    assert.equal("retryrun get: -H takes 'NAME: VALUE' (got one without "
                 .. "':' that starts 'Authorization')\nTry 'retryrun get "
                 .. "--help' for more information.\n", err)
  end)

  it("refuses an -o FILE it cannot write before making the call",
     function()
    srv:reset_stats()
    local code, out, err = oneliner{"post", srv.url .. "/_echo", "-d", "x",
      "-o", "/nonexistent-dir/out"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun post: -o: cannot write /nonexistent-dir/out: "
                 .. "No such file or directory\nTry 'retryrun post --help' "
                 .. "for more information.\n", err)
    assert.equal(0, srv:stats().requests)
  end)

  it("says where retryrun's own options go when given after the verb",
     function()
    local code, out, err = oneliner{"get", srv.url, "--log", "x.jsonl"}
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("retryrun get: '--log' is retryrun's own option: give it "
                 .. "before the verb (retryrun --log ... get URL)\nTry "
                 .. "'retryrun get --help' for more information.\n", err)
  end)

  it("lists every flag on get --help, and the verbs on --help", function()
    local code, out, err = oneliner{"get", "--help"}
    assert.equal(0, code)
    assert.equal("", err)
    for _, f in ipairs{"--header", "--data", "--json", "--form",
                       "--compressed", "--output", "--include", "--verbose",
                       "--retry-on", "--attempts", "--deadline", "--timeout",
                       "--expect", "--valid", "--idempotency-key",
                       "--help"} do
      assert.truthy(out:find(" " .. f .. " ", 1, true), f)
    end
    code, out = oneliner{"--help"}
    assert.equal(0, code)
    assert.truthy(out:find("get, head, delete, post, put, patch, options",
                           1, true))
  end)
end)
