"""kiln mcp spoken to as raw JSON-RPC over pipes: handshake, version
negotiation, the JSON-RPC error codes, cancellation, EOF and signals."""
import json
import os
import select
import signal
import subprocess
import tempfile
import time

import kilntest
from kilntest import KILN, b64

LATEST = "2025-11-25"


class Mcp:
    def __init__(self, env, *args, warm=False, cwd=None, ignore=()):
        mode = [] if warm else ["--cold"]

        def pre():  # signals the server's own parent left ignored (nohup)
            for n in ignore:
                signal.signal(n, signal.SIG_IGN)

        self.p = subprocess.Popen([os.path.abspath(KILN), "mcp", *mode, *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env.env, cwd=cwd,
                                  preexec_fn=pre if ignore else None)
        self.buf = b""
        self.next_id = 100

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg))

    def recv(self, timeout=30):
        """The next message (dict), or None after timeout."""
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None, timeout=60, notes=None):
        """Send a request and return its response (notifications go to notes)."""
        self.next_id += 1
        rid = self.next_id
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait_for(rid, timeout, notes)

    def wait_for(self, rid, timeout=60, notes=None):
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.1, end - time.time()))
            assert m is not None, f"no response to request {rid}"
            if "id" in m and m["id"] == rid:
                return m
            if "method" in m and notes is not None:
                notes.append(m)
            elif "id" in m:
                raise AssertionError(f"unexpected message {m}")

    def init(self, version=LATEST):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "raw", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def close(self, timeout=20):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


def tree(pid):
    """pids whose parent chain leads to pid."""
    return list(kilntest.proc_tree(pid))


def alive(pid):
    try:
        st = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def err_code(m):
    assert "error" in m, f"expected an error, got {m}"
    return m["error"]["code"]


def test_handshake_and_ping(env):
    m = Mcp(env)
    try:
        r = m.request("ping")
        assert r["result"] == {}, r  # ping works before initialize
        r = m.init()["result"]
        assert r["protocolVersion"] == LATEST
        assert r["serverInfo"]["name"] == "kiln"
        assert r["capabilities"]["tools"] == {"listChanged": False}
        assert "resources" in r["capabilities"]
        assert "executeCode" in r["instructions"]
        # the initialized notification got no reply: the next message answers the ping
        r = m.request("ping")
        assert r == {"jsonrpc": "2.0", "id": m.next_id, "result": {}}, r
        r = m.request("initialize", {"protocolVersion": LATEST})
        assert err_code(r) == -32600
    finally:
        assert m.close() == 0


def test_version_negotiation(env):
    for asked, got in [("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"),
                       ("2025-03-26", "2025-03-26"), ("2024-11-05", "2024-11-05"),
                       ("1999-01-01", LATEST), ("2099-12-31", LATEST)]:
        m = Mcp(env)
        try:
            r = m.init(asked)
            assert r["result"]["protocolVersion"] == got, (asked, r)
        finally:
            assert m.close() == 0


def test_before_initialize(env):
    m = Mcp(env)
    try:
        for method in ["tools/list", "tools/call", "resources/list"]:
            r = m.request(method, {})
            assert err_code(r) == -32600, r
            assert "initialize" in r["error"]["message"]
        r = m.request("initialize", {})
        assert err_code(r) == -32602, r
    finally:
        m.close()


def test_parse_and_invalid_request_errors(env):
    m = Mcp(env)
    try:
        m.init()
        m.send_raw("{not json")
        r = m.recv()
        assert err_code(r) == -32700 and r["id"] is None, r
        cases = [
            ('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', None),  # batch
            ('"just a string"', None),
            ('{"jsonrpc":"1.0","id":7,"method":"ping"}', 7),
            ('{"id":8,"method":"ping"}', 8),
            ('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', None),
            ('{"jsonrpc":"2.0","id":null,"method":"ping"}', None),
            ('{"jsonrpc":"2.0","id":9}', 9),
            ('{"jsonrpc":"2.0","id":10,"method":42}', 10),
            # a key twice: which one is meant? (the last one ran)
            ('{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"executeCode",'
             '"arguments":{"code":"print(1)","code":"print(2)"}}}', 11),
            ('{"jsonrpc":"2.0","id":12,"method":"ping","method":"ping"}', 12),
        ]
        for raw, rid in cases:
            m.send_raw(raw)
            r = m.recv()
            assert r is not None, f"no reply to {raw}"
            assert err_code(r) == -32600 and r["id"] == rid, (raw, r)
            if rid in (11, 12):
                assert "duplicate object key" in r["error"]["message"], r
        # still serving
        assert m.request("ping")["result"] == {}
    finally:
        assert m.close() == 0


