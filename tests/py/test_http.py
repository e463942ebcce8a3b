#!/usr/bin/python3
"""kiln serve: the HTTP API on a loopback port the test picks (port 0)."""
import hashlib
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kilntest  # noqa: E402
from kilntest import KILN, b64, main  # noqa: E402

KEY = "test-key-0123456789"
CSV = "city,temp,rain\nOslo,4.5,12\nRome,18.25,3\nLima,19,0\nOslo,5,10\n"


class Server:
    def __init__(self, env, *args, extra_env=None, wait=True):
        e = dict(env.env)
        e.update(extra_env or {})
        self.p = subprocess.Popen([KILN, "serve", "--listen", "127.0.0.1:0", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.port = None
        self._err = b""
        if wait:
            self.port = self._read_port()

    def _read_port(self, timeout=60):
        end = time.time() + timeout
        line = b""
        while time.time() < end and not line.endswith(b"\n"):
            r, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if r:
                ch = os.read(self.p.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        text = line.decode()
        assert text.startswith("listening on http://127.0.0.1:"), \
            f"first line {text!r}, stderr {self.stderr()[:500]!r}"
        return int(text.rsplit(":", 1)[1])

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def req(self, method, path, body=None, headers=None, key=KEY, timeout=60):
        h = dict(headers or {})
        if key:
            h.setdefault("Authorization", "Bearer " + key)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def action(self, request, **kw):
        st, h, data = self.req("POST", "/v1/actions", request, **kw)
        try:
            return st, h, json.loads(data)
        except ValueError:
            raise AssertionError(f"not JSON ({st}): {data[:300]!r}")

    def health(self):
        return json.loads(self.req("GET", "/health", key=None)[2])

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("server did not stop")
        self._err += self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return rc

    def stderr(self):
        return self._err.decode(errors="replace")


def serve(env, *args, keys=KEY, extra_env=None):
    e = {"KILN_API_KEYS": keys} if keys else {}
    e.update(extra_env or {})
    return Server(env, *args, extra_env=e)


def analyze_request(csv=CSV, name="weather.csv", report="html"):
    return {"action": "processFile", "arguments": {
        "operation": "analyze", "fileBase64": b64(csv), "fileName": name,
        "options": {"report": report}}}


def slow_request(secs=2):
    return {"action": "executeCode", "arguments": {
        "code": f"import time\ntime.sleep({secs})\nprint('slept')"}}


def wait_for(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_health_needs_no_key_and_auth_styles(env):
    s = serve(env, "--workers", "1", keys="other-key," + KEY)
    try:
        st, h, data = s.req("GET", "/health", key=None)
        body = json.loads(data)
        assert st == 200 and body["status"] == "ok" and body["version"], (st, body)
        for hdrs in [{}, {"Authorization": "Bearer wrong"}, {"X-Api-Key": KEY + "x"},
                     {"X-Api-Key": KEY[:-1]}, {"Authorization": "Basic " + KEY}]:
            st, h, data = s.req("GET", "/v1/files", headers=hdrs, key=None)
            assert st == 401, (hdrs, st, data)
            assert h.get("www-authenticate", "").startswith("Bearer"), h
            assert json.loads(data)["error"]["code"] == "UNAUTHORIZED"
        for hdrs in [{"Authorization": "Bearer " + KEY}, {"authorization": "bearer other-key"},
                     {"X-Api-Key": KEY}]:
            st, h, data = s.req("GET", "/v1/files", headers=hdrs, key=None)
            assert st == 200, (hdrs, st, data)
            assert json.loads(data)["files"] == []
        # /metrics needs a key by default.
        assert s.req("GET", "/metrics", key=None)[0] == 401
        assert s.req("GET", "/metrics")[0] == 200
    finally:
        assert s.stop() == 0
    assert KEY not in s.stderr() and "other-key" not in s.stderr()


def test_action_download_and_delete(env):
    s = serve(env, "--workers", "2")
    try:
        st, h, out = s.action(analyze_request())
        assert st == 200 and out["ok"] is True, out
        assert h["content-type"].startswith("application/json")
        assert out["result"]["rows"] == 4
        files = out["files"]
        assert files, out
        f = files[0]
        st, h, data = s.req("GET", "/v1/files/" + f["id"])
        assert st == 200
        assert len(data) == f["size"]
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert h["content-type"] == f["mimeType"], (h, f)
        cd = h["content-disposition"]
        assert cd.startswith("attachment;") and \
            ("filename*=UTF-8''" + urllib.parse.quote(f["name"])) in cd, cd
        # Listed, then deleted, then gone.
        st, _, data = s.req("GET", "/v1/files")
        assert f["id"] in [x["id"] for x in json.loads(data)["files"]]
        st, _, data = s.req("DELETE", "/v1/files/" + f["id"])
        assert st == 204 and data == b"", (st, data)
        st, _, data = s.req("GET", "/v1/files/" + f["id"])
        assert st == 404 and json.loads(data)["error"]["code"] == "NOT_FOUND", (st, data)
        assert s.req("DELETE", "/v1/files/" + f["id"])[0] == 404
        assert s.req("GET", "/v1/files/f_" + "0" * 32)[0] == 404
    finally:
        assert s.stop() == 0


def test_session_list_and_utf8_filename(env):
    s = serve(env, "--workers", "1")
    try:
        code = ("with open('r\u00e9sum\u00e9 \"q\" 100%.txt', 'w') as f:\n"
                "    f.write('caf\u00e9')\n")
        st, _, out = s.action({"action": "executeCode",
                               "arguments": {"code": code, "session": "sess-1"}})
        assert st == 200 and out["ok"], out
        f = out["files"][0]
        assert f["scope"] == "session"
        st, _, data = s.req("GET", "/v1/files?session=sess-1")
        listed = json.loads(data)["files"]
        assert [x["id"] for x in listed] == [f["id"]], listed
        st, _, data = s.req("GET", "/v1/files?session=other")
        assert json.loads(data)["files"] == []
        # a typo or a bad id is an error (each listed every file of the store)
        for q, says in (("sesion=sess-1", "unknown query argument 'sesion'"),
                        ("session=", "session"), ("session=../x", "session"),
                        ("session=sess-1&x=1", "unknown query argument 'x'")):
            st, _, data = s.req("GET", "/v1/files?" + q)
            e = json.loads(data)
            assert st == 400 and e["error"]["code"] == "INVALID_REQUEST", (q, st, e)
            assert says in e["error"]["message"], (q, e)
        st, _, data = s.req("GET", "/v1/files")
        assert [x["id"] for x in json.loads(data)["files"]] == [f["id"]]
        st, h, data = s.req("GET", "/v1/files/" + f["id"])
        assert data == "caf\u00e9".encode()
        cd = h["content-disposition"]
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22q%22%20100%25.txt" in cd, cd
        assert 'filename="r' in cd and '\u00e9' not in cd, cd
    finally:
        s.stop()
    # The access log has the path but never the query string.
    assert "GET /v1/files 200" in s.stderr(), s.stderr()
    assert "sess-1" not in s.stderr()


def test_errors_are_json_with_status(env):
    s = serve(env, "--workers", "1")
    try:
        st, _, out = s.action(b"{not json", headers={"Content-Type": "application/json"})
        assert st == 400 and out["ok"] is False, (st, out)
        assert out["error"]["code"] == "INVALID_REQUEST" and "malformed JSON" in \
            out["error"]["message"]
        # A well-formed but invalid request is an action-level failure: 200.
        st, _, out = s.action({"action": "nope", "arguments": {}})
        assert st == 200 and out["error"]["code"] == "INVALID_REQUEST", (st, out)
        st, _, out = s.action({"action": "executeCode", "arguments": {"code": "1/0"},
                               "id": "req-7"})
        assert st == 200 and out["error"]["code"] == "CODE_ERROR" and out["id"] == "req-7"
        st, _, out = s.action(b'{"action":"executeCode","arguments":{"code":"print(1)"}}',
                              headers={"Content-Type": "text/plain"})
        assert st == 415, st
        st, _, out = s.action(b'{"action":"executeCode","arguments":{"code":"print(2)"}}',
                              headers={"Content-Type": "application/json; charset=utf-8"})
        assert st == 200 and out["result"]["stdout"] == "2\n", out
        st, h, _ = s.req("GET", "/v1/actions")
        assert st == 405 and h["allow"] == "POST", (st, h)
        st, h, _ = s.req("PUT", "/v1/files/f_x")
        assert st == 405 and "DELETE" in h["allow"]
        assert s.req("GET", "/v2/whatever")[0] == 404
        assert s.req("GET", "/")[0] == 404
    finally:
        assert s.stop() == 0


def test_request_too_large_413(env):
    s = serve(env, "--workers", "1", extra_env={"KILN_MAX_REQUEST_BYTES": "2000"})
    try:
        big = analyze_request(csv="x\n" + "1\n" * 3000)
        st, h, out = s.action(big)
        assert st == 413 and out["error"]["code"] == "REQUEST_TOO_LARGE", (st, out)
        # Without a Content-Length (chunked): refused while receiving.
        body = json.dumps(big).encode()
        c = s.conn()
        c.request("POST", "/v1/actions", body=iter([body[i:i + 500]
                                                    for i in range(0, len(body), 500)]),
                  headers={"Authorization": "Bearer " + KEY,
                           "Content-Type": "application/json"}, encode_chunked=True)
        r = c.getresponse()
        assert r.status == 413, r.status
        r.read()
        c.close()
        # Under the cap it works.
        st, _, out = s.action(analyze_request(report="none"))
        assert st == 200 and out["ok"], out
    finally:
        assert s.stop() == 0


def test_busy_503_with_retry_after(env):
    s = serve(env, "--workers", "1", "--queue", "0")
    res = {}
    try:
        t = threading.Thread(target=lambda: res.update(r=s.action(slow_request(2))))
        t.start()
        assert wait_for(lambda: s.health()["inFlight"] == 1), "slow action never started"
        st, h, out = s.action({"action": "executeCode", "arguments": {"code": "print(1)"}})
        assert st == 503 and h.get("retry-after") == "1", (st, h, out)
        assert out["error"]["code"] == "BUSY"
        t.join(60)
        st, _, out = res["r"]
        assert st == 200 and out["ok"] and out["result"]["stdout"] == "slept\n", out
        want = 'kiln_http_requests_total{endpoint="actions",code="503"} 1'
        wait_for(lambda: want in s.req("GET", "/metrics")[2].decode(), 10)
        _, _, m = s.req("GET", "/metrics")
        assert want in m.decode(), m
        assert "kiln_rejected_total 1" in m.decode()
    finally:
        assert s.stop() == 0


def test_graceful_sigterm_finishes_in_flight(env):
    s = serve(env, "--workers", "2")
    res = {}
    t = threading.Thread(target=lambda: res.update(r=s.action(slow_request(2))))
    t.start()
    assert wait_for(lambda: s.health()["inFlight"] == 1), "slow action never started"
    t0 = time.time()
    s.p.send_signal(signal.SIGTERM)
    t.join(60)
    rc = s.p.wait(60)
    s.stop()
    assert rc == 0, (rc, s.stderr())
    st, _, out = res["r"]
    assert st == 200 and out["ok"] and out["result"]["stdout"] == "slept\n", out
    assert time.time() - t0 < 30
    assert "finishing 1 running" in s.stderr(), s.stderr()
    # The port is closed now.
    try:
        s.req("GET", "/health", key=None, timeout=5)
        raise AssertionError("server still answers after shutdown")
    except OSError:
        pass


def test_second_sigterm_ends_running_actions_and_leaves_nothing(env):
    """A second SIGTERM ends the running actions at once: the queued one
    is answered 503 BUSY (it read SANDBOX_ERROR), and the scratch dirs of
    the killed workers are gone when the server has stopped (they stayed
    until kiln gc)."""
    s = serve(env, "--workers", "2", "--queue", "4")
    res = {}
    ts = [threading.Thread(target=lambda i=i: res.update({i: s.action(slow_request(30))}))
          for i in range(3)]
    for t in ts:
        t.start()
    assert wait_for(lambda: s.health()["inFlight"] == 2), "slow actions never started"
    time.sleep(0.5)  # the third is queued
    s.p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    s.p.send_signal(signal.SIGTERM)
    for t in ts:
        t.join(60)
    rc = s.p.wait(60)
    s.stop()
    assert rc == 0, (rc, s.stderr())
    codes = sorted((st, out["error"]["code"]) for st, _, out in res.values())
    assert (503, "BUSY") in codes and "SANDBOX_ERROR" not in str(codes), codes
    scratch = env.env["KILN_SCRATCH_DIR"]
    left = [n for n in os.listdir(scratch) if n.startswith("run-")] \
        if os.path.isdir(scratch) else []
    assert left == [], left


def proc_tree(pid):
    """{pid: comm} of the live processes under pid."""
    return {p: c for p, (c, st) in kilntest.proc_tree(pid).items() if st != "Z"}


def test_idle_server_keeps_a_spare(env):
    """Idle and warm, the server keeps a spare worker (and its sandbox,
    named kiln-spare) from its zygote; the next action runs in it, in the
    same sandbox as any; SIGTERM leaves no process and no scratch dir."""
    s = serve(env)
    try:
        def spares():
            return sorted(p for p, c in proc_tree(s.p.pid).items() if c == "kiln-spare")
        assert wait_for(lambda: len(spares()) == 2), proc_tree(s.p.pid)
        first = spares()
        probe = ("import os\n"
                 "st = {l.split(':')[0]: l.split(':')[1].strip() for l in open('/proc/self/status')}\n"
                 "print(os.getpid(), st['Seccomp'], st['NoNewPrivs'], os.uname().nodename)\n")
        st, _, out = s.action({"action": "executeCode", "arguments": {"code": probe}})
        assert st == 200 and out["ok"], out
        assert out["result"]["stdout"] == "1 2 1 kiln\n", out["result"]
        assert not [p for p in first if p in proc_tree(s.p.pid) and
                    proc_tree(s.p.pid).get(p) == "kiln-spare"], "the spare did not take the action"
        assert wait_for(lambda: len(spares()) == 2), "no new spare after the action"
        pids = list(proc_tree(s.p.pid))
    finally:
        assert s.stop() == 0
    assert wait_for(lambda: not [p for p in pids if os.path.exists(f"/proc/{p}/stat") and
                                 open(f"/proc/{p}/stat").read().split(") ")[1][0] != "Z"], 10), \
        "processes left after SIGTERM"
    # (kilntest checks that no scratch dir is left)


def test_api_keys_not_in_sandbox_memory(env):
    """Workers and their sandboxes are forks of the server: the server keeps
    only SHA-256 digests of its API keys (from KILN_API_KEYS, wiped in place,
    and from --api-key-file) and the sandbox wipes the environment strings,
    so code reading its own memory finds no key and no environment secret.
    Both keys still authenticate."""
    keyfile = os.path.join(env.dir, "keys.txt")
    with open(keyfile, "w") as f:
        f.write("# keys\n%s\n" % kilntest.secret("keyfile"))
    os.chmod(keyfile, 0o600)
    s = serve(env, "--api-key-file", keyfile, keys=kilntest.secret("key") + "," + KEY,
              extra_env={"DATABASE_URL": "postgres://app:%s@db/prod" % kilntest.secret("env")})
    try:
        probe = {"action": "executeCode", "arguments": {"code": kilntest.MEMORY_PROBE}}
        for i in range(2):  # a standby's sandbox, then one right after a call
            if i == 0:
                assert wait_for(lambda: "kiln-spare" in proc_tree(s.p.pid).values())
            st, _, out = s.action(probe, key=KEY)
            assert st == 200 and out["ok"], out
            if not kilntest.check_memory_probe(out["result"]["stdout"]):
                return "skip"
        for k in (kilntest.secret("key"), kilntest.secret("keyfile")):
            assert s.req("GET", "/v1/files", key=k)[0] == 200
        assert s.req("GET", "/v1/files", key=kilntest.secret("key")[:-1])[0] == 401
        with open(f"/proc/{s.p.pid}/environ", "rb") as f:
            assert kilntest.secret("key").encode() not in f.read(), "KILN_API_KEYS not wiped"
    finally:
        assert s.stop() == 0


def test_other_callers_request_not_in_sandbox_memory(env):
    """While the standby is taken, workers are forked by the zygote, which
    has read each request: it wipes the text after the fork, so the next
    caller's sandbox (a copy of the zygote) finds nothing of it in its
    memory."""
    s = serve(env, "--workers", "3")
    try:
        assert wait_for(lambda: "kiln-spare" in proc_tree(s.p.pid).values())
        slow = threading.Thread(target=s.action, args=(slow_request(4),))
        slow.start()  # takes the standby: the next calls go through the zygote
        try:
            first = {"action": "executeCode", "arguments": {
                "code": "x = %r\nprint(len(x))" % kilntest.secret("env")}}
            st, _, out = s.action(first)
            assert st == 200 and out["ok"], out
            probe = {"action": "executeCode", "arguments": {"code": kilntest.MEMORY_PROBE}}
            st, _, out = s.action(probe)
            assert st == 200 and out["ok"], out
            if not kilntest.check_memory_probe(out["result"]["stdout"]):
                return "skip"
        finally:
            slow.join()
    finally:
        assert s.stop() == 0


def test_cleanup_counts_against_workers(env):
    """A worker answers first and then removes its sandbox and scratch dir;
    until that is done it still holds its slot: with --workers 1, never two
    workers at once, however long a cleanup takes."""
    s = serve(env, "--workers", "1")
    try:
        many = {"action": "executeCode", "arguments": {"code": (
            "import os\nos.mkdir('d')\n"
            "for i in range(20000):\n    open('d/%d' % i, 'w').close()\nprint('made')\n")}}
        quick = {"action": "executeCode", "arguments": {"code": "print('next')"}}
        res, peak, stop = {}, [0], threading.Event()

        def watch():
            while not stop.is_set():
                tree = proc_tree(s.p.pid)
                peak[0] = max(peak[0], sum(1 for c in tree.values() if c == "kiln"))
                time.sleep(0.002)
        w = threading.Thread(target=watch)
        w.start()
        a = threading.Thread(target=lambda: res.update(a=s.action(many)))
        a.start()
        time.sleep(0.3)
        b = threading.Thread(target=lambda: res.update(b=s.action(quick)))
        b.start()
        a.join(120)
        b.join(120)
        stop.set()
        w.join()
        # (20000 files are more outputs than allowed: OUTPUT_TOO_LARGE, and a
        # long scratch dir removal after the answer)
        assert res["a"][2]["error"]["code"] == "OUTPUT_TOO_LARGE", res["a"]
        assert res["a"][2]["error"]["stdout"] == "made\n", res["a"]
        assert res["b"][2]["ok"] and res["b"][2]["result"]["stdout"] == "next\n", res["b"]
        # a worker, and its sandbox while the code runs (both named kiln)
        assert peak[0] <= 2, f"{peak[0]} kiln processes at once under --workers 1"
    finally:
        assert s.stop() == 0


def test_refuses_public_listen_without_key(env):
    e = dict(env.env)
    for addr in ["0.0.0.0:0", "[::]:0"]:
        p = subprocess.run([KILN, "serve", "--listen", addr], capture_output=True, env=e,
                           timeout=60)
        assert p.returncode == 2, (addr, p.returncode, p.stderr)
        assert b"API key" in p.stderr and p.stdout == b"", p
    p = subprocess.run([KILN, "serve", "--listen", "nonsense"], capture_output=True, env=e,
                       timeout=60)
    assert p.returncode == 2 and b"listen" in p.stderr, p


def test_concurrent_clients(env):
    """32 clients at once: 12 real actions on 4 workers, the rest cheap requests."""
    s = serve(env, "--workers", "4", "--queue", "64")
    n = 32
    results = [None] * n
    try:
        def one(i):
            if i % 8 == 0 or i % 8 == 3 or i % 8 == 5:
                csv = "n,v\n" + "".join(f"{k},{k * i}\n" for k in range(5))
                results[i] = ("analyze", s.action(
                    analyze_request(csv=csv, name=f"t{i}.csv", report="none"), timeout=300))
            elif i % 2:
                results[i] = ("invalid", s.action({"action": "processFile", "arguments": {
                    "operation": "nope", "fileBase64": b64("a\n1\n")}, "id": i}, timeout=300))
            else:
                st, h, data = s.req("GET", "/v1/files", timeout=300)
                results[i] = ("list", (st, h, json.loads(data)))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(300)
        n_actions = 0
        for i, r in enumerate(results):
            assert r is not None, i
            kind, (st, _, out) = r
            assert st == 200, (i, st, out)
            if kind == "analyze":
                n_actions += 1
                assert out["ok"] and out["result"]["rows"] == 5, (i, out)
                assert out["result"]["columns"][1]["max"] == 4 * i, (i, out)
            elif kind == "invalid":
                n_actions += 1
                assert out["error"]["code"] == "INVALID_REQUEST" and out["id"] == i, out
            else:
                assert out == {"files": []}, out
        # Requests are counted when libmicrohttpd reports them complete, which
        # may be just after the client has read the response.
        want = f'kiln_http_requests_total{{endpoint="actions",code="200"}} {n_actions}'
        wait_for(lambda: want in s.req("GET", "/metrics")[2].decode(), 10)
        m = s.req("GET", "/metrics")[2].decode()
        assert want in m, m
        assert f"kiln_action_duration_seconds_count {n_actions}" in m, m
        assert 'kiln_actions_total{result="ok"} 12' in m, m
        assert "kiln_actions_in_flight 0" in m and "kiln_queue_depth 0" in m
        assert "kiln_sandbox_failures_total 0" in m
    finally:
        assert s.stop() == 0
    assert s.stderr().count("POST /v1/actions 200") == n_actions


def test_metrics_public_option_and_ipv6(env):
    s = serve(env, "--workers", "1", "--metrics-public")
    try:
        st, h, data = s.req("GET", "/metrics", key=None)
        assert st == 200 and h["content-type"].startswith("text/plain"), (st, h)
        assert "# TYPE kiln_http_requests_total counter" in data.decode()
    finally:
        s.stop()
    e = dict(env.env)
    e["KILN_API_KEYS"] = KEY
    p = subprocess.Popen([KILN, "serve", "--listen", "[::1]:0", "--workers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    try:
        line = p.stdout.readline().decode()
        if not line.startswith("listening on http://[::1]:"):
            if b"cannot listen" in p.stderr.read():
                return "skip"  # no IPv6 loopback on this host
            raise AssertionError(line)
        port = int(line.rsplit(":", 1)[1])
        c = http.client.HTTPConnection("::1", port, timeout=30)
        c.request("GET", "/health")
        assert c.getresponse().status == 200
        c.close()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(60) == 0
        p.stdout.close()
        p.stderr.close()


def test_serve_settings_from_the_config_file(env):
    keyfile = os.path.join(env.dir, "keys.txt")
    with open(keyfile, "w") as f:
        f.write("# bench and test keys\nfrom-the-file-0123456789\n")
    cfg = os.path.join(env.dir, "kiln.json")
    with open(cfg, "w") as f:
        json.dump({"serve": {"listen": "127.0.0.1:1", "api_key_file": keyfile, "workers": 1,
                             "queue": 3, "metrics_public": True}}, f)
    # --listen (from Server) overrides the file's listen; the rest comes from the file.
    s = Server(env, extra_env={"KILN_CONFIG": cfg})
    try:
        h = s.health()
        assert h["workers"] == 1 and h["queue"] == 3, h
        st, _, _ = s.req("GET", "/metrics", key=None)
        assert st == 200
        st, _, body = s.action({"action": "executeCode", "arguments": {"code": "print(6*7)"}},
                               key="from-the-file-0123456789")
        assert st == 200 and body["ok"] and body["result"]["stdout"] == "42\n", body
        st, _, _ = s.req("POST", "/v1/actions", {"action": "executeCode"}, key=KEY)
        assert st == 401, st
    finally:
        assert s.stop() == 0
    # The environment overrides the file.
    s = Server(env, extra_env={"KILN_CONFIG": cfg, "KILN_QUEUE": "5"})
    try:
        assert s.health()["queue"] == 5
    finally:
        s.stop()
    with open(cfg, "w") as f:
        json.dump({"serve": {"workers": 0, "bogus": 1}}, f)
    e = dict(env.env)
    e["KILN_CONFIG"] = cfg
    p = subprocess.run([KILN, "serve", "--listen", "127.0.0.1:0"], env=e, capture_output=True,
                       timeout=60)
    assert p.returncode == 2 and b"serve." in p.stderr, p


if __name__ == "__main__":
    main(globals())
