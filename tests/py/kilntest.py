"""Small helpers shared by the Python-driven test suites.

Each suite defines test_* functions and calls kilntest.main(globals()); the
runner prints FAIL lines on stderr and ends stdout with "N passed, N failed".
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

KILN = os.environ.get("KILN_BIN") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "kiln"))
CORPUS = os.environ.get("KILN_CORPUS") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "corpus"))


class Env:
    """A private store and config for one test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kiln-pyt-")
        os.chmod(self.dir, 0o711)  # the sandbox user reaches scratch dirs by path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        self.env["KILN_BIN"] = KILN
        self.env["KILN_STORE_DIR"] = os.path.join(self.dir, "store")
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        self.env["KILN_SCRATCH_DIR"] = os.path.join(self.dir, "scratch")

    def leftovers(self):
        """Scratch dirs still present (a run must never leave one behind)."""
        d = os.path.join(self.dir, "scratch")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def kiln(self, *args, input=None, timeout=120, env=None, check_json=False):
        e = dict(self.env)
        if env:
            e.update({k: str(v) for k, v in env.items()})
        p = subprocess.run([KILN, *args], input=input, capture_output=True, timeout=timeout,
                           env=e)
        return p

    def run(self, request, env=None, timeout=120):
        """kiln run - with request (dict or raw bytes): (envelope, exit status, stderr)."""
        data = request if isinstance(request, (bytes, str)) else json.dumps(request)
        if isinstance(data, str):
            data = data.encode()
        p = self.kiln("run", "-", input=data, env=env, timeout=timeout)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            raise AssertionError(f"stdout is not JSON (exit {p.returncode}): {p.stdout[:400]!r} "
                                 f"stderr: {p.stderr[:400]!r}")
        return out, p.returncode, p.stderr.decode(errors="replace")


# Secrets a test puts where the sandbox must not find them (the server's
# environment, its API keys), each as two halves: the probe below never
# holds one whole, so a hit is a copy that came from outside the sandbox.
SECRET_PARTS = {"env": ("pw-93", "61-db-secret"), "key": ("kq7-api-", "key-5d1c9e"),
                "keyfile": ("tok-file", "-k3y-0b8e")}


def secret(name):
    return "".join(SECRET_PARTS[name])


# Python code that reads its own memory (every readable anonymous, heap,
# stack and writable mapping, through ctypes) and prints JSON: bytes
# scanned and, per secret, the mappings holding it whole.
MEMORY_PROBE = """
import ctypes, json, sys
if hasattr(ctypes.CDLL(None), '__asan_init'):
    print(json.dumps({'asan': True}))  # ASan checks every copy against its shadow
    sys.exit(0)
PARTS = %r
hits = {k: [] for k in PARTS}
scanned = 0
for line in open('/proc/self/maps'):
    f = line.split()
    lo, hi = (int(x, 16) for x in f[0].split('-'))
    path = f[5] if len(f) > 5 else ''
    if f[1][0] != 'r' or (path.startswith('[') and path not in ('[heap]', '[stack]')):
        continue
    if path.startswith('/') and 'w' not in f[1]:
        continue  # read-only file mappings: files, not the process's memory
    if hi - lo > 1 << 30:
        continue  # reservations (a sanitizer's shadow), not data under the 1 GiB limit
    scanned += hi - lo
    step = 1 << 20
    for at in range(lo, hi, step):
        data = ctypes.string_at(at, min(step + 32, hi - at))
        for k, (a, b) in PARTS.items():
            a, b = a.encode(), b.encode()
            i = data.find(a)
            while 0 <= i < step:
                if ctypes.string_at(at + i + len(a), len(b)) == b:
                    hits[k].append(path or hex(lo))
                i = data.find(a, i + 1)
        del data
print(json.dumps({'scanned': scanned, 'hits': hits}))
""" % (SECRET_PARTS,)


def check_memory_probe(stdout):
    """Assert a MEMORY_PROBE run scanned real memory and found no secret;
    False when it could not scan (an AddressSanitizer build)."""
    got = json.loads(stdout)
    if got.get("asan"):
        return False
    assert got["scanned"] > 1 << 20, got
    assert not any(got["hits"].values()), f"secrets in the sandbox's memory: {got['hits']}"
    return True