def test_method_and_params_errors(env):
    m = Mcp(env)
    try:
        m.init()
        r = m.request("prompts/list")
        assert err_code(r) == -32601, r
        r = m.request("server/discover", {})
        assert err_code(r) == -32601, r
        # an unknown notification gets no reply at all
        m.send({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {}})
        bad = [
            ("tools/call", {"arguments": {}}),
            ("tools/call", {"name": "noSuchTool", "arguments": {}}),
            ("tools/call", {"name": "executeCode", "arguments": "print(1)"}),
            ("resources/read", {}),
            ("resources/read", {"uri": "file:///etc/passwd"}),
        ]
        for method, params in bad:
            r = m.request(method, params)
            assert err_code(r) == -32602, (method, params, r)
        m.send({"jsonrpc": "2.0", "id": 55, "method": "tools/list", "params": [1, 2]})
        r = m.wait_for(55)
        assert err_code(r) == -32602, r
        r = m.request("resources/read", {"uri": "kiln://files/f_0123456789abcdef0123456789abcdef"})
        assert err_code(r) == -32002, r
        assert r["error"]["data"]["uri"].startswith("kiln://files/")
    finally:
        assert m.close() == 0


def test_tools_list_and_call(env):
    m = Mcp(env)
    try:
        m.init()
        tools = m.request("tools/list")["result"]["tools"]
        names = sorted(t["name"] for t in tools)
        assert names == ["executeCode", "processFile"], names
        notes = []
        r = m.request("tools/call", {"name": "executeCode",
                                     "arguments": {"code": "open('out.txt','w').write('hi')\n"
                                                           "print('done')"},
                                     "_meta": {"progressToken": 77}}, notes=notes)["result"]
        assert r["isError"] is False, r
        env_ = r["structuredContent"]
        assert env_["ok"] is True and env_["result"]["stdout"] == "done\n"
        assert json.loads(r["content"][0]["text"]) == env_
        links = [c for c in r["content"] if c["type"] == "resource_link"]
        assert len(links) == 1 and links[0]["name"] == "out.txt", r["content"]
        prog = [n["params"] for n in notes if n["method"] == "notifications/progress"]
        assert len(prog) >= 2 and all(p["progressToken"] == 77 for p in prog), notes
        assert prog[0]["progress"] < prog[-1]["progress"]
        rr = m.request("resources/read", {"uri": links[0]["uri"]})["result"]
        assert rr["contents"][0]["text"] == "hi", rr
        lst = m.request("resources/list")["result"]["resources"]
        assert [x["uri"] for x in lst] == [links[0]["uri"]], lst
        r = m.request("tools/call", {"name": "processFile",
                                     "arguments": {"operation": "nope",
                                                   "fileBase64": b64("a\n1\n")}})["result"]
        assert r["isError"] is True
        assert r["structuredContent"]["error"]["code"] == "INVALID_REQUEST", r
    finally:
        assert m.close() == 0


def test_old_revision_has_no_resource_links(env):
    m = Mcp(env)
    try:
        m.init("2024-11-05")
        r = m.request("tools/call", {"name": "executeCode", "arguments": {
            "code": "open('x.csv','w').write('a\\n1\\n')"}})["result"]
        assert r["isError"] is False, r
        assert len(r["structuredContent"]["files"]) == 1
        assert all(c["type"] == "text" for c in r["content"]), r["content"]
    finally:
        assert m.close() == 0


def test_cancel_queued_and_running(env):
    m = Mcp(env, "--workers", "1")
    try:
        m.init()
        m.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "executeCode", "arguments": {"code": "import time\ntime.sleep(2)\nprint('a')"}}})
        m.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "executeCode", "arguments": {"code": "print('b')"}}})
        m.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "executeCode", "arguments": {"code": "while True: pass"}}})
        # 2 is queued behind 1: cancel it
        m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 2, "reason": "test"}})
        r = m.wait_for(1, 60)
        assert r["result"]["structuredContent"]["result"]["stdout"] == "a\n", r
        time.sleep(1.0)  # 3 is running now
        pids = tree(m.p.pid)
        assert len(pids) >= 2, f"no worker and sandbox for call 3: {pids}"
        m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 3}})
        end = time.time() + 5
        while any(alive(p) for p in pids) and time.time() < end:
            time.sleep(0.05)
        assert not [p for p in pids if alive(p)], "cancelled call left processes"
        # no response for 2 or 3: the next message is the ping's reply
        r = m.request("ping")
        assert r["result"] == {}, r
        assert m.recv(0.5) is None
    finally:
        assert m.close() == 0
    assert not tree(m.p.pid)


def test_eof_finishes_running_calls(env):
    m = Mcp(env)
    m.init()
    m.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "executeCode", "arguments": {"code": "import time\ntime.sleep(1)\nprint('late')"}}})
    m.p.stdin.close()
    r = m.wait_for(5, 60)
    assert r["result"]["structuredContent"]["result"]["stdout"] == "late\n", r
    assert m.p.wait(20) == 0
    assert m.recv(1) is None


