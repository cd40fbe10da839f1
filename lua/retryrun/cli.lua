--- One HTTP call from the command line, without a script:
-- `retryrun get|head|delete|post|put|patch|options URL [FLAGS...]`.
--
-- The host runs `main` as the main chunk when the first argument after
-- retryrun's own options is a verb. Flags are spelt as curl spells them
-- where curl has them; the call goes through retryrun.http under a policy
-- made from the flags over `retry.default`. The body goes to stdout as it
-- came (no newline added), the trace (`-v`) to stderr; exit codes are a
-- script's: 0 done, 1 an error (an `--expect` that failed), 2 usage, 3 the
-- call gave up. A bad flag prints a usage error and exits with 2.
--
-- @module retryrun.cli
-- @usage retryrun get http://127.0.0.1:8080/items --retry-on 5xx --attempts 5

local http = require "retryrun.http"
local retry = require "retryrun.retry"
local check = require "retryrun.check"
local run = require "retryrun.run"

local cli = {}

local VERBS = {get = "GET", head = "HEAD", delete = "DELETE", post = "POST",
               put = "PUT", patch = "PATCH", options = "OPTIONS"}

-- Every flag: its canonical name, whether it takes a value, and its help.
local FLAGS = {
  {"-H", "--header", "'NAME: VALUE'", "a request header (repeatable)"},
  {"-d", "--data", "DATA", "the request body (@FILE: read from FILE); "
   .. "Content-Type defaults to application/x-www-form-urlencoded"},
  {nil, "--json", "DATA", "the request body as JSON text (@FILE: read "
   .. "from FILE); sets Content-Type and Accept to application/json"},
  {"-F", "--form", "NAME=VALUE", "a multipart/form-data field; "
   .. "NAME=@FILE[;type=T][;filename=F] sends a file (repeatable)"},
  {nil, "--compressed", nil, "ask for a compressed answer (gzip, ...) "
   .. "and write it decoded"},
  {"-o", "--output", "FILE", "write the body (and, with -i, the headers) "
   .. "to FILE instead of stdout"},
  {"-i", "--include", nil, "the status line and response headers before "
   .. "the body"},
  {"-v", "--verbose", nil, "a line on stderr for every attempt (-vv or "
   .. "twice: and the headers sent and received, redacted)"},
  {nil, "--retry-on", "LIST", "what is retried, comma-separated: statuses "
   .. "(503), classes (5xx) and failures (connect, dns, timeout, reset, "
   .. "tls, other)"},
  {nil, "--attempts", "N", "attempts at most, 1 to 1000"},
  {nil, "--deadline", "S", "seconds for every attempt and wait together"},
  {nil, "--timeout", "S", "seconds for one attempt"},
  {nil, "--expect", "LIST", "statuses (200) or classes (2xx), "
   .. "comma-separated: any other final status is an error (exit 1)"},
  {nil, "--valid", "EXPR", "a Lua expression over the response r, e.g. "
   .. "'r:json().state == \"ready\"': a false one is retried"},
  {nil, "--idempotency-key", nil, "send an Idempotency-Key header, the "
   .. "same on every attempt, so a POST or PATCH may be retried"},
  {"-h", "--help", nil, "print this and exit"},
}

-- curl flags retryrun has no flag for -> what to write instead
local CURL = {
  ["--fail"] = "write --expect 2xx (any other final status exits 1)",
  ["-L"] = "redirects are always followed",
  ["--retry"] = "curl's --retry N is --attempts N+1 here (the first "
                .. "included)",
  ["--max-time"] = "write --deadline S (the whole call) or --timeout S "
                   .. "(one attempt)",
  ["-X"] = "the verb is the method: retryrun post URL",
  ["-s"] = "not needed: only the body goes to stdout, and the trace and "
           .. "summary to stderr only when asked (-v, --summary)",
  ["-u"] = "write user:password@ in the URL, or -H 'Authorization: ...'",
}
CURL["-f"], CURL["--fail-with-body"] = CURL["--fail"], CURL["--fail"]
CURL["--location"], CURL["-m"] = CURL["-L"], CURL["--max-time"]
CURL["--request"], CURL["--user"] = CURL["-X"], CURL["-u"]
CURL["--silent"], CURL["-S"], CURL["-sS"] = CURL["-s"], CURL["-s"], CURL["-s"]