def proc_tree(pid):
    """{pid: (comm, state)} of the processes whose parent chain leads to pid."""
    info = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
                rest = st[st.rindex(")") + 2:].split()
                info[int(d)] = (int(rest[1]), st[st.index("(") + 1:st.rindex(")")], rest[0])
            except (OSError, ValueError, IndexError):
                pass
    out = {}
    for p, (q, comm, state) in info.items():
        hops = 0
        while q > 1 and q != pid and hops < 64:
            q, hops = info.get(q, (0,))[0], hops + 1
        if q == pid and p != pid:
            out[p] = (comm, state)
    return out


# Code that a signal ends in a fresh python3: (name, code, fatal). The
# sandboxed process is pid 1 of its namespace, which the kernel never kills
# on a signal sent from inside; kiln must end and report it the same way.
# `fatal`: faulthandler prints the Python traceback on stderr.
SIGNAL_CASES = [
    ("abort", "import os\nprint('before', flush=True)\nos.abort()\nprint('after')\n", True),
    ("segfault", "import ctypes\nprint('before', flush=True)\nctypes.string_at(8, 16)\n"
     "print('after')\n", True),
    ("SIGTERM to itself", "import os, signal, time\nprint('before', flush=True)\n"
     "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(3)\nprint('after')\n", False),
    ("alarm", "import signal, time\nprint('before', flush=True)\nsignal.alarm(1)\n"
     "time.sleep(4)\nprint('after')\n", False),
    ("SIGUSR1 from a thread", "import os, signal, threading, time\nprint('before', flush=True)\n"
     "threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR1)).start()\n"
     "time.sleep(3)\nprint('after')\n", False),
    ("real-time signal", "import signal\nprint('before', flush=True)\n"
     "signal.raise_signal(signal.SIGRTMIN + 3)\nprint('after')\n", False),
]


def signal_oracle(code):
    """The signal that ends code in a fresh /usr/bin/python3 (-I)."""
    r = subprocess.run(["/usr/bin/python3", "-I", "-c", code], capture_output=True, timeout=30)
    assert r.returncode < 0 and r.stdout == b"before\n", (code, r)
    return -r.returncode


def check_signal_case(name, code, fatal, err):
    """Assert kiln's error for a SIGNAL_CASES entry matches the oracle."""
    sig = signal_oracle(code)
    assert err["code"] == "CODE_ERROR", (name, err)
    assert f"killed by signal {sig} (" in err["message"], (name, sig, err)
    assert err["stdout"] == "before\n", (name, err)
    if fatal:
        assert "Fatal Python error" in err["stderr"] and '"<code>", line 3' in err["stderr"], \
            (name, err["stderr"])


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def expect_error(env, request, code, contains=None, extra_env=None):
    out, rc, err = env.run(request, env=extra_env)
    assert out.get("ok") is False, f"expected failure {code}, got {json.dumps(out)[:500]}"
    assert out["error"]["code"] == code, f"expected {code}, got {out['error']}"
    if contains:
        assert contains in out["error"]["message"], \
            f"message {out['error']['message']!r} lacks {contains!r}"
    assert rc == 1, f"exit status {rc}, expected 1"
    return out


def main(ns):
    names = [n for n in sorted(ns) if n.startswith("test_") and callable(ns[n])]
    filt = sys.argv[1:]
    passed = failed = skipped = 0
    for n in names:
        if filt and not any(f in n for f in filt):
            continue
        env = Env()
        try:
            r = ns[n](env)
            left = env.leftovers()
            assert not left, f"scratch dirs left behind: {left}"
            if r == "skip":
                skipped += 1
                print(f"SKIP {n}", file=sys.stderr)
            else:
                passed += 1
        except Exception:
            failed += 1
            print(f"FAIL {n}: " + traceback.format_exc().strip().replace("\n", "\n     "),
                  file=sys.stderr)
        finally:
            env.close()
    if skipped:
        print(f"{passed} passed, {failed} failed, {skipped} skipped")
    else:
        print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
