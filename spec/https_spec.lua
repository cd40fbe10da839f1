-- retryrun.http over TLS against nginx: the certificate checked through
-- cacert=, HTTP/2 by ALPN where the server offers it, and calls in flight
-- together as streams of one connection under run.limits{per_host = 1}.
--
-- todo-server speaks plain HTTP only, so these specs need nginx and
-- openssl (`make bench-deps` installs both); without them every spec here
-- is reported as pending, never as passed.
local http = require "retryrun.http"
local run = require "retryrun.run"
local common = require "spec.support.common"

local function have(cmd)
  return common.sh("command -v " .. cmd) == 0
end

local MISSING = not (have("nginx") and have("openssl") and have("python3"))
  and "needs nginx, openssl and python3 (make bench-deps)"

local function free_port()
  return assert(tonumber(common.capture([[python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])))
end

--- nginx serving one JSON file over TLS, on three ports: `h1` offers
-- HTTP/1.1 only, `h2` and `h2_fresh` HTTP/2 too (`h2_fresh` for the one
-- spec that needs no connection to be open to it yet: libcurl keeps
-- connections from spec to spec). Each request is logged as
-- "<connection> <protocol>" in the file `log`.
local function start_nginx()
  local dir = common.capture("mktemp -d"):gsub("\n$", "")
  local ng = {dir = dir, cert = dir .. "/cert.pem", log = dir .. "/access.log"}
  local h1, h2, h2_fresh = free_port(), free_port(), free_port()
  local code, out = common.sh(([[
chmod 755 %s && mkdir -p %s/www %s/tmp && printf '[{"summary":"x"}]' >%s/www/items &&
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout %s/key.pem -out %s]]):format(dir, dir, dir, dir, dir, ng.cert))
  assert(code == 0, out)
  local conf = assert(io.open(dir .. "/nginx.conf", "w"))
  conf:write((([[
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log;
events { worker_connections 256; }
http {
  log_format proto '$connection $server_protocol';
  access_log DIR/access.log proto;
  client_body_temp_path DIR/tmp;
  proxy_temp_path DIR/tmp;
  fastcgi_temp_path DIR/tmp;
  uwsgi_temp_path DIR/tmp;
  scgi_temp_path DIR/tmp;
  ssl_certificate DIR/cert.pem;
  ssl_certificate_key DIR/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  root DIR/www;
  default_type application/json;
  server { listen 127.0.0.1:H1 ssl; }
  server { listen 127.0.0.1:H2 ssl http2; }
  server { listen 127.0.0.1:FRESH ssl http2; }
}
]]):gsub("DIR", dir):gsub("H1", h1):gsub("H2", h2):gsub("FRESH", h2_fresh)))
  conf:close()
  code, out = common.sh(("chmod -R a+rX %s/www && nginx -p %s -c %s/nginx.conf -e %s/error.log")
    :format(dir, dir, dir, dir))
  assert(code == 0, out)
  ng.h1 = ("https://127.0.0.1:%d/items"):format(h1)
  ng.h2 = ("https://127.0.0.1:%d/items"):format(h2)
  ng.h2_fresh = ("https://127.0.0.1:%d/items"):format(h2_fresh)
  for _ = 1, 100 do
    if common.sh(("curl -sf --cacert %s -o /dev/null %s"):format(ng.cert, ng.h2)) == 0 then
      break
    end
    common.sleep(0.05)
  end
  return ng
end

local function stop_nginx(ng)
  local f = io.open(ng.dir .. "/nginx.pid")
  local pid = f and tonumber(f:read("l"))
  if f then f:close() end
  if pid then common.stop_pid(pid, 5) end
  os.execute("rm -rf " .. common.quote(ng.dir))
end

--- The requests nginx logged since `from` lines: {protocol = count} and
-- the number of distinct connections. nginx writes its log line after
-- the answer, so the reader waits a moment for `want` lines.
local function logged(ng, from, want)
  local lines
  for _ = 1, 100 do
    lines = {}
    for line in io.lines(ng.log) do lines[#lines + 1] = line end
    if #lines - from >= want then break end
    common.sleep(0.02)
  end
  local protocols, conns, nconns = {}, {}, 0
  for i = from + 1, #lines do
    local conn, proto = lines[i]:match("^(%d+) (%S+)$")
    protocols[proto] = (protocols[proto] or 0) + 1
    if not conns[conn] then conns[conn], nconns = true, nconns + 1 end
  end
  return protocols, nconns, #lines
end

describe("https", function()
  local ng
  setup(function()
    if MISSING then return end
    ng = start_nginx()
    -- the readiness probe's own line, written after its answer, before
    -- any spec counts lines
    logged(ng, 0, 1)
  end)
  teardown(function() if ng then stop_nginx(ng) end end)
  after_each(common.restore_limits)

  local function calls(url, n)
    local list = {}
    for i = 1, n do list[i] = i end
    return run.map(list, function()
      local resp = http.get(url, {cacert = ng.cert})
      return resp.status .. " " .. resp:json()[1].summary
    end)
  end

  it("verifies a self-signed server through cacert= and speaks HTTP/1.1 where only that is offered", function()
    if MISSING then return pending(MISSING) end
    local _, _, start = logged(ng, 0, 0)
    local resp = http.get(ng.h1, {cacert = ng.cert, retry = false})
    assert.equal(200, resp.status)
    local protocols = logged(ng, start, 1)
    assert.same({["HTTP/1.1"] = 1}, protocols)
  end)

  it("refuses the same server without cacert=, as a tls failure", function()
    if MISSING then return pending(MISSING) end
    local ok, err = pcall(http.get, ng.h1, {retry = false})
    assert.is_false(ok)
    assert.equal("tls", err.attempts[1].error)
  end)

  it("verifies through a session's cacert=, and skips checks with its insecure=", function()
    if MISSING then return pending(MISSING) end
    local _, _, start = logged(ng, 0, 0)
    local s = http.session{base = ng.h1, cacert = ng.cert, retry = false}
    assert.equal(200, s:get("/items").status)
    assert.equal(200, http.session{base = ng.h1, insecure = true,
                                   retry = false}:get("/items").status)
    -- both logged before the next spec counts its own
    assert.same({["HTTP/1.1"] = 2}, (logged(ng, start, 2)))
    local ok, err = pcall(s.get, s, "/items", {cacert = "/nonexistent.pem"})
    assert.is_false(ok)
    assert.equal("tls", err.attempts[1].error)
    assert.has_error(function() http.session{insecure = "yes"} end,
                     'insecure must be true or false (got "yes")')
  end)

  it("checks again in the call after an insecure= or a cacert= one", function()
    if MISSING then return pending(MISSING) end
    for _ = 1, 2 do
      assert.equal(200, http.get(ng.h1, {insecure = true, retry = false}).status)
      local ok, err = pcall(http.get, ng.h1, {retry = false})
      assert.is_false(ok)
      assert.equal("tls", err.attempts[1].error)
      assert.equal(200, http.get(ng.h1, {cacert = ng.cert, retry = false}).status)
      ok, err = pcall(http.get, ng.h1, {retry = false})
      assert.is_false(ok)
      assert.equal("tls", err.attempts[1].error)
    end
  end)

  it("speaks HTTP/2 where the server offers it, with no option", function()
    if MISSING then return pending(MISSING) end
    local _, _, start = logged(ng, 0, 0)
    assert.equal(200, http.get(ng.h2, {cacert = ng.cert}).status)
    assert.same({["HTTP/2.0"] = 1}, (logged(ng, start, 1)))
  end)

  it("makes calls in flight together streams of one connection under per_host = 1", function()
    if MISSING then return pending(MISSING) end
    run.limits{per_host = 1}
    local _, _, start = logged(ng, 0, 0)
    local got = calls(ng.h2_fresh, 24)
    for i = 1, 24 do assert.equal("200 x", got[i]) end
    local protocols, nconns = logged(ng, start, 24)
    assert.same({["HTTP/2.0"] = 24}, protocols)
    assert.equal(1, nconns)
  end)
end)
