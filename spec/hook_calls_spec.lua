-- Calls made inside another call's hook, one after another: each is held
-- to the hook's time (the enclosing call's deadline), whatever the call
-- before it in the hook was. Under --fake-clock, so the waits are virtual.
local common = require "spec.support.common"
local todo = require "spec.support.todo"

describe("calls inside a before_attempt hook", function()
  it("each end at the enclosing call's deadline", function()
    local srv <close> = todo.start{}
    local path = common.write_script([[
      local http = require "retryrun.http"
      local retry = require "retryrun.retry"
      local url = arg[1]
      local AUTH = {Authorization = "Bearer alice-secret"}
      -- 404 retried every virtual second, for up to 1000 s alone
      local missing = {retry_on = {404}, attempts = 1000, deadline = 1000,
                       backoff = {initial = 1, factor = 1, max = 1,
                                  jitter = "none"}}
      local seen = {}
      local outer = retry.policy{attempts = 1, deadline = 30,
        before_attempt = function()
          for i = 1, 2 do
            local ok = http.get(url .. "/items", {headers = AUTH})
            local _, err = pcall(http.get, url .. "/items/999999",
                                 {headers = AUTH, retry = missing})
            seen[#seen + 1] = ("%d %s %s"):format(ok.status, err.reason,
                                                  #err.attempts <= 31)
          end
        end}
      pcall(outer.get, outer, url .. "/items", {headers = AUTH})
      print(table.concat(seen, ", "))
    ]])
    local code, out = common.sh(("timeout 120 %s --fake-clock %s %s"):format(
      common.quote(common.BIN), common.quote(path), common.quote(srv.url)))
    os.remove(path)
    assert.equal(0, code, out)
    assert.equal("200 deadline true, 200 deadline true\n", out)
  end)
end)
