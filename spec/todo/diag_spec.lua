-- todo-server's diagnostic paths that answer with what a client must
-- decode: /_headers (response headers named by the query, repeated ones
-- apart) and /_gzip (/_echo's answer gzip-encoded), seen through the
-- curl command-line tool, never through retryrun.

local cjson = require "cjson"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local quote = common.quote

--- The status, header lines (a list of "Name: value") and body curl got
-- for url; extra: more curl arguments, already quoted.
local function fetch(url, extra)
  local out = common.capture(("curl -s -i --max-time 20 %s %s"):format(
    extra or "", quote(url)))
  local head, body = out:match("^(.-)\r\n\r\n(.*)$")
  local lines = {}
  for line in head:gmatch("[^\r\n]+") do lines[#lines + 1] = line end
  local status = tonumber(table.remove(lines, 1):match("^HTTP/%S+ (%d+)"))
  return status, lines, body
end

--- The values of header name among lines, in order.
local function values(lines, name)
  local found = {}
  for _, line in ipairs(lines) do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k and k:lower() == name:lower() then found[#found + 1] = v end
  end
  return found
end

describe("todo-server's diagnostic paths", function()
  local srv
  setup(function() srv = todo.start{} end)
  teardown(function() srv:stop() end)

  describe("/_headers", function()
    it("sends each query pair as a header, a repeated name apart",
       function()
      local status, lines, body = fetch(srv.url .. "/_headers?" ..
        "Set-Cookie=a%3D1%3B%20Expires%3DWed%2C%2021%20Oct%202037%2007%3A28" ..
        "%3A00%20GMT&X-Tag=t&Set-Cookie=b%3D2")
      assert.equal(200, status)
      assert.same({"a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "b=2"},
                  values(lines, "Set-Cookie"))
      assert.same({"t"}, values(lines, "X-Tag"))
      assert.same({headers = 3}, cjson.decode(body))
    end)

    it("refuses what would break the response, saying why", function()
      local cases = {
        {"X-A=a%0D%0AInjected%3A%201", "a value must be 1 to 1024 bytes "
                                       .. "without control characters"},
        {"X-A", "a value must be 1 to 1024 bytes without control "
                .. "characters"},
        {"X%20A=1", "a name must be 1 to 64 letters, digits and '-'"},
        {"content-length=5", "Content-Length, Content-Type, "
                             .. "Transfer-Encoding and Connection are the "
                             .. "server's"},
        {("X-A=1&"):rep(17), "at most 16 headers"},
      }
      for _, c in ipairs(cases) do
        local status, lines, body = fetch(srv.url .. "/_headers?" .. c[1])
        assert.equal(400, status)
        assert.same({}, values(lines, "Injected"))
        assert.same({}, values(lines, "X-A"))
        assert.equal("/_headers: " .. c[2], cjson.decode(body).error)
      end
    end)
  end)

  describe("/_gzip", function()
    it("answers /_echo's object gzip-encoded, whatever was asked",
       function()
      local status, lines, body = fetch(srv.url .. "/_gzip?pad=5")
      assert.equal(200, status)
      assert.same({"gzip"}, values(lines, "Content-Encoding"))
      assert.equal("\31\139", body:sub(1, 2))       -- gzip's magic
      status, lines, body = fetch(srv.url .. "/_gzip?pad=5", "--compressed")
      assert.equal(200, status)
      local seen = cjson.decode(body)
      assert.equal("GET", seen.method)
      assert.equal("xxxxx", seen.pad)
      assert.truthy(seen.headers["Accept-Encoding"]:find("gzip", 1, true))
    end)

    it("pads to N bytes, which compress to far fewer", function()
      local _, lines, body = fetch(srv.url .. "/_gzip?pad=200000")
      local wire = tonumber(values(lines, "Content-Length")[1])
      assert.equal(#body, wire)
      assert.is_true(wire < 2000, wire)
      _, _, body = fetch(srv.url .. "/_gzip?pad=200000", "--compressed")
      assert.equal(200000, #cjson.decode(body).pad)
    end)

    it("refuses a pad that is not 0 to 4 MiB", function()
      for _, pad in ipairs{"x", "", "-1", "4194305"} do
        local status, _, body = fetch(srv.url .. "/_gzip?pad=" .. pad)
        assert.equal(400, status)
        assert.equal("/_gzip?pad= takes 0 to 4194304 bytes",
                     cjson.decode(body).error)
      end
    end)
  end)
end)
