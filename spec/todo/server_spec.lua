-- todo-server: its command line and every endpoint, over real HTTP on
-- loopback, with no faults turned on. Faults are in faults_spec.lua,
-- load in load_spec.lua.

local cjson = require "cjson"
local common = require "spec.support.common"
local todo = require "spec.support.todo"

local ALICE, BOB = "alice-secret", "bob-secret"

--- Runs todo-server with argv (a list) and no --listen of ours; it must
-- exit by itself within 5 s. Returns its exit code, stdout and stderr.
local function run_binary(argv)
  local quoted = {}
  for i, a in ipairs(argv) do quoted[i] = common.quote(a) end
  local err = os.tmpname()
  local code, out = common.sh(("timeout 5 %s %s 2>%s"):format(
    todo.binary(), table.concat(quoted, " "), err))
  local f = io.open(err)
  local stderr = f:read("a")
  f:close()
  os.remove(err)
  return code, out, stderr
end

--- A summary n characters long.
local function summary(n) return ("s"):rep(n) end

local function item_json(s, d)
  return cjson.encode({summary = s, description = d})
end

describe("todo-server", function()

  describe("command line", function()
    it("prints its address first, serves it, and exits 0 on SIGTERM", function()
      local srv <close> = todo.start()
      assert.matches("^http://127%.0%.0%.1:%d+$", srv.url)
      assert.is_true(srv.port > 0)
      assert.equal(200, srv:request("GET", "/items", {token = ALICE}).status)
      assert.same({true, "exit", 0}, {srv:stop()})
    end)

    it("exits 0 on SIGINT", function()
      local srv <close> = todo.start()
      os.execute("kill -INT " .. srv.pid)
      assert.same({true, "exit", 0}, {srv:stop()})
    end)

    it("prints its usage for --help and exits 0", function()
      local code, out = run_binary({"--help"})
      assert.equal(0, code)
      assert.matches("usage: todo%-server", out)
      assert.matches("%-%-fail%-rate R", out)
    end)

    local bad = {
      {"--fail-rate", "1.5"}, {"--fail-rate", "-0.1"}, {"--reset-rate", "abc"},
      {"--slow-rate", "0.5x"}, {"--throttle-rate", "nan"},
      {"--missing-field-rate=2"}, {"--bogus"}, {"extra"}, {"--seed", "-1"},
      {"--seed", "1.5"}, {"--listen", "nohost"}, {"--listen", "127.0.0.1:70000"},
      {"--outage", "5"}, {"--outage", "a:b"}, {"--fail-status", "200"},
      {"--user", "nocolon"}, {"--user", "a b:secret"}, {"--max-body", "0"},
      {"--token-ttl", "0"}, {"--lag", "-5"}, {"--slow-ms"}, {"--log=yes"},
      {"--retry-after-date=1"},
    }
    for _, argv in ipairs(bad) do
      it("refuses " .. table.concat(argv, " ") .. " with a usage message and exit 2",
         function()
        local code, out, err = run_binary(argv)
        assert.equal(2, code)
        assert.equal("", out)
        assert.matches("^todo%-server: [^\n]+\nusage: todo%-server", err)
      end)
    end

    it("says why it cannot listen, and exits 1", function()
      local srv <close> = todo.start()
      local code, _, err = run_binary({"--listen", "127.0.0.1:" .. srv.port})
      srv:stop()
      assert.equal(1, code)
      assert.matches("cannot listen on 127%.0%.0%.1:%d+", err)
    end)

    it("logs one line a request with --log", function()
      local log = os.tmpname()
      local srv <close> = todo.start{"--log", "--fail-rate", "0.5", "--seed", "3",
                             stderr = log}
      local res = srv:batch({
        {path = "/items", token = ALICE}, {path = "/nope"},
        {path = "/items/7", token = ALICE}, {path = "/items", token = ALICE},
        {path = "/items", token = ALICE}, {path = "/items", token = ALICE},
      })
      srv:stop()
      local f = io.open(log)
      local lines = {}
      for line in f:lines() do lines[#lines + 1] = line end
      f:close()
      os.remove(log)
      local paths = {"/items", "/nope", "/items/7", "/items", "/items", "/items"}
      local faulted = 0
      for i, r in ipairs(res) do
        local want = ("GET %s %d"):format(paths[i], r.status)
        if r.status == 500 then
          want = want .. " fail"
          faulted = faulted + 1
        end
        assert.equal(want, lines[i])
      end
      assert.is_true(faulted > 0 and faulted < #res)
    end)
  end)

  describe("API", function()
    local srv

    setup(function() srv = todo.start{"--max-body", "4096"} end)
    teardown(function() srv:stop() end)

    local function post(token, body, headers)
      return srv:request("POST", "/items", {token = token, json = body,
                                            headers = headers})
    end

    describe("POST /items", function()
      it("answers 201 Created with the new item", function()
        local r = post(ALICE, item_json("buy milk", "two litres"))
        assert.equal(201, r.status)
        assert.equal("application/json", r.headers["content-type"])
        assert.is_number(r.json.id)
        assert.same({id = r.json.id, summary = "buy milk",
                     description = "two litres"}, r.json)
      end)

      it("gives each item its own id", function()
        local a = post(ALICE, item_json("one", "")).json.id
        local b = post(ALICE, item_json("two", "")).json.id
        assert.is_true(b > a)
      end)

      it("takes a summary of 119 characters, counted as characters", function()
        assert.equal(201, post(ALICE, item_json(summary(119), "")).status)
        assert.equal(201, post(ALICE, item_json(("é"):rep(119), "")).status)
      end)

      it("treats a missing description as empty", function()
        local r = post(ALICE, '{"summary":"no description"}')
        assert.equal(201, r.status)
        assert.equal("", r.json.description)
      end)

      local invalid = {
        {"a summary of 120 characters", item_json(summary(120), ""),
         "summary must be under 120 characters"},
        {"a summary of 120 two-byte characters", item_json(("é"):rep(120), ""),
         "summary must be under 120 characters"},
        {"a summary with a newline", item_json("a\nb", ""),
         "summary must not contain a newline"},
        {"a summary with a carriage return", item_json("a\rb", ""),
         "summary must not contain a newline"},
        {"an empty summary", item_json("", ""), "summary must not be empty"},
        {"no summary", '{"description":"x"}', "summary is required"},
        {"a summary that is a number", '{"summary":5}', "summary must be a string"},
        {"a description that is a list", '{"summary":"a","description":[]}',
         "description must be a string"},
        {"a body that is a list", '["summary"]', "the body must be a JSON object"},
        {"an empty body", "", "malformed JSON: unexpected end of input at byte 0"},
        {"a truncated body", '{"summary":"a"', "malformed JSON: expected ',' or '}' at byte 14"},
        {"trailing junk", '{"summary":"a"} x', "malformed JSON: trailing characters at byte 16"},
        {"invalid UTF-8", '{"summary":"\xff"}', "malformed JSON: invalid UTF-8 in string at byte 12"},
        {"a lone surrogate", '{"summary":"\\udc00"}', "malformed JSON: lone low surrogate at byte 18"},
        {"nesting 1000 deep", ("["):rep(1000), "malformed JSON: nested too deeply at byte 64"},
      }
      for _, case in ipairs(invalid) do
        it("answers 400 for " .. case[1], function()
          local r = post(ALICE, case[2])
          assert.equal(400, r.status)
          assert.same({error = case[3]}, r.json)
        end)
      end

      it("creates nothing when it answers 400", function()
        local before = srv:stats().items_created
        post(ALICE, item_json(summary(200), ""))
        assert.equal(before, srv:stats().items_created)
      end)

      it("answers 415 without a JSON Content-Type", function()
        local r = srv:request("POST", "/items", {token = ALICE,
          body = item_json("x", ""), headers = {"Content-Type: text/plain"}})
        assert.equal(415, r.status)
        assert.same({error = "Content-Type must be application/json"}, r.json)
        r = srv:request("POST", "/items", {token = ALICE, body = item_json("x", "")})
        assert.equal(415, r.status)
      end)

      it("takes a Content-Type with parameters", function()
        local r = srv:request("POST", "/items", {token = ALICE, body = item_json("x", ""),
          headers = {"Content-Type: Application/JSON; charset=utf-8"}})
        assert.equal(201, r.status)
      end)

      it("answers 413 for a body over --max-body, announced or chunked", function()
        local big = item_json("x", ("d"):rep(5000))
        local r = post(ALICE, big)
        assert.equal(413, r.status)
        assert.same({error = "body over 4096 bytes"}, r.json)
        r = post(ALICE, big, {"Transfer-Encoding: chunked"})
        assert.equal(413, r.status)
        assert.same({error = "body over 4096 bytes"}, r.json)
        assert.equal(201, post(ALICE, item_json("x", ("d"):rep(3900))).status)
      end)

      it("answers 400 for an Idempotency-Key that is too long", function()
        local r = post(ALICE, item_json("x", ""), {"Idempotency-Key: " .. ("k"):rep(256)})
        assert.equal(400, r.status)
        assert.matches("Idempotency%-Key", r.json.error)
      end)
    end)

    describe("Idempotency-Key", function()
      it("replays the first response and creates nothing", function()
        local before = srv:stats()
        local key = {"Idempotency-Key: replay-1"}
        local first = post(ALICE, item_json("pay rent", "once"), key)
        local again = post(ALICE, item_json("pay rent", "once"), key)
        local after = srv:stats()
        assert.equal(201, first.status)
        assert.equal(first.status, again.status)
        assert.equal(first.body, again.body)
        assert.equal("true", again.headers["idempotent-replayed"])
        assert.is_nil(first.headers["idempotent-replayed"])
        assert.equal(1, after.items_created - before.items_created)
        assert.equal(1, after.idempotent_replays - before.idempotent_replays)
      end)

      it("replays even when the body differs", function()
        local key = {"Idempotency-Key: replay-2"}
        local first = post(ALICE, item_json("first", ""), key)
        local again = post(ALICE, item_json("second", ""), key)
        assert.equal(first.body, again.body)
        assert.equal("first", again.json.summary)
      end)

      it("keeps keys per user", function()
        local key = {"Idempotency-Key: shared-key"}
        local a = post(ALICE, item_json("alice's", ""), key)
        local b = post(BOB, item_json("bob's", ""), key)
        assert.equal(201, b.status)
        assert.are_not.equal(a.json.id, b.json.id)
        assert.equal("bob's", b.json.summary)
      end)

      it("creates a new item for a new key", function()
        local a = post(ALICE, item_json("x", ""), {"Idempotency-Key: new-1"})
        local b = post(ALICE, item_json("x", ""), {"Idempotency-Key: new-2"})
        assert.are_not.equal(a.json.id, b.json.id)
      end)

      it("remembers nothing for a request it refused", function()
        local key = {"Idempotency-Key: refused-1"}
        assert.equal(400, post(ALICE, item_json("a\nb", ""), key).status)
        local r = post(ALICE, item_json("fixed", ""), key)
        assert.equal(201, r.status)
        assert.equal("fixed", r.json.summary)
      end)
    end)

    describe("GET /items", function()
      it("lists the caller's open items, oldest first, as id and summary", function()
        local a1 = post(ALICE, item_json("alice list 1", "d")).json.id
        local b1 = post(BOB, item_json("bob list 1", "d")).json.id
        local a2 = post(ALICE, item_json("alice list 2", "d")).json.id
        local alice = srv:request("GET", "/items", {token = ALICE}).json
        local bob = srv:request("GET", "/items", {token = BOB}).json
        local seen = {}
        for i, it in ipairs(alice) do
          assert.same({"id", "summary"}, (function()
            local keys = {}
            for k in pairs(it) do keys[#keys + 1] = k end
            table.sort(keys)
            return keys
          end)())
          seen[it.id] = i
          if i > 1 then assert.is_true(it.id > alice[i - 1].id) end
        end
        assert.is_truthy(seen[a1] and seen[a2])
        assert.is_nil(seen[b1])
        assert.same({id = b1, summary = "bob list 1"}, bob[#bob])
      end)

      it("answers HEAD with the headers and no body", function()
        local r = srv:request("HEAD", "/items", {token = ALICE})
        assert.equal(200, r.status)
        assert.equal("", r.body)
        assert.equal("application/json", r.headers["content-type"])
      end)

      it("sends no Link header without page= or per_page=", function()
        local r = srv:request("GET", "/items", {token = ALICE})
        assert.equal(200, r.status)
        assert.is_nil(r.headers.link)
      end)

      it("pages with page= and per_page=, linking first, prev, next and last",
         function()
        local mine = {}
        for _, it in ipairs(srv:request("GET", "/items", {token = BOB}).json)
        do
          mine[#mine + 1] = it.id
        end
        for i = #mine + 1, 7 do
          mine[i] = post(BOB, item_json("bob page " .. i, "d")).json.id
        end
        local per, last = 3, (#mine + 2) // 3
        local got = {}
        for page = 1, last do
          local r = srv:request("GET", ("/items?page=%d&per_page=%d")
                                :format(page, per), {token = BOB})
          assert.equal(200, r.status)
          assert.is_true(#r.json <= per)
          for _, it in ipairs(r.json) do got[#got + 1] = it.id end
          local want = {('</items?page=1&per_page=3>; rel="first"')}
          if page > 1 then
            want[#want + 1] = ('</items?page=%d&per_page=3>; rel="prev"')
                              :format(page - 1)
          end
          if page < last then
            want[#want + 1] = ('</items?page=%d&per_page=3>; rel="next"')
                              :format(page + 1)
          end
          want[#want + 1] = ('</items?page=%d&per_page=3>; rel="last"')
                            :format(last)
          assert.equal(table.concat(want, ", "), r.headers.link)
        end
        assert.same(mine, got)
        local beyond = srv:request("GET", ("/items?page=%d&per_page=3")
                                   :format(last + 1), {token = BOB})
        assert.same({}, beyond.json)
        local one = srv:request("GET", "/items?per_page=1", {token = BOB})
        assert.same({mine[1]}, {one.json[1].id})
        assert.truthy(one.headers.link:find('</items?page=2&per_page=1>; '
                                            .. 'rel="next"', 1, true))
      end)

      it("answers 400 to a page= or per_page= out of range", function()
        for _, q in ipairs{"page=0", "page=x", "page=", "page=1000000001",
                           "per_page=0", "per_page=1001", "per_page=2x",
                           "page=99999999999999999999999"} do
          local r = srv:request("GET", "/items?" .. q, {token = ALICE})
          assert.equal(400, r.status, q)
          local name = q:match("^[%a_]+")
          assert.truthy(r.json.error:find("^" .. name .. " must be a whole "
                                          .. "number from 1 to "), q)
        end
      end)
    end)

    describe("GET /items/<id>", function()
      it("answers 200 with id, summary and description", function()
        local id = post(ALICE, item_json("read me", "all of it")).json.id
        local r = srv:request("GET", "/items/" .. id, {token = ALICE})
        assert.equal(200, r.status)
        assert.same({id = id, summary = "read me", description = "all of it"}, r.json)
      end)

      it("keeps unicode and escapes intact", function()
        local s, d = "tab\there \"quoted\" ∑ \\", "line\none\0two"
        local id = post(ALICE, item_json(s, d)).json.id
        local r = srv:request("GET", "/items/" .. id, {token = ALICE})
        assert.same({id = id, summary = s, description = d}, r.json)
      end)

      it("answers 403 for another user's item", function()
        local id = post(ALICE, item_json("private", "")).json.id
        local r = srv:request("GET", "/items/" .. id, {token = BOB})
        assert.equal(403, r.status)
        assert.same({error = ("item %d belongs to another user"):format(id)}, r.json)
      end)

      it("answers 404 for an unknown item", function()
        for _, id in ipairs({"0", "999999", "99999999999999999999999"}) do
          local r = srv:request("GET", "/items/" .. id, {token = ALICE})
          assert.equal(404, r.status)
          assert.is_string(r.json.error)
        end
      end)

      it("answers 400 for an id that is not a number", function()
        for _, id in ipairs({"abc", "-1", "1.5", "1e3", "%20"}) do
          local r = srv:request("GET", "/items/" .. id, {token = ALICE})
          assert.equal(400, r.status)
          assert.same({error = "an item id is a number"}, r.json)
        end
      end)
    end)

    describe("DELETE /items/<id>", function()
      it("marks the item done: 200, and gone from the list", function()
        local id = post(ALICE, item_json("finish me", "")).json.id
        local r = srv:request("DELETE", "/items/" .. id, {token = ALICE})
        assert.equal(200, r.status)
        assert.same({id = id, done = true}, r.json)
        for _, it in ipairs(srv:request("GET", "/items", {token = ALICE}).json) do
          assert.are_not.equal(id, it.id)
        end
      end)

      it("answers 200 again for an item already done", function()
        local id = post(ALICE, item_json("twice", "")).json.id
        srv:request("DELETE", "/items/" .. id, {token = ALICE})
        local r = srv:request("DELETE", "/items/" .. id, {token = ALICE})
        assert.equal(200, r.status)
        assert.same({id = id, done = true}, r.json)
      end)

      it("answers 403 for another user's item and leaves it open", function()
        local id = post(ALICE, item_json("not bob's", "")).json.id
        assert.equal(403, srv:request("DELETE", "/items/" .. id, {token = BOB}).status)
        local found = false
        for _, it in ipairs(srv:request("GET", "/items", {token = ALICE}).json) do
          found = found or it.id == id
        end
        assert.is_true(found)
      end)

      it("answers 404 and 400 as GET does", function()
        assert.equal(404, srv:request("DELETE", "/items/424242", {token = ALICE}).status)
        assert.equal(400, srv:request("DELETE", "/items/x", {token = ALICE}).status)
      end)
    end)

    describe("authentication", function()
      local routes = {
        {"GET", "/items"}, {"POST", "/items"}, {"GET", "/items/1"},
        {"DELETE", "/items/1"},
      }
      for _, rt in ipairs(routes) do
        it("answers 401 on " .. rt[1] .. " " .. rt[2] .. " without a token", function()
          local r = srv:request(rt[1], rt[2], {json = item_json("x", "")})
          assert.equal(401, r.status)
          assert.same({error = "missing bearer token"}, r.json)
          assert.equal("Bearer", r.headers["www-authenticate"])
        end)
      end

      it("answers 401 for a wrong token, another scheme, or an empty one", function()
        local cases = {
          {"Authorization: Bearer wrong-secret", "invalid token"},
          {"Authorization: Bearer at_00000000000000000000000000000000", "invalid token"},
          {"Authorization: Bearer " .. ("x"):rep(600), "invalid token"},
          {"Authorization: Basic YWxpY2U6YWxpY2Utc2VjcmV0", "missing bearer token"},
          {"Authorization: Bearer ", "missing bearer token"},
        }
        for _, c in ipairs(cases) do
          local r = srv:request("GET", "/items", {headers = {c[1]}})
          assert.equal(401, r.status)
          assert.same({error = c[2]}, r.json)
        end
      end)

      it("takes the scheme in any case", function()
        local r = srv:request("GET", "/items", {headers = {"Authorization: bearer " .. ALICE}})
        assert.equal(200, r.status)
      end)
    end)

    describe("POST /token", function()
      local function token(body, headers)
        return srv:request("POST", "/token", {json = body, headers = headers})
      end

      it("issues an access token that works as the user's own", function()
        local r = token('{"user":"bob","secret":"bob-secret"}')
        assert.equal(200, r.status)
        assert.equal(3600, r.json.expires_in)
        assert.matches("^at_%x+$", r.json.access_token)
        local id = post(r.json.access_token, item_json("via token", "")).json.id
        assert.equal(200, srv:request("GET", "/items/" .. id, {token = BOB}).status)
        assert.equal(403, srv:request("GET", "/items/" .. id, {token = ALICE}).status)
      end)

      it("issues a new token every time", function()
        local a = token('{"user":"alice","secret":"alice-secret"}').json.access_token
        local b = token('{"user":"alice","secret":"alice-secret"}').json.access_token
        assert.are_not.equal(a, b)
      end)

      it("answers 401 for a wrong secret or an unknown user", function()
        for _, body in ipairs({'{"user":"alice","secret":"bob-secret"}',
                               '{"user":"carol","secret":"alice-secret"}'}) do
          local r = token(body)
          assert.equal(401, r.status)
          assert.same({error = "wrong user or secret"}, r.json)
        end
      end)

      it("answers 400 without user and secret strings, 415 without JSON", function()
        assert.equal(400, token('{"user":"alice"}').status)
        assert.equal(400, token('{"user":"alice","secret":7}').status)
        assert.equal(400, token('nope').status)
        local r = srv:request("POST", "/token", {body = "user=alice"})
        assert.equal(415, r.status)
      end)
    end)

    describe("routing", function()
      it("answers 404 for an unknown path", function()
        for _, path in ipairs({"/", "/nope", "/items/1/extra", "/items/", "/tokens"}) do
          local r = srv:request("GET", path, {token = ALICE})
          assert.equal(404, r.status)
          assert.same({error = "no such path"}, r.json)
        end
      end)

      it("answers 405 with Allow for a wrong method on a known path", function()
        local cases = {
          {"PUT", "/items", "GET, HEAD, POST"}, {"PATCH", "/items/1", "GET, HEAD, PUT, DELETE"},
          {"POST", "/items/1", "GET, HEAD, PUT, DELETE"}, {"GET", "/token", "POST"},
          {"POST", "/_stats", "GET, HEAD, DELETE"},
        }
        for _, c in ipairs(cases) do
          local r = srv:request(c[1], c[2], {token = ALICE})
          assert.equal(405, r.status)
          assert.equal(c[3], r.headers.allow)
          assert.is_string(r.json.error)
        end
      end)

      it("ignores a query string", function()
        assert.equal(200, srv:request("GET", "/items?page=2", {token = ALICE}).status)
      end)
    end)

    it("answers every request with a JSON body and Content-Type", function()
      local reqs = {
        {path = "/items", token = ALICE}, {path = "/items"},
        {path = "/items/1", token = BOB}, {path = "/items/x", token = ALICE},
        {path = "/nope"}, {method = "PUT", path = "/items"},
        {method = "POST", path = "/items", token = ALICE, body = "x"},
        {method = "POST", path = "/items", token = ALICE, json = "{"},
        {method = "POST", path = "/items", token = ALICE, json = item_json("ok", "")},
        {method = "POST", path = "/token", json = '{"user":"a","secret":"b"}'},
        {method = "DELETE", path = "/items/1", token = ALICE},
        {path = "/_stats"},
      }
      local statuses = {}
      for i, r in ipairs(srv:batch(reqs)) do
        assert.equal("application/json", r.headers["content-type"])
        local ok, body = pcall(cjson.decode, r.body)
        assert.is_true(ok, "request " .. i .. " body: " .. r.body)
        assert.equal("table", type(body))
        if r.status >= 400 then assert.is_string(body.error) end
        statuses[i] = r.status
      end
      assert.same({200, 401, 403, 400, 404, 405, 415, 400, 201, 401, 200, 200}, statuses)
    end)

    it("keeps serving after bad input", function()
      srv:batch({
        {method = "FOO", path = "/items"}, {path = "/items/%00"},
        {path = "/items", headers = {"Authorization: Bearer \1\2\3"}},
        {method = "POST", path = "/items", token = ALICE, json = ("{"):rep(70000)},
      })
      assert.equal(200, srv:request("GET", "/items", {token = ALICE}).status)
    end)
  end)

  describe("token expiry", function()
    it("answers 401 'token expired' once --token-ttl has passed", function()
      local srv <close> = todo.start{"--token-ttl", "0.6"}
      local r = srv:request("POST", "/token",
                            {json = '{"user":"alice","secret":"alice-secret"}'})
      assert.equal(1, r.json.expires_in)
      local tok = r.json.access_token
      assert.equal(200, srv:request("GET", "/items", {token = tok}).status)
      todo.sleep(0.7)
      local late = srv:request("GET", "/items", {token = tok})
      assert.equal(401, late.status)
      assert.same({error = "token expired"}, late.json)
      -- the user's own secret never expires
      assert.equal(200, srv:request("GET", "/items", {token = ALICE}).status)
      assert.same({true, "exit", 0}, {srv:stop()})
    end)
  end)

  describe("--user", function()
    it("replaces the default users", function()
      local srv <close> = todo.start{"--user", "carol:c-secret", "--user", "dave:d-secret"}
      assert.equal(200, srv:request("GET", "/items", {token = "c-secret"}).status)
      assert.equal(401, srv:request("GET", "/items", {token = ALICE}).status)
      local r = srv:request("POST", "/token", {json = '{"user":"dave","secret":"d-secret"}'})
      assert.equal(200, r.status)
    end)
  end)

  describe("/_stats", function()
    local srv
    setup(function() srv = todo.start() end)
    teardown(function() srv:stop() end)

    it("counts requests, items and replays, but not itself", function()
      srv:reset_stats()
      srv:batch({
        {path = "/items", token = ALICE},
        {method = "POST", path = "/items", token = ALICE, json = item_json("a", "")},
        {method = "POST", path = "/items", token = ALICE, json = item_json("a", ""),
         headers = {"Idempotency-Key: s1"}},
        {method = "POST", path = "/items", token = ALICE, json = item_json("a", ""),
         headers = {"Idempotency-Key: s1"}},
        {path = "/nope"},
        {path = "/_stats"},
      })
      local s = srv:stats()
      assert.equal(5, s.requests)
      assert.equal(2, s.items_created)
      assert.equal(1, s.idempotent_replays)
      for name, n in pairs(s.faults) do assert.equal(0, n, name) end
    end)

    it("lists every fault counter", function()
      local names = {}
      for name in pairs(srv:stats().faults) do names[#names + 1] = name end
      table.sort(names)
      assert.same({"fail", "lag_404", "lose_response", "missing_field", "outage",
                   "reset", "slow", "spurious_401", "throttle"}, names)
    end)

    it("zeroes the counters on DELETE", function()
      srv:request("GET", "/items", {token = ALICE})
      local s = srv:reset_stats()
      assert.equal(0, s.requests)
      assert.equal(0, s.items_created)
      assert.equal(0, srv:stats().requests)
    end)

    it("counts open connections and their peak", function()
      srv:reset_stats()
      local reqs = {}
      for i = 1, 64 do reqs[i] = {path = "/items", token = ALICE} end
      srv:batch(reqs, {parallel = 8})
      local s = srv:stats()
      assert.is_true(s.connections >= 1 and s.connections <= 9, s.connections)
      assert.is_true(s.connections_peak >= 2 and s.connections_peak <= 10,
                     s.connections_peak)
      local after = srv:reset_stats()
      assert.is_true(after.connections_peak == after.connections)
    end)
  end)
end)