def test_eof_exit_no_children(env):
    m = Mcp(env)
    m.init()
    pid = m.p.pid
    assert m.close() == 0
    assert not tree(pid)


def test_sigterm_kills_running_calls(env):
    m = Mcp(env)
    m.init()
    m.send({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "executeCode", "arguments": {"code": "while True: pass"}}})
    time.sleep(1.5)
    pids = tree(m.p.pid)
    assert len(pids) >= 2, pids  # the action worker and its sandbox
    m.p.send_signal(signal.SIGTERM)
    assert m.p.wait(20) == 0
    end = time.time() + 5
    while any(alive(p) for p in pids) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "processes left after SIGTERM"
    m.close()


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


def spares(pid):
    return sorted(p for p in tree(pid) if comm(p) == "kiln-spare")


def wait_spares(m, n=2, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        s = spares(m.p.pid)
        if len(s) >= n:
            return s
        time.sleep(0.05)
    return spares(m.p.pid)


def call_code(m, code):
    r = m.request("tools/call", {"name": "executeCode", "arguments": {"code": code}})
    env_ = r["result"]["structuredContent"]
    assert env_["ok"], env_
    return env_["result"]["stdout"]


# What the code sees of its sandbox: identity, confinement, network, files.
PROBE = r"""
import os, socket, json
st = {l.split(':')[0]: l.split(':')[1].strip() for l in open('/proc/self/status')
      if l.startswith(('Seccomp', 'NoNewPrivs', 'CapEff', 'CapBnd', 'Uid'))}
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(('127.0.0.1', 9))
    net = 'connected'
except OSError as e:
    net = type(e).__name__
def attempt(f):
    try:
        return f()
    except OSError as e:
        return type(e).__name__
print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'host': os.uname().nodename,
                  'cwd_entries': sorted(os.listdir('.')), 'status': st, 'net': net,
                  'shadow': attempt(lambda: open('/etc/shadow').read()),
                  'root': attempt(lambda: sorted(os.listdir('/'))),
                  'tmp_writable': attempt(lambda: open('/tmp/probe', 'w').write('x')),
                  'home': attempt(lambda: sorted(os.listdir('/root')))}, sort_keys=True))
"""


def test_spare_is_the_same_sandbox(env):
    """A warm server keeps a standby worker with a ready sandbox; a call it
    serves sees exactly the sandbox a fresh worker gives (cold server)."""
    cold = Mcp(env)
    cold.init()
    want = json.loads(call_code(cold, PROBE))
    assert cold.close() == 0
    m = Mcp(env, warm=True)
    m.init()
    assert call_code(m, "print(6*7)") == "42\n"
    first = wait_spares(m)
    assert len(first) == 2, f"standby worker and its sandbox: {first}"
    got = json.loads(call_code(m, PROBE))
    assert not [p for p in first if alive(p) and comm(p) == "kiln-spare"], \
        "the standby did not take the call"
    assert got == want, f"spare sandbox {got} != fresh sandbox {want}"
    assert got["pid"] == 1 and got["net"] != "connected" and got["shadow"] != "read"
    assert got["status"]["Seccomp"] == "2" and got["status"]["NoNewPrivs"] == "1"
    m.close()


def test_spare_gone_with_the_server(env):
    """SIGKILL of a warm server: its standby worker, the standby's sandbox and
    the standby's scratch dir go too (the worker sees its request pipe close)."""
    m = Mcp(env, warm=True)
    m.init()
    assert call_code(m, "print(1)") == "1\n"
    sp = wait_spares(m)
    assert len(sp) == 2, sp
    assert any(d.startswith("run-%d-" % p) for d in env.leftovers() for p in sp), \
        f"the standby has no scratch dir: {env.leftovers()}"
    zy = zygotes(m.p.pid)
    assert len(zy) == 1, f"one zygote: {zy}"
    sp += zy
    m.p.kill()
    m.p.wait(10)
    end = time.time() + 5
    while (any(alive(p) for p in sp) or env.leftovers()) and time.time() < end:
        time.sleep(0.05)
    assert not [p for p in sp if alive(p)], "standby or zygote processes left"
    assert env.leftovers() == [], f"scratch dirs left: {env.leftovers()}"
    m.close()


def zygotes(pid):
    return sorted(p for p in tree(pid) if comm(p) == "kiln-zygote")


def ppid(pid):
    st = open(f"/proc/{pid}/stat").read()
    return int(st[st.rindex(")") + 2:].split()[1])


def test_workers_from_the_zygote(env):
    """A warm server forks its workers from its zygote, as its own children
    (so it reaps and kills them itself); without the zygote (killed), it
    forks them itself and calls go on."""
    m = Mcp(env, warm=True)
    m.init()
    assert call_code(m, "print(1)") == "1\n"
    zy = zygotes(m.p.pid)
    assert len(zy) == 1 and ppid(zy[0]) == m.p.pid, zy
    sp = wait_spares(m)
    assert len(sp) == 2, sp
    workers = [p for p in sp if ppid(p) == m.p.pid]
    assert len(workers) == 1, f"the standby worker is the server's child: {sp}"
    os.kill(zy[0], signal.SIGKILL)
    for i in range(3):  # the standby made before, then workers the server forks
        assert call_code(m, f"print({i} * 7)") == f"{i * 7}\n"
    assert zygotes(m.p.pid) == [], "a dead zygote is reaped"
    assert call_code(m, "import pandas; print(pandas.Series([1, 2]).sum())") == "3\n"
    assert m.close() == 0
    assert not tree(m.p.pid)


def test_spare_unused_by_process_file(env):
    """processFile in a standby worker: its ready sandbox is dropped, the
    operation runs in a fresh one, the next call still works."""
    m = Mcp(env, warm=True)
    m.init()
    call_code(m, "pass")
    wait_spares(m)
    r = m.request("tools/call", {"name": "processFile", "arguments": {
        "operation": "analyze", "fileBase64": b64("a,b\n1,2\n3,4\n"), "fileName": "t.csv"}})
    env_ = r["result"]["structuredContent"]
    assert env_["ok"], env_
    assert env_["result"]["rows"] == 2, env_["result"]
    wait_spares(m)
    assert call_code(m, "print(2+2)") == "4\n"
    assert m.close() == 0
    assert not tree(m.p.pid)


RANDOM_PROBE = (
    "import random, numpy as np\n"
    "print(random.random(), np.random.rand(), np.random.randint(1 << 62))"
)


def test_random_differs_between_calls(env):
    """Every warm sandbox draws its own random numbers: Python's `random`
    and numpy's global generator (seeded once at import in the warm
    parent) give other values in each call, whether the call found a ready
    standby or came right after another one."""
    m = Mcp(env, warm=True)
    m.init()
    seen = []
    for i in range(4):
        if i % 2 == 0:
            wait_spares(m)  # a standby's ready sandbox
        seen.append(call_code(m, RANDOM_PROBE).split())
    m.close()
    for k, name in enumerate(("random.random", "np.random.rand", "np.random.randint")):
        vals = [s[k] for s in seen]
        assert len(set(vals)) == len(vals), f"{name} repeats between calls: {vals}"


ENV_PROBE = r"""
import json, os, posix, sys
b = lambda d: sorted((k.decode(), v.decode()) for k, v in d.items())
print(json.dumps({'environ': sorted(os.environ.items()), 'environb': b(os.environb),
                  'posix': b(posix.environ), 'executable': sys.executable}))
"""


def env_view(text):
    """The probe's answer with HOME (the run's own scratch dir) left out."""
    got = json.loads(text)
    for k in ("environ", "environb", "posix"):
        got[k] = [kv for kv in got[k] if kv[0] != "HOME"]
    return got


def test_host_environment_stays_out(env):
    """The server's environment, secrets and all, never reaches the code. A
    warm interpreter read it into os.environ when the server imported os;
    each sandbox refills os.environ (and os.environb, posix.environ) from its
    own few variables, so a warm call sees exactly what a cold one does."""
    env.env["DATABASE_URL"] = "postgres://app:pw-1234@db/prod"
    env.env["HOST_ONLY_TOKEN"] = "tok-5678"
    cold = Mcp(env)
    cold.init()
    want = call_code(cold, ENV_PROBE)
    assert cold.close() == 0
    m = Mcp(env, warm=True)
    m.init()
    got = []
    for i in range(3):
        if i != 1:
            wait_spares(m)  # standby; call 1 comes right after call 0
        got.append(call_code(m, ENV_PROBE))
    m.close()
    for text in [want] + got:
        assert "pw-1234" not in text and "tok-5678" not in text, text
        view = env_view(text)
        assert view == env_view(want), f"warm {view} != cold {env_view(want)}"
        assert view["environ"] == view["environb"] == view["posix"], view
        assert view["executable"] == "/usr/bin/python3", view["executable"]
    assert "PATH" in dict(env_view(want)["environ"])


def test_no_secret_in_sandbox_memory(env):
    """Code that reads its own memory (ctypes) finds nothing of the server's
    environment: the environment strings on the stack are wiped in the
    sandbox, and a warm interpreter's copies are zeroed before they go."""
    env.env["DATABASE_URL"] = "postgres://app:%s@db/prod" % kilntest.secret("env")
    for warm in (False, True):
        m = Mcp(env, warm=warm)
        m.init()
        for i in range(2):
            if warm and i == 0:
                call_code(m, "pass")
                wait_spares(m)
            if not kilntest.check_memory_probe(call_code(m, kilntest.MEMORY_PROBE)):
                m.close()
                return "skip"
        assert m.close() == 0


def test_host_matplotlibrc_not_applied(env):
    """A matplotlibrc in the server's working directory or home is the
    host's, not the code's: warm calls use the installed settings, as cold
    ones do."""
    home = os.path.join(env.dir, "home")
    os.makedirs(os.path.join(home, ".config", "matplotlib"))
    with open(os.path.join(home, ".config", "matplotlib", "matplotlibrc"), "w") as f:
        f.write("axes.titlesize: 33\n")
    with open(os.path.join(env.dir, "matplotlibrc"), "w") as f:
        f.write("lines.linewidth: 7\n")
    env.env["HOME"] = home
    code = ("import matplotlib\n"
            "print(matplotlib.rcParams['lines.linewidth'], matplotlib.rcParams['axes.titlesize'])")
    got = []
    for warm in (False, True):
        m = Mcp(env, warm=warm, cwd=env.dir)
        m.init()
        got += [call_code(m, code), call_code(m, code)]
        assert m.close() == 0
    assert got == ["1.5 large\n"] * 4, got


SIGNAL_PROBE = r"""
import _signal as s, resource, json
h = {n: getattr(s.getsignal(n), '__name__', str(s.getsignal(n))) for n in s.valid_signals()}
st = {l.split(':')[0]: int(l.split(':')[1], 16) for l in open('/proc/self/status')
      if l.startswith(('SigIgn', 'SigCgt', 'SigBlk'))}
# the kernel's view of the signals the sandbox and the server's parent set
k = {n: ('ign' if st['SigIgn'] >> (n - 1) & 1 else 'cgt' if st['SigCgt'] >> (n - 1) & 1
         else 'dfl') + ('+blk' if st['SigBlk'] >> (n - 1) & 1 else '')
     for n in (s.SIGINT, s.SIGPIPE, s.SIGXFSZ, s.SIGHUP, s.SIGUSR2, s.SIGTERM)}
print(json.dumps({'table': h, 'kernel': k, 'cpu': resource.getrlimit(resource.RLIMIT_CPU)}))
"""


def test_signals_and_cpu_limit_as_cold(env):
    """A warm sandbox's signal handlers, as Python's table says them and as
    the kernel has them, and its CPU limit are what a cold one has: Ctrl-C
    semantics (SIGINT raises KeyboardInterrupt), SIGPIPE and SIGXFSZ
    ignored, nothing the server's parent ignored, and RLIMIT_CPU from the
    call's own time limit (a standby was made before it was known)."""
    ign = (signal.SIGHUP, signal.SIGUSR2)
    got = {}
    for warm in (False, True):
        m = Mcp(env, warm=warm, ignore=ign)
        m.init()
        for i, t in enumerate((None, 5000, None)):
            if warm and i != 2:
                call_code(m, "pass")
                wait_spares(m)  # standby; the last call comes right after one
            args = {"code": SIGNAL_PROBE}
            if t:
                args["timeoutMs"] = t
            r = m.request("tools/call", {"name": "executeCode", "arguments": args})
            e = r["result"]["structuredContent"]
            assert e["ok"], e
            got[(warm, i)] = json.loads(e["result"]["stdout"])
        assert m.close() == 0
    cold = got[(False, 0)]
    assert cold["table"][str(int(signal.SIGINT))] == "default_int_handler", cold
    assert cold["table"][str(int(signal.SIGHUP))] == str(int(signal.SIG_DFL)), cold
    # SIGHUP, SIGUSR2, SIGTERM: kiln's handler, which ends the process as
    # their default action would (the sandbox is an init: SIGNAL_CASES);
    # Python's table says SIG_DFL, as in a fresh interpreter
    want = {signal.SIGINT: "cgt", signal.SIGPIPE: "ign", signal.SIGXFSZ: "ign",
            signal.SIGHUP: "cgt", signal.SIGUSR2: "cgt", signal.SIGTERM: "cgt"}
    assert cold["kernel"] == {str(int(n)): v for n, v in want.items()}, cold["kernel"]
    # RLIMIT_CPU: the whole seconds of the time left, plus one (the time
    # left may cross a second's boundary while the call starts)
    for k, v in got.items():
        top = 61 if k[1] != 1 else 6
        soft, hard = v.pop("cpu")
        assert top - 2 <= soft <= top - 1 and hard == soft + 1, f"{k}: RLIMIT_CPU {soft}/{hard}"
    for k, v in got.items():
        assert v == got[(False, k[1])], f"{k}: {v} != cold {got[(False, k[1])]}"


def test_signals_end_the_code_warm(env):
    """kilntest.SIGNAL_CASES through a warm server, in its standby (a
    ready sandbox, rehearsed before the call) and in a sandbox made for a
    call that came right after another: each ends as in a fresh python3."""
    m = Mcp(env, warm=True)
    m.init()
    for name, code, fatal in kilntest.SIGNAL_CASES:
        for standby in (True, False):
            if standby:
                wait_spares(m)
            r = m.request("tools/call", {"name": "executeCode", "arguments": {"code": code}})
            e = r["result"]["structuredContent"]
            assert e["ok"] is False, (name, e)
            kilntest.check_signal_case(name, code, fatal, e["error"])
    assert m.close() == 0


def call_env(m, args):
    r = m.request("tools/call", {"name": "executeCode", "arguments": args})
    return r["result"]["structuredContent"]


def py3_stdout(code):
    """What a fresh /usr/bin/python3 prints for code (the oracle)."""
    return subprocess.run(["/usr/bin/python3", "-I", "-c", code], capture_output=True,
                          timeout=30, cwd=tempfile.gettempdir()).stdout.decode()


def test_end_of_script_and_odd_text_as_python3(env):
    """Cold and warm (standby and back to back) alike, and as python3: a
    script's non-daemon threads are waited for and its atexit handlers run
    (their output and files kept); NUL characters in stdout, stderr, the
    returnValue and an exception's message travel (a warm worker's answer
    was lost to them); a lone surrogate (a non-UTF-8 file name from
    os.listdir) is written as the text \\udXXX, as print writes it; a warm
    sandbox's tempfile uses the sandbox's own temp dir, not the one the
    server had (TMPDIR set for the server); back-to-back calls of a session
    each see the previous call's version of a file."""
    tmp = os.path.join(env.dir, "server-tmp")
    os.mkdir(tmp)
    env.env["TMPDIR"] = tmp
    late = ("import threading, time, atexit\natexit.register(print, 'bye')\n"
            "def late():\n    time.sleep(0.3)\n    print('late')\n"
            "    open('late.txt', 'w').write('x')\n"
            "threading.Thread(target=late).start()\nprint('hi')\n")
    nul = "import sys\nprint('a\\x00c')\nsys.stderr.write('x\\x00y')\ndef main():\n    return 'a\\x00b'\n"
    for warm in (False, True):
        m = Mcp(env, warm=warm)
        m.init()
        for standby in ((True, False) if warm else (False,)):
            if standby:
                wait_spares(m)
            e = call_env(m, {"code": late})
            assert e["ok"] and e["result"]["stdout"] == py3_stdout(late.replace(
                "open('late.txt', 'w').write('x')", "pass")), (warm, e)
            assert [f["name"] for f in e["files"]] == ["late.txt"], (warm, e)
            e = call_env(m, {"code": nul})
            assert e["ok"], (warm, e)
            r = e["result"]
            assert (r["stdout"], r["stderr"], r["returnValue"]) == ("a\0c\n", "x\0y", "a\0b"), r
            e = call_env(m, {"code": "raise ValueError('a\\x00b')"})
            assert e["error"]["code"] == "CODE_ERROR", e
            assert e["error"]["message"].startswith("ValueError: a\\x00b"), e["error"]
            assert e["error"]["traceback"].endswith("ValueError: a\0b\n"), e["error"]
            e = call_env(m, {"code": "import os\nopen(b'\\xff.txt', 'wb').close()\n"
                                     "def main():\n    return [os.listdir(), '\\U0001F600']\n"})
            assert e["ok"] and e["result"]["returnValue"] == [["\\udcff.txt"], "\U0001F600"], e
            e = call_env(m, {"code": "raise ValueError('\\ud800')"})
            assert e["error"]["message"].startswith("ValueError: \\ud800"), e
            e = call_env(m, {"code": "import tempfile\nwith tempfile.NamedTemporaryFile() as f:\n"
                                     "    print(f.name.startswith('/tmp/'))\n"})
            assert e["ok"] and e["result"]["stdout"] == "True\n", (warm, e)
            sess = {"session": f"s-{warm}-{standby}"}
            call_env(m, dict(sess, code="open('n.txt', 'w').write('0')"))
            bump = "v = int(open('n.txt').read())\nprint(v)\nopen('n.txt', 'w').write(str(v + 1))\n"
            seen = [call_env(m, dict(sess, code=bump))["result"]["stdout"] for _ in range(5)]
            assert seen == ["0\n", "1\n", "2\n", "3\n", "4\n"], (warm, seen)
        assert m.close() == 0


def test_output_flush_at_exit_as_python3(env):
    """Cold and warm (standby and back to back) alike: once the code and its
    atexit handlers are done, sys.stdout and sys.stderr are flushed as
    python3 flushes them last. One that cannot be (no flush(), a flush that
    raises) makes python3 exit with status 120, and kiln says so; None or a
    closed one is left alone, as python3 leaves it (kiln answered success
    for all of them)."""
    w = "import sys, atexit\nclass W:\n    def write(self, s):\n        return len(s)\n"
    cases = [
        w + "sys.stdout = W()\nprint(1)\n",
        w + "    def flush(self):\n        raise OSError(28, 'full')\nsys.stderr = W()\nprint(2)\n",
        w + "def main():\n    sys.stdout = W()\n    return 3\nif __name__ == '__main__':\n"
            "    main()\n",
        w + "atexit.register(lambda: setattr(sys, 'stdout', W()))\nprint(4)\n",
        w + "    closed = True\nsys.stdout = W()\nprint(5)\n",
        w + "sys.stdout = None\nprint(6)\n",
        w + "    @property\n    def closed(self):\n        raise ValueError\n"
            "    def flush(self):\n        pass\nsys.stdout = W()\n",
    ]
    want = [subprocess.run(["/usr/bin/python3", "-I", "-c", c], capture_output=True,
                           timeout=30).returncode for c in cases]
    assert want == [120, 120, 120, 120, 0, 0, 0], want
    for warm in (False, True):
        m = Mcp(env, warm=warm)
        m.init()
        for standby in ((True, False) if warm else (False,)):
            for code, st in zip(cases, want):
                if standby:
                    wait_spares(m)
                e = call_env(m, {"code": code})
                if st == 0:
                    assert e["ok"], (warm, standby, code, e)
                    continue
                err = e["error"]
                assert err["code"] == "CODE_ERROR" and err["exitStatus"] == st, (code, e)
                assert err["message"].startswith("the code exited with status 120: sys.std"), e
                assert " could not be flushed at exit (" in err["message"], e
            e = call_env(m, {"code": cases[0]})
            assert "AttributeError: 'W' object has no attribute 'flush'" in e["error"]["message"]
            assert e["error"]["stderr"].startswith("Exception ignored in: <__main__.W"), e
            # main() (kiln's entry point) as the script
            e = call_env(m, {"code": w + "def main():\n    sys.stdout = W()\n    return 3\n"})
            assert e["error"]["entryPoint"] == "main" and e["error"]["exitStatus"] == 120, e
        assert m.close() == 0


def test_code_that_breaks_imports_as_python3(env):
    """Cold and warm alike: code that replaces or removes builtins or breaks
    the import system (builtins.__import__ = None, sys.modules cleared,
    json blocked, the finders gone) still gets its answer: the output and
    error python3 gives, or the returnValue (it was INTERNAL: the runner's
    own imports after the code failed; in a cold start also sys.path
    cleared, a stand-in json module, a finder put first that raises). Patches
    the code makes for its own main() still hold there, and again for its
    atexit handlers (a patched print), which find the code's own __main__
    (pickle; warm, the parent's was put back). No __eq__ of the code's runs
    for the check. A warning of the code's own shows whatever it says (a
    filter meant for matplotlib hid 'non-interactive' ones)."""
    cases = [
        ("import builtins\nbuiltins.__import__ = None\nprint(1)\n"
         "def main():\n    return {'a': 1.5}\n", {"a": 1.5}),
        ("import builtins\nbuiltins.isinstance = None\nbuiltins.len = None\nprint(2)\n"
         "def main():\n    return [1]\n", [1]),
        ("import sys\nsys.modules['json'] = None\nsys.meta_path = None\nprint(3)\n"
         "def main():\n    return 'x'\n", "x"),
        ("import builtins\n_p = print\nbuiltins.print = lambda *a: _p('P:', *a)\n"
         "def main():\n    print('hi')\n", None),
        ("import builtins\nbuiltins.__import__ = None\nraise ValueError('x')\n", "ValueError: x"),
        ("import sys\nsys.modules.clear()\nprint(4)\nraise KeyError('k')\n", "KeyError: 'k'"),
        ("import warnings\nwarnings.warn('a non-interactive note of the user')\nprint(5)\n",
         None),
        ("import sys\nsys.path.clear()\nraise ValueError('x')\n", "ValueError: x"),
        ("import sys\nsys.path.clear()\ndef main():\n    return {'c': [1, 2]}\n", {"c": [1, 2]}),
        ("import sys, types\nsys.modules['json'] = types.ModuleType('json')\n"
         "sys.modules['traceback'] = types.ModuleType('traceback')\n"
         "def main():\n    return {'d': 4}\n", {"d": 4}),
        ("import sys, types\nsys.modules['json'] = types.ModuleType('json')\n"
         "sys.modules['traceback'] = types.ModuleType('traceback')\nraise KeyError('k')\n",
         "KeyError: 'k'"),
        ("import sys\nclass F:\n    def __eq__(self, o):\n        raise RuntimeError('eq')\n"
         "    __hash__ = object.__hash__\n"
         "    def find_spec(self, *a):\n        raise RuntimeError('finder')\n"
         "sys.meta_path.insert(0, F())\nsys.path_hooks.insert(0, F())\n"
         "def main():\n    return {'e': 5}\n", {"e": 5}),
        ("import atexit, pickle\nclass C:\n    pass\n"
         "atexit.register(lambda: print(len(pickle.dumps(C())) > 10))\nprint(6)\n", None),
        ("import builtins, atexit\n_p = print\nbuiltins.print = lambda *a: _p('P:', *a)\n"
         "atexit.register(lambda: print('bye'))\nprint(7)\n", None),
        # keys of the code's own in the dicts kiln puts back: no __hash__ or
        # __eq__ of theirs runs (one that removes entries while kiln looks
        # at them made it read freed memory)
        ("import sys\nclass K:\n    armed = False\n    def __hash__(self):\n"
         "        if K.armed:\n            raise RuntimeError('h')\n        return 1\n"
         "sys.modules[K()] = 1\nK.armed = True\nsys.meta_path.clear()\nprint(8)\n", None),
        ("import builtins\nclass K:\n    def __hash__(self):\n        return hash('print')\n"
         "    def __eq__(self, o):\n        raise RuntimeError('eq')\n_p = builtins.print\n"
         "del builtins.print\nbuiltins.__dict__[K()] = 1\nraise ValueError('x')\n",
         "ValueError: x"),
        ("import sys\nclass K:\n    def __init__(self, h):\n        self.h = h\n"
         "    def __hash__(self):\n        return self.h\n"
         "    def __eq__(self, o):\n        raise RuntimeError('eq')\n"
         "for p in list(sys.path_importer_cache):\n    h = hash(p)\n"
         "    del sys.path_importer_cache[p]\n    sys.path_importer_cache[K(h)] = None\n"
         "print(9)\n", None),
        ("import sys, types, atexit, csv\nkeep = []\nclass K:\n"
         "    def __hash__(self):\n        return hash('__spec__')\n"
         "    def __eq__(self, o):\n        sys.modules.pop(''.join(['zz', 'top']), None)\n"
         "        keep.extend(''.join(['my', 'mo', 'd2']) for _ in range(50))\n"
         "        return False\n"
         "mod = types.ModuleType('x')\ndel mod.__dict__['__spec__']\nmod.__dict__[K()] = 1\n"
         "sys.modules[''.join(['zz', 'top'])] = mod\nsys.modules['mymod2'] = csv\n"
         "atexit.register(lambda: print('mymod2' in sys.modules))\nprint(10)\n", None),
        # what the code put in sys.modules by hand is its own again at exit
        ("import sys, types, atexit\nm = types.ModuleType('mymod')\nm.x = 'True'\n"
         "sys.modules['mymod'] = m\natexit.register(lambda: print(__import__('mymod').x))\n"
         "print(11)\n", None),
        ("import sys, types\nclass M(types.ModuleType):\n    def __setattr__(s, n, v):\n"
         "        raise RuntimeError('set ' + n)\nsys.__class__ = M\n"
         "def main():\n    return {'f': 6}\n", {"f": 6}),
        ("import linecache\nlinecache.cache = None\nraise ValueError('x')\n", "ValueError: x"),
        ("import sys, csv\nsys.modules['json'] = csv\ndef main():\n    return {'g': 7}\n",
         {"g": 7}),
        ("class E(SystemExit):\n    @property\n    def code(self):\n"
         "        raise RuntimeError('c')\nraise E(2)\n", "SystemExit"),
    ]
    for warm in (False, True):
        m = Mcp(env, warm=warm)
        m.init()
        try:
            for code, want in cases:
                tail = "print(main())\n" if "def main" in code else ""
                py = subprocess.run(["/usr/bin/python3", "-I", "-c", code + tail],
                                    capture_output=True, timeout=30, text=True,
                                    cwd=tempfile.gettempdir())
                e = call_env(m, {"code": code})
                if want == "SystemExit":
                    assert not e["ok"] and e["error"]["code"] == "CODE_ERROR", (warm, code, e)
                    assert e["error"]["exitStatus"] == py.returncode == 1, (warm, e, py)
                    continue
                if isinstance(want, str) and want.startswith(("ValueError:", "KeyError:")):
                    assert not e["ok"] and e["error"]["code"] == "CODE_ERROR", (warm, code, e)
                    assert e["error"]["message"].startswith(want), (warm, code, e)
                    assert py.stderr.rstrip().endswith(want), py.stderr
                    continue
                assert e["ok"], (warm, code, e)
                r = e["result"]
                out = r["stdout"]
                if "def main" in code:
                    # python3 printed main()'s value last; kiln returns it
                    lines = py.stdout.splitlines(True)
                    assert out == "".join(lines[:-1]) and r["returnValue"] == want, (warm, r, py)
                else:
                    assert out == py.stdout, (warm, r, py)
                assert py.returncode == 0, py.stderr
                if "atexit" in code:
                    assert out.endswith(("True\n", "P: bye\n")), (warm, r)
                if "warn(" in code:
                    assert "UserWarning: a non-interactive note of the user" in r["stderr"], r
                    assert "UserWarning: a non-interactive note of the user" in py.stderr
        finally:
            m.close()


if __name__ == "__main__":
    kilntest.main(globals())

