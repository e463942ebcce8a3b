#!/usr/bin/python3
"""Loopback HTTP server for the fetch tests (python3 stdlib only).

Usage: httpd.py LOGFILE [--v6]
Listens on 127.0.0.1 on a free port (and, with --v6, also on ::1 with the
same port when it can), prints the port on stdout, then serves until killed.
Every accepted connection is logged as "CONN <addr>" and every request as
"<METHOD> <path>" to LOGFILE, flushed at once, so a test can assert that the
server saw nothing.

Routes:
  /ok                 200, body "hello kiln\\n", text/csv
  /status/N           status N with a short body
  /redir/N            302 to /redir/N-1; /redir/0 is 200 "end of chain\\n"
  /to?u=URL&body=N    302 with Location: URL (URL percent-decoded from the query)
                      and a body of N bytes (default "moved\\n"); &pad=N
                      appends N letters 'a' to the URL
  /slow               200, Content-Length 100000, then one byte every 0.2 s
  /big?n=N&cl=0|1     200 with N bytes, with (cl=1) or without Content-Length
  /disp?v=VALUE       200 with Content-Disposition: VALUE
  /files/<anything>   200 with body "file\\n"
  /twolen?a=N&b=M     200 with two Content-Length headers, N and M, and a
                      body of max(N, M) bytes
"""
import http.server
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

LOG = None
LOCK = threading.Lock()


def log(line):
    with LOCK:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "kiln-test"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype="text/plain", extra=None, length=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log("GET " + self.path)
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        path = url.path
        try:
            if path == "/ok":
                self.send_body(200, b"hello kiln\n", "text/csv")
            elif path.startswith("/status/"):
                self.send_body(int(path[8:]), b"status body\n")
            elif path.startswith("/redir/"):
                n = int(path[7:])
                if n <= 0:
                    self.send_body(200, b"end of chain\n")
                else:
                    self.send_body(302, b"moved\n", extra={"Location": "/redir/%d" % (n - 1)})
            elif path == "/to":
                body = b"m" * int(q["body"][0]) if "body" in q else b"moved\n"
                loc = q["u"][0] + "a" * int(q.get("pad", ["0"])[0])
                self.send_body(302, body, extra={"Location": loc})
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for _ in range(150):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif path == "/big":
                n = int(q["n"][0])
                cl = q.get("cl", ["1"])[0] == "1"
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if cl:
                    self.send_header("Content-Length", str(n))
                self.end_headers()
                chunk = b"y" * 65536
                left = n
                while left > 0:
                    k = min(left, len(chunk))
                    self.wfile.write(chunk[:k])
                    left -= k
            elif path == "/disp":
                self.send_body(200, b"disposition\n", extra={"Content-Disposition": q["v"][0]})
            elif path == "/twolen":
                a, b = int(q["a"][0]), int(q["b"][0])
                self.send_response(200)
                self.send_header("Content-Length", str(a))
                self.send_header("Content-Length", str(b))
                self.end_headers()
                self.wfile.write(b"z" * max(a, b))
                self.close_connection = True
            elif path.startswith("/files/"):
                self.send_body(200, b"file\n")
            else:
                self.send_body(404, b"no such route\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def verify_request(self, request, client_address):
        log("CONN %s" % (client_address[0],))
        return True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    global LOG
    LOG = sys.argv[1]
    open(LOG, "w").close()
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    servers = [srv]
    if "--v6" in sys.argv[2:]:
        try:
            servers.append(Server6(("::1", port), Handler))
        except OSError:
            pass
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
