-- The request table as each attempt reads it: the fields it has, and
-- those a before_attempt hook gives it, by a plain assignment or through
-- a metatable's __index, the way Lua reads a field.
local http = require "retryrun.http"
local retry = require "retryrun.retry"
local todo = require "spec.support.todo"

describe("a request after before_attempt", function()
  it("is sent with a field the hook set", function()
    local srv <close> = todo.start{}
    local p = retry.policy{before_attempt = function(req)
      req.body = "set by the hook"
    end}
    local echo = todo.decode(p:get(srv.url .. "/_echo").body)
    assert.equal("GET", echo.method)
    assert.equal("set by the hook", echo.body)
  end)

  it("is sent with the fields its metatable's __index gives", function()
    local srv <close> = todo.start{}
    local p = retry.policy{before_attempt = function(req)
      setmetatable(req, {__index = {body = "from __index"}})
    end}
    local echo = todo.decode(p:get(srv.url .. "/_echo").body)
    assert.equal("GET", echo.method)
    assert.equal("from __index", echo.body)
  end)

  it("keeps the fields it did not change", function()
    local srv <close> = todo.start{}
    local p = retry.policy{before_attempt = function(req)
      req.headers["X-Attempt"] = "1"
    end}
    local resp = p:get(srv.url .. "/_echo", {headers = {["X-Kept"] = "yes"},
                                             timeout = 5})
    local seen = {}
    for k, v in pairs(todo.decode(resp.body).headers) do
      seen[k:lower()] = v
    end
    assert.equal("yes", seen["x-kept"])
    assert.equal("1", seen["x-attempt"])
  end)
end)