-- flag spelling -> its entry; long names -> true, for suggestions
local BY_NAME, LONG_NAMES = {}, {}
for _, f in ipairs(FLAGS) do
  if f[1] then BY_NAME[f[1]] = f end
  BY_NAME[f[2]] = f
  LONG_NAMES[f[2]] = true
end
BY_NAME["-vv"] = BY_NAME["-v"]

-- retryrun's own options (main.c's), which go before the verb: what
-- follows each in the hint
local HOST_OPTIONS = {
  ["-e"] = " ...", ["--seed"] = " N", ["--fake-clock"] = "",
  ["--max-connections"] = " N", ["--max-host-connections"] = " N",
  ["--chaos"] = " ...", ["--color"] = "=...", ["--log"] = " ...",
  ["--summary"] = "", ["--summary-json"] = " ...", ["-q"] = "",
  ["--quiet"] = "", ["--fail-if"] = " ...", ["--report"] = " ...",
  ["--version"] = "",
}

-- Prints msg as a usage error of verb and exits with 2.
local function usage_error(verb, msg)
  io.stderr:write(("retryrun %s: %s\nTry 'retryrun %s --help' for more "
                   .. "information.\n"):format(verb, msg, verb))
  io.stderr:flush()
  os.exit(2)
end

-- The help of verb, on stdout.
local function help(verb)
  local out = {("usage: retryrun [options] %s URL [FLAGS...]\n\n"
                .. "Makes one %s request under a retry policy: the body to "
                .. "stdout, the trace to\nstderr. Exit codes: 0 done, 1 an "
                .. "error, 2 usage, 3 the call gave up,\n4 a --fail-if "
                .. "threshold was broken, 130 interrupted, 143 terminated."
                .. "\n\nflags:\n")
               :format(verb, VERBS[verb])}
  for _, f in ipairs(FLAGS) do
    local name = (f[1] and f[1] .. ", " or "    ") .. f[2] ..
                 (f[3] and " " .. f[3] or "")
    out[#out + 1] = ("  %-28s %s\n"):format(name, f[4])
  end
  out[#out + 1] = "\nretryrun's own options (-v, --seed, --color, ...) go "
                  .. "before the verb; see 'retryrun --help'.\n"
  io.stdout:write(table.concat(out))
end

-- The most -d and --json read from @FILE: a body as large as the default
-- max_body. A file that does not end there (/dev/zero, a pipe that
-- keeps writing) is refused instead of filling memory.
local MAX_FILE_BODY = 64 * 1024 * 1024

-- The contents of FILE for a value written @FILE, else the value.
local function read_value(verb, flag, v)
  if v:sub(1, 1) ~= "@" then return v end
  local path = v:sub(2)
  local f, err = io.open(path, "rb")
  if not f then
    usage_error(verb, ("%s: cannot read %s"):format(flag, err))
  end
  -- nil at the end of an empty file, nil and a message when the read
  -- fails (a directory opens, then cannot be read)
  local data, rerr = f:read(MAX_FILE_BODY + 1)
  f:close()
  if rerr then
    usage_error(verb, ("%s: cannot read %s: %s"):format(flag, path, rerr))
  end
  if data and #data > MAX_FILE_BODY then
    usage_error(verb, ("%s: %s holds more than 64 MiB"):format(flag, path))
  end
  return data or ""
end

-- A positive number of seconds from flag's value, else a usage error.
local function seconds(verb, flag, v)
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == 1 / 0 then
    usage_error(verb, ("%s takes a number of seconds above 0 (got '%s')")
                      :format(flag, v))
  end
  return n
end

-- The comma-separated list v as a table, empty items refused.
local function list(verb, flag, v)
  local t = {}
  for item in (v .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item == "" then
      usage_error(verb, ("%s takes a comma-separated list (got '%s')")
                        :format(flag, v))
    end
    t[#t + 1] = math.tointeger(tonumber(item)) or item
  end
  return t
end

-- The `--expect` list, each entry a status or a class, else a usage error.
local function expect_list(verb, v)
  local t = list(verb, "--expect", v)
  for _, e in ipairs(t) do
    if not (math.type(e) == "integer" and e >= 100 and e <= 599) and
       not (type(e) == "string" and e:match("^[1-5]xx$")) then
      usage_error(verb, ("--expect: '%s' is not a status (200) or a class "
                         .. "(2xx)"):format(e))
    end
  end
  return t
end

-- The `--valid` expression compiled as function(r) return EXPR end.
local function compile_valid(verb, expr)
  local fn, err = load("return function(r) return " .. expr .. "\nend",
                       "=--valid", "t")
  if not fn then
    usage_error(verb, ("--valid: cannot compile '%s': %s"):format(expr,
                                                                err))
  end
  local valid, why = fn(), ("--valid '%s' is false"):format(expr)
  return function(r)
    if valid(r) then return true end
    return false, why      -- the trace and the give-up say which test failed
  end
end

-- "Name: value" as name, value; a usage error without the colon, naming
-- only the first word (the rest may be a credential).
local function header(verb, v)
  local name, value = v:match("^%s*([^:]-)%s*:%s*(.-)%s*$")
  if not name or name == "" then
    usage_error(verb, ("-H takes 'NAME: VALUE' (got one without ':' that "
                       .. "starts '%s')"):format(v:match("^%s*([^%s]*)")
                                                 :sub(1, 40)))
  end
  return name, value
end

-- Adds -F's NAME=VALUE or NAME=@FILE[;type=T][;filename=F] to parts
-- (name -> a value or a list of them, as multipart= takes).
local function form_part(verb, parts, v)
  local name, value = v:match("^([^=]+)=(.*)$")
  if not name then
    usage_error(verb, ("-F takes NAME=VALUE or NAME=@FILE (got '%s')")
                      :format(v))
  end
  if value:sub(1, 1) == "@" then
    local path, rest = value:match("^@([^;]*)(.*)$")
    value = {path = path}
    for k, x in rest:gmatch(";([^=;]*)=([^;]*)") do
      if k ~= "type" and k ~= "filename" then
        usage_error(verb, ("-F: a file takes ;type= and ;filename= (got "
                           .. "';%s=')"):format(k))
      end
      value[k] = x
    end
    if path == "" or rest:gsub(";[^=;]*=[^;]*", "") ~= "" then
      usage_error(verb, ("-F takes NAME=@FILE[;type=T][;filename=F] (got "
                         .. "'%s')"):format(v))
    end
  end
  local had = parts[name]
  if had == nil then
    parts[name] = value
  elseif type(had) == "table" and had[1] then
    had[#had + 1] = value
  else
    parts[name] = {had, value}
  end
end

-- True when headers has name, in any case.
local function has(headers, name)
  for k in pairs(headers) do
    if k:lower() == name:lower() then return true end
  end
  return false
end

-- The error message of a Lua error without its position.
local function message(err)
  return (tostring(err):gsub("^[^:\n]*:%d+: ", ""))
end

--- Parses a one-liner's arguments into a request and its output.
-- @param verb the verb as given ("get")
-- @param args the arguments after the verb
-- @return req (http.request's options), out {file, include}, or nil for
--   --help
-- @raise exits with 2 on a bad flag (the message on stderr)
function cli.parse(verb, args)
  local req = {method = VERBS[verb], headers = {}}
  local fields, out, url = {}, {}, nil
  local body, ctype, accept
  local i, only_args = 1, false
  while i <= #args do
    local a = args[i]
    if only_args or a:sub(1, 1) ~= "-" or a == "-" then
      if url then
        usage_error(verb, ("one URL only (got '%s' after '%s')")
                          :format(http.redact(a), http.redact(url)))
      end
      url = a
    elseif a == "--" then
      only_args = true
    else
      local name, inline = a, nil
      if a:sub(1, 2) == "--" and a:find("=", 1, true) then
        name, inline = a:match("^([^=]*)=(.*)$")
      end
      local f = BY_NAME[name]
      if not f and HOST_OPTIONS[name] then
        usage_error(verb, ("'%s' is retryrun's own option: give it before "
                           .. "the verb (retryrun %s%s %s URL)")
                          :format(name, name, HOST_OPTIONS[name], verb))
      end
      if not f and CURL[name] then
        usage_error(verb, ("unknown option '%s': %s"):format(name,
                                                             CURL[name]))
      elseif not f then
        usage_error(verb, ("unknown option '%s'%s"):format(name,
          name:sub(1, 2) == "--" and check.suggest(name, LONG_NAMES) or ""))
      end
      local v = inline
      if f[3] and not v then
        i = i + 1
        v = args[i]
        if not v then
          usage_error(verb, ("option '%s' needs a value"):format(name))
        end
      elseif not f[3] and v then
        usage_error(verb, ("option '%s' takes no value"):format(name))
      end
      local long = f[2]
      if long == "--help" then
        help(verb)
        return nil
      elseif long == "--header" then
        local k, hv = header(verb, v)
        req.headers[k] = hv
      elseif long == "--data" or long == "--json" then
        if body or req.multipart then
          usage_error(verb, "give one of -d and --json, once, or -F")
        end
        body = read_value(verb, name, v)
        if long == "--json" then
          ctype, accept = "application/json", "application/json"
        else
          ctype = "application/x-www-form-urlencoded"
        end
      elseif long == "--form" then
        if body then
          usage_error(verb, "give one of -d and --json, once, or -F")
        end
        req.multipart = req.multipart or {}
        form_part(verb, req.multipart, v)
      elseif long == "--compressed" then
        req.compressed = true
      elseif long == "--output" then
        out.file = v
      elseif long == "--include" then
        out.include = true
      elseif long == "--retry-on" then
        fields.retry_on = list(verb, name, v)
      elseif long == "--attempts" then
        local n = math.tointeger(tonumber(v))
        if not n or n < 1 or n > 1000 then
          usage_error(verb, ("--attempts takes a whole number from 1 to "
                             .. "1000 (got '%s')"):format(v))
        end
        fields.attempts = n
      elseif long == "--deadline" then
        fields.deadline = seconds(verb, name, v)
      elseif long == "--timeout" then
        req.timeout = seconds(verb, name, v)
      elseif long == "--expect" then
        req.expect = expect_list(verb, v)
      elseif long == "--valid" then
        fields.valid = compile_valid(verb, v)
      elseif long == "--idempotency-key" then
        fields.idempotency_key = true
      end
      -- --verbose: the host turned the trace on before this ran
    end
    i = i + 1
  end
  if not url then
    usage_error(verb, "a URL is needed")
  end
  if out.file then
    -- refused before anything is sent: a POST must not be made for a body
    -- that has nowhere to go; a file made only to try is removed again
    local existed = io.open(out.file, "rb")
    if existed then existed:close() end
    local f, err = io.open(out.file, "ab")
    if not f then
      usage_error(verb, ("-o: cannot write %s"):format(err))
    end
    f:close()
    if not existed then os.remove(out.file) end
  end
  req.url = url
  if body then
    req.body = body
    if not has(req.headers, "Content-Type") then
      req.headers["Content-Type"] = ctype
    end
    if accept and not has(req.headers, "Accept") then
      req.headers.Accept = accept
    end
  end
  local ok, policy = pcall(retry.default.extend, retry.default, fields)
  if not ok then
    usage_error(verb, message(policy))
  end
  req.retry = policy
  return req, out
end

-- "HTTP/1.1 200\r\n" and the headers, sorted by name (a repeated one a
-- line a value, in the order they came), then an empty line.
local function head_text(resp)
  local names = {}
  for k in pairs(resp.headers) do names[#names + 1] = k end
  table.sort(names)
  local t = {("HTTP/1.1 %d\r\n"):format(resp.status)}
  for _, k in ipairs(names) do
    for _, v in ipairs(resp:header_list(k)) do
      t[#t + 1] = ("%s: %s\r\n"):format(k, v)
    end
  end
  t[#t + 1] = "\r\n"
  return table.concat(t)
end

--- Runs a one-liner: `main("get", URL, flags...)`.
-- @param verb one of get, head, delete, post, put, patch, options
-- @param ... the URL and the flags, in any order
-- @raise the call's error: an expect error (exit 1) or a give-up (exit 3);
--   exits with 2 when retryrun.http refuses the request the flags made
function cli.main(verb, ...)
  local req, out = cli.parse(verb, {...})
  if not req then return end
  -- a step named after the request: a --report case says what was called
  local ok, resp = pcall(run.step, req.method .. " " .. req.url,
                         http.request, req)
  if not ok and type(resp) == "string" then
    -- a give-up and an expect error are tables: a string is
    -- retryrun.http refusing the request the flags made, before any attempt
    usage_error(verb, message(resp))
  elseif not ok then
    -- the message says it all: a traceback of retryrun's own code is
    -- noise; a traceback field that is not a string is neither filled in
    -- nor printed by the host
    if type(resp) == "table" then
      pcall(function() resp.traceback = false end)
    end
    error(resp, 0)
  end
  local f = io.stdout
  if out.file then
    local err
    f, err = io.open(out.file, "wb")
    if not f then
      error(("cannot write the body: %s"):format(err), 0)
    end
  end
  if out.include then f:write(head_text(resp)) end
  f:write(resp.body)
  if out.file then f:close() else f:flush() end
end

return cli
