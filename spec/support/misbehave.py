#!/usr/bin/env python3
"""A tiny HTTP/1.1 server that misbehaves on purpose, for retryrun's specs.

It answers what todo-server cannot: too many or too long response headers,
a body that stops dripping, an endless body, a response lost on a reused
keep-alive connection. It listens on 127.0.0.1 on a port it picks, prints
'listening on http://127.0.0.1:PORT' as its first line, serves each
connection in a thread with keep-alive, and stops on SIGTERM. Standard
library only.

Routes (any method unless named):
  /ok                   200 "ok"
  /redirect             302 to /ok
  /headers?n=N&len=L    200 with N extra header lines, values L bytes long
  /long-header?kib=N    200 with one header line of N KiB
  /length?bytes=N       200 announcing Content-Length N, sending no body
                        (fit for HEAD)
  /drip?ms=N            200 announcing 1000 bytes, sending 10, then nothing
                        for N ms before closing
  /big?mib=N            200 with a body of N MiB, sent as fast as it goes;
                        with &length=0, without a Content-Length (the end
                        of the body is the end of the connection)
  DELETE or POST /lost/NAME
                        the first time: closes the connection without an
                        answer (as if the answer were lost after the work
                        was done); later: 404
  .../links?v=V&v=W     200 with a Link header line for each v, under any
                        path ending in /links
  /garbage?kind=K       an answer that is not HTTP: K "status" sends
                        "HTTP/1.1 abc", anything else a line of text;
                        then closes
  /_stats               {"requests": N}: the requests seen, /_stats aside
"""
import json
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

MAX_N = 1_000_000          # caps on what a query may ask for
MAX_KIB = 64 * 1024
MAX_MIB = 4096
MAX_MS = 60_000

lock = threading.Lock()
requests = 0
lost = set()


def number(query, name, default, cap):
    try:
        return max(0, min(int(query.get(name, [default])[0]), cap))
    except ValueError:
        return default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        global requests
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        if url.path == "/_stats":
            with lock:
                n = requests
            return self.send(200, json.dumps({"requests": n}).encode(),
                             [("Content-Type", "application/json")])
        with lock:
            requests += 1
        if url.path == "/ok":
            return self.send(200, b"ok")
        if url.path == "/redirect":
            return self.send(302, b"", [("Location", "/ok")])
        if url.path == "/headers":
            n = number(query, "n", 10, MAX_N)
            value = "v" * number(query, "len", 1, MAX_KIB)
            return self.send(200, b"ok",
                             [("X-H-%d" % i, value) for i in range(n)])
        if url.path == "/long-header":
            kib = number(query, "kib", 1, MAX_KIB)
            return self.send(200, b"ok", [("X-Long", "a" * (kib * 1024))])
        if url.path == "/length":
            n = number(query, "bytes", 0, 1 << 62)
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.close_connection = self.command != "HEAD"
            return None
        if url.path == "/drip":
            ms = number(query, "ms", 5000, MAX_MS)
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            time.sleep(ms / 1000)
            self.close_connection = True
            return None
        if url.path == "/big":
            mib = number(query, "mib", 1, MAX_MIB)
            self.send_response(200)
            if number(query, "length", 1, 1):
                self.send_header("Content-Length", str(mib << 20))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(mib):
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return None
        if url.path.endswith("/links"):
            return self.send(200, b"ok",
                             [("Link", v) for v in query.get("v", [])])
        if url.path == "/garbage":
            kind = query.get("kind", ["text"])[0]
            self.wfile.write(b"HTTP/1.1 abc\r\n\r\n" if kind == "status"
                             else b"hello there\n")
            self.close_connection = True
            return None
        if url.path.startswith("/lost/") and self.command in ("DELETE",
                                                              "POST"):
            with lock:
                first = url.path not in lost
                lost.add(url.path)
            if first:
                self.close_connection = True
                return None
            return self.send(404, b"no such item")
        return self.send(404, b"no such path")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = route


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that hangs up mid-answer is what the specs do on purpose
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on http://127.0.0.1:%d" % server.server_address[1],
          flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
