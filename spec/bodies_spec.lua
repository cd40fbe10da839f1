-- Request bodies made from tables (json=, form=, multipart=) and what a
-- response carries beyond its body (compressed=, resp:header_list), seen
-- on the wire through todo-server: /_echo answers with what it received,
-- /_gzip the same gzip-encoded, /_headers with the headers it is asked
-- for.
local http = require "retryrun.http"
local json = require "retryrun.json"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

-- A file of the spec's own, removed when the spec ends.
local function temp_file(contents)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(contents)
  f:close()
  return setmetatable({path = path}, {__close = function(self)
    os.remove(self.path)
  end})
end

-- The parts of a multipart/form-data body, in order: {headers, data}
-- each, headers a list of lines; checked to end with the closing
-- boundary.
local function parts_of(body, content_type)
  local boundary = content_type:match("boundary=(%S+)$")
  assert.is_string(boundary, content_type)
  local delim = "--" .. boundary
  assert.equal("\r\n" .. delim .. "--\r\n",
               body:sub(-(#delim + 6)))
  local parts = {}
  local pos = 1
  while true do
    local s, e = body:find(delim, pos, true)
    assert.is_number(s)
    if body:sub(e + 1, e + 2) == "--" then break end
    local head_end = body:find("\r\n\r\n", e, true)
    local next_s = body:find("\r\n" .. delim, head_end, true)
    local lines = {}
    for line in body:sub(e + 3, head_end - 1):gmatch("[^\r\n]+") do
      lines[#lines + 1] = line
    end
    parts[#parts + 1] = {headers = lines,
                         data = body:sub(head_end + 4, next_s - 1)}
    pos = next_s + 2
  end
  return parts
end

describe("request bodies", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  local function echo(method, opts)
    return http.request{method = method, url = srv.url .. "/_echo",
                        json = opts.json, form = opts.form,
                        multipart = opts.multipart, headers = opts.headers,
                        retry = opts.retry}
  end

  describe("json=", function()
    it("sends integers exactly: 2^53 + 1 and the 64-bit extremes",
       function()
      local seen = echo("POST", {json = {a = (1 << 53) + 1,
        b = math.maxinteger, c = math.mininteger}}):json()
      assert.equal('{"a":9007199254740993,"b":9223372036854775807,'
                   .. '"c":-9223372036854775808}', seen.body)
      local back = json.decode(seen.body)
      assert.equal(9007199254740993, back.a)
      assert.equal(math.maxinteger, back.b)
      assert.equal("integer", math.type(back.a))
    end)

    it("sends [] for an empty array, {} for an empty table", function()
      local seen = echo("PUT", {json = {a = json.empty_array,
        b = json.array(), c = {}}}):json()
      assert.equal('{"a":[],"b":[],"c":{}}', seen.body)
    end)

    it("sends keys sorted at every level, the same text every time",
       function()
      local v = {zeta = 1, alpha = {yak = 1, bee = {2, {z = 0, a = 1}}},
                 mid = "m"}
      local seen = echo("POST", {json = v}):json()
      assert.equal('{"alpha":{"bee":[2,{"a":1,"z":0}],"yak":1},"mid":"m",'
                   .. '"zeta":1}', seen.body)
    end)

    it("sends json.null as null, and drops a nil", function()
      local seen = echo("POST", {json = {a = json.null, b = {json.null, 1},
                                         c = nil}}):json()
      assert.equal('{"a":null,"b":[null,1]}', seen.body)
    end)
  end)

  describe("form=", function()
    it("url-encodes names and values, keys sorted, lists repeated",
       function()
      local seen = echo("POST", {form = {["a b"] = "x&y=z", pct = "100%",
        plus = "1+1", utf = "é€", list = {2, 1}, empty = "", n = 1.5,
        tilde = "-._~"}}):json()
      assert.equal("application/x-www-form-urlencoded",
                   seen.headers["Content-Type"])
      assert.equal("a%20b=x%26y%3Dz&empty=&list=2&list=1&n=1.5&"
                   .. "pct=100%25&plus=1%2B1&tilde=-._~&"
                   .. "utf=%C3%A9%E2%82%AC", seen.body)
    end)

    it("keeps a Content-Type the script gives, and makes a POST",
       function()
      local resp = http.request{url = srv.url .. "/_echo", form = {a = 1},
        headers = {["content-type"] = "application/x-www-form-urlencoded; "
                                      .. "charset=utf-8"}}
      local seen = resp:json()
      assert.equal("POST", resp.method)
      assert.equal("POST", seen.method)
      assert.equal("application/x-www-form-urlencoded; charset=utf-8",
                   seen.headers["content-type"])
      assert.is_nil(seen.headers["Content-Type"])
      assert.equal("a=1", seen.body)
    end)

    it("refuses what it cannot encode, at the script's line", function()
      local cases = {
        {{form = "a=1"}, "form must be a table of name = value (got string)"},
        {{form = {a = {x = 1}}}, "form value for 'a' must be a string, a "
          .. "number or a list of them (got a table that is not a list)"},
        {{form = {a = true}}, "form value for 'a' must be a string, a "
          .. "number or a list of them (got boolean)"},
        {{form = {[true] = 1}}, "form keys must be strings or numbers "
          .. "(got boolean)"},
        {{form = {a = 1}, json = {}}, "give json or form, not both"},
        {{form = {a = 1}, body = ""}, "give body or form, not both"},
      }
      for _, c in ipairs(cases) do
        local opts = c[1]
        local ok, err = pcall(function()
          local resp = http.post(srv.url .. "/_echo", opts)
          return resp
        end)
        assert.is_false(ok)
        assert.equal("bodies_spec.lua:", err:match("[%w_]+%.lua:"))
        assert.equal(c[2], err:gsub("^.-:%d+: ", ""))
      end
    end)

    it("hides the value of a secret field in what it prints", function()
      local ok, err = pcall(http.post, srv.url .. "/_echo",
        {form = {password = "hunter2-secret", user = "ann"},
         retry = {attempts = 1, valid = function(r)
           return false, r:json().body
         end}})
      assert.is_false(ok)
      assert.equal("password=REDACTED&user=ann", err.attempts[1].reason)
    end)
  end)

  describe("multipart=", function()
    it("sends fields and a file, in the byte order of their names",
       function()
      local file <close> = temp_file("line 1\nline 2\n")
      local seen = echo("POST", {multipart = {
        title = "notes", count = 3,
        upload = {path = file.path, type = "text/plain"},
        raw = {data = "\0\1bytes", filename = "raw.bin",
               type = "application/octet-stream"},
        tag = {"a", "b"},
      }}):json()
      local ct = seen.headers["Content-Type"]
      assert.matches("^multipart/form%-data; boundary=", ct)
      local parts = parts_of(seen.body, ct)
      local base = file.path:match("[^/]+$")
      assert.same({
        {headers = {'Content-Disposition: form-data; name="count"'},
         data = "3"},
        {headers = {'Content-Disposition: form-data; name="raw"; '
                    .. 'filename="raw.bin"',
                    "Content-Type: application/octet-stream"},
         data = "\0\1bytes"},
        {headers = {'Content-Disposition: form-data; name="tag"'},
         data = "a"},
        {headers = {'Content-Disposition: form-data; name="tag"'},
         data = "b"},
        {headers = {'Content-Disposition: form-data; name="title"'},
         data = "notes"},
        {headers = {'Content-Disposition: form-data; name="upload"; '
                    .. 'filename="' .. base .. '"',
                    "Content-Type: text/plain"},
         data = "line 1\nline 2\n"},
      }, parts)
    end)

    it("names a file as the script asks, and keeps its Content-Type",
       function()
      local file <close> = temp_file("x")
      local seen = echo("PUT", {multipart = {f = {path = file.path,
        filename = "report.csv"}}, headers = {
        ["Content-Type"] = "multipart/mixed"}}):json()
      assert.equal("PUT", seen.method)
      assert.matches("^multipart/mixed; boundary=",
                     seen.headers["Content-Type"])
      local parts = parts_of(seen.body, seen.headers["Content-Type"])
      assert.equal(1, #parts)
      assert.truthy(parts[1].headers[1]:find('filename="report.csv"', 1,
                                             true))
    end)

    it("refuses a file it cannot read before sending anything", function()
      local before = srv:stats().requests
      local ok, err = pcall(function()
        local resp = http.post(srv.url .. "/_echo", {multipart = {
          note = "x", doc = {path = "/nonexistent/dir/doc.txt"}}})
        return resp
      end)
      assert.is_false(ok)
      assert.matches("^[^:]*bodies_spec%.lua:%d+: multipart part 'doc': "
                     .. "cannot read /nonexistent/dir/doc%.txt: No such "
                     .. "file or directory$", err)
      assert.equal(before, srv:stats().requests)
    end)

    it("refuses a part it cannot send, saying which", function()
      local cases = {
        {{}, "multipart has no fields: give at least one"},
        {"x", "multipart must be a table of name = value (got string)"},
        {{f = {paht = "x"}},
         "multipart part 'f' has an unknown field 'paht' (did you mean "
         .. "'path'?)"},
        {{f = {data = "a", path = "b"}}, "multipart part 'f' needs data "
         .. "(a string) or path (a file), one of them"},
        {{f = {filename = "a"}}, "multipart part 'f' needs data (a string) "
         .. "or path (a file), one of them"},
        {{f = {data = 1}}, "multipart part 'f': data must be a string (got "
         .. "number)"},
        {{f = {data = "a", type = "text/plain\r\nX: 1"}},
         "multipart part 'f': type must be a non-empty string without "
         .. 'control characters (got "text/plain\\r\\nX: 1")'},
        {{f = {{"a"}}}, "multipart field 'f': entry 1 is a list; give a "
         .. "string, a number or a part table"},
        {{f = {"a", x = 1}}, "multipart field 'f' mixes a list with named "
         .. "fields"},
        {{f = true}, "multipart field 'f' must be a string, a number, a "
         .. "part table or a list of them (got boolean)"},
        {{f = 0 / 0}, "multipart field 'f' is nan, which has no text to "
         .. "send"},
        {{[1] = "a"}, "multipart field names must be non-empty strings "
         .. "without control characters (got 1)"},
      }
      for _, c in ipairs(cases) do
        local mp = c[1]
        local ok, err = pcall(function()
          local resp = http.post(srv.url .. "/_echo", {multipart = mp})
          return resp
        end)
        assert.is_false(ok)
        assert.equal(c[2], err:gsub("^.-bodies_spec%.lua:%d+: ", ""))
      end
      local ok, err = pcall(function()
        local resp = http.head(srv.url .. "/_echo", {multipart = {a = "1"}})
        return resp
      end)
      assert.is_false(ok)
      assert.matches("bodies_spec%.lua:%d+: a HEAD request has no body$",
                     err)
      ok, err = pcall(function()
        local resp = http.post(srv.url .. "/_echo", {multipart = {a = "1"},
                                                     json = {}})
        return resp
      end)
      assert.is_false(ok)
      assert.matches("give json or multipart, not both$", err)
    end)

    it("hides the value of a secret field in what it prints", function()
      local ok, err = pcall(http.post, srv.url .. "/_echo",
        {multipart = {password = "hunter2-secret", user = "ann"},
         retry = {attempts = 1, valid = function(r)
           return false, r:json().body
         end}})
      assert.is_false(ok)
      local reason = err.attempts[1].reason
      assert.truthy(reason:find('name="password"\r\n\r\nREDACTED\r\n', 1,
                                true), reason)
      assert.falsy(reason:find("hunter2", 1, true))
      assert.truthy(reason:find("ann", 1, true))
    end)

    for _, how in ipairs{"PUT", "POST with an idempotency key"} do
      it("sends the whole body again on a retried " .. how, function()
        local file <close> = temp_file(("0123456789"):rep(300))
        local first, first_type, tries = nil, nil, 0
        local resp = http.request{
          method = how:match("^%u+"), url = srv.url .. "/_echo",
          multipart = {note = "n", file = {path = file.path}},
          retry = {attempts = 3, backoff = common.FAST,
                   idempotency_key = how ~= "PUT",
                   valid = function(r)
                     tries = tries + 1
                     if not first then
                       first = r:json().body
                       first_type = r:json().headers["Content-Type"]
                     end
                     return tries > 1, "the first answer is refused"
                   end}}
        assert.equal(2, resp.attempts)
        local seen = resp:json()
        local parts = parts_of(seen.body, seen.headers["Content-Type"])
        assert.same(parts_of(first, first_type), parts)
        assert.equal(2, #parts)
        assert.equal(("0123456789"):rep(300), parts[1].data)
        assert.equal("n", parts[2].data)
        assert.equal(tostring(#seen.body), seen.headers["Content-Length"])
      end)
    end

    it("keeps the body on a 307, drops it on a 303", function()
      local to = srv.url .. "/_redirect?to=" .. srv.url:gsub(":", "%%3A")
                 .. "%2F_echo&status="
      local seen = http.post(to .. "307", {multipart = {a = "1"}}):json()
      assert.equal("POST", seen.method)
      assert.equal("1", parts_of(seen.body, seen.headers["Content-Type"])
                        [1].data)
      seen = http.post(to .. "303", {multipart = {a = "1"}}):json()
      assert.equal("GET", seen.method)
      assert.equal("", seen.body)
      assert.is_nil(seen.headers["Content-Type"])
    end)

    it("refuses a FIFO or a device at once instead of waiting on it",
       function()
      local fifo <close> = temp_file("")
      os.remove(fifo.path)
      assert.is_true(os.execute("mkfifo " .. common.quote(fifo.path)))
      local code, out = common.run(([[
        local http = require "retryrun.http"
        for _, path in ipairs{%q, "/dev/zero"} do
          local ok, err = pcall(http.post, %q, {multipart = {f = {path =
                                path}}})
          print(ok, err)
        end]]):format(fifo.path, srv.url .. "/_echo"), {timeout = 20})
      assert.equal(0, code, out)
      assert.truthy(out:find("false\t[^\n]*multipart part 'f': " ..
                             fifo.path .. " is not a file\n"), out)
      assert.truthy(out:find("false\t[^\n]*multipart part 'f': /dev/zero "
                             .. "is not a file\n"), out)
    end)

    it("stops with a clear error when the file is gone by a retry",
       function()
      local file = temp_file("soon gone")
      local ok, err = pcall(http.put, srv.url .. "/_echo", {
        multipart = {f = {path = file.path}},
        retry = {attempts = 2, backoff = common.FAST,
                 valid = function() os.remove(file.path) return false end}})
      assert.is_false(ok)
      assert.equal("string", type(err))
      assert.truthy(err:find("multipart part 'f': cannot read " .. file.path
                             .. ": No such file or directory", 1, true),
                    err)
    end)

    it("checks a part a before_attempt hook changed", function()
      local ok, err = pcall(http.post, srv.url .. "/_echo", {
        multipart = {a = "1"},
        retry = {before_attempt = function(req)
          req.multipart[1].data = nil
        end}})
      assert.is_false(ok)
      assert.equal("before_attempt: multipart part 1 needs data (a string) "
                   .. "or path (a file), one of them", err)
    end)
  end)
end)

describe("responses", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  describe("compressed=", function()
    it("asks for what libcurl decodes and returns the decoded body",
       function()
      local resp = http.get(srv.url .. "/_gzip?pad=1000",
                            {compressed = true})
      assert.equal("gzip", resp:header("Content-Encoding"))
      assert.is_true(tonumber(resp:header("Content-Length")) < 500)
      local seen = resp:json()
      assert.equal(("x"):rep(1000), seen.pad)
      assert.truthy(seen.headers["Accept-Encoding"]:find("gzip", 1, true))
    end)

    it("is off by default: no Accept-Encoding, the body as it came",
       function()
      assert.is_nil(http.get(srv.url .. "/_echo"):json()
                    .headers["Accept-Encoding"])
      local resp = http.get(srv.url .. "/_gzip?pad=1000")
      assert.equal("\31\139", resp.body:sub(1, 2))
      assert.equal(tonumber(resp:header("Content-Length")), #resp.body)
    end)

    it("caps the decoded body with max_body, not the bytes on the wire",
       function()
      local url = srv.url .. "/_gzip?pad=100000"
      local ok, err = pcall(http.get, url, {compressed = true,
                                            max_body = 50000})
      assert.is_false(ok)
      assert.equal("too_large", err.attempts[1].error)
      assert.equal(1, #err.attempts)
      assert.equal("response body over max_body of 50000 bytes once "
                   .. "decoded", err.attempts[1].reason)
      -- the wire's few hundred bytes pass the same cap undecoded
      assert.equal(200, http.get(url, {max_body = 50000}).status)
      -- an encoded Content-Length says nothing of the decoded size: only
      -- an answer kept as it came is stopped by it
      ok, err = pcall(http.get, url, {compressed = true, max_body = 100})
      assert.equal("response body over max_body of 100 bytes once decoded",
                   err.attempts[1].reason)
      ok, err = pcall(http.get, url, {max_body = 100})
      assert.matches("^Content%-Length announces %d+ bytes, over max_body "
                     .. "of 100 bytes$", err.attempts[1].reason)
      assert.equal(100000, #http.get(url, {compressed = true,
        max_body = 101000}):json().pad)
    end)

    it("decodes a retried answer as the first", function()
      local n = 0
      local resp = http.get(srv.url .. "/_gzip?pad=10", {compressed = true,
        retry = {backoff = common.FAST, valid = function(r)
          n = n + 1
          return n > 1 and r:json().pad == "xxxxxxxxxx"
        end}})
      assert.equal(2, resp.attempts)
    end)

    it("must be true or false", function()
      assert.has_error(function()
        http.get(srv.url .. "/_echo", {compressed = 1})
      end)
      local ok, err = pcall(function()
        local resp = http.get(srv.url .. "/_echo", {compressed = "yes"})
        return resp
      end)
      assert.is_false(ok)
      assert.matches("bodies_spec%.lua:%d+: compressed must be true or "
                     .. "false %(got string%)$", err)
    end)
  end)

  describe(":header_list()", function()
    local url
    setup(function()
      url = srv.url .. "/_headers?Set-Cookie=sid%3D1%3B%20Expires%3DWed%2C"
            .. "%2021%20Oct%202037%2007%3A28%3A00%20GMT&X-One=1&"
            .. "set-cookie=theme%3Ddark"
    end)

    it("gives every value of a repeated header apart, in order", function()
      local resp = http.get(url)
      assert.same({"sid=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
                   "theme=dark"}, resp:header_list("Set-Cookie"))
      assert.same(resp:header_list("set-cookie"),
                  resp:header_list("SET-COOKIE"))
      assert.same({"1"}, resp:header_list("x-one"))
      assert.same({}, resp:header_list("X-None"))
      -- headers and header() join them, which a cookie's date breaks
      assert.equal("sid=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT, "
                   .. "theme=dark", resp:header("Set-Cookie"))
    end)

    it("takes a name", function()
      local resp = http.get(url)
      assert.has_error(function() resp:header_list() end,
        "bad argument #1 to 'header_list' (string expected, got no value)")
    end)
  end)
end)
