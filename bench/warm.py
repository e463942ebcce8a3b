"""executeCode latency, warm and cold, side by side with a fresh CPython.

Starts `kiln mcp` (warm: CPython with numpy/pandas/matplotlib imported
before the first call), sends N trivial executeCode calls one after another,
then N calls that import pandas and sum a small DataFrame, then both again
with WARM_GAP_MS (default 300) between calls as an agent's turns leave
(time for the standby worker to get its sandbox ready), then trivial calls
WARM_MID_GAP_MS (default 120) apart, which arrive while the standby
rehearses pandas, and reports
p50/p90/p99 of the round trip as the client sees it. In the same run it
times a fresh `/usr/bin/python3 -c pass`, `/usr/bin/python3 -c 'import
pandas'` and a cold one-shot `kiln run` of print(1).

For the back-to-back rows it also reports the machine's busy CPU time per
call (every process, from /proc/stat): calls sent back to back are bound by
it over the cores, not by one call's path. And it times two floors here: a
bare child of a warm python3 (pandas imported) cloned into the sandbox's six
namespaces, exiting at once; and the same code run back to back by a warm
python3 that forks a child per call with no isolation at all (the least any
design with a fresh process per action can cost on this host).

It also times spaced calls to `kiln serve` (its idle spare worker), and
checks the issue's targets: trivial warm p50 <= 5 ms, pandas sum warm p50 <=
15 ms and >= 20x faster than a fresh `import pandas`, cold `kiln run` <= 40
ms, all set on a machine where `python3 -c pass` took 13 ms and `import
pandas` 315 ms. Process creation and page faults cost several times more on
some machines (virtualised page tables); the ms targets are also shown
scaled by this machine's `python3 -c pass` over 13 ms.

Env: KILN_BIN (default build/kiln), WARM_N (calls per kind, default 50),
COLD_N (cold runs per kind, default 10), BENCH_OUT (writes warm.json there).
Run: /usr/bin/python3 bench/warm.py
"""
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KILN = os.environ.get("KILN_BIN") or os.path.join(HERE, "..", "build", "kiln")
N = int(os.environ.get("WARM_N", "50"))
COLD_N = int(os.environ.get("COLD_N", "10"))
GAP_S = float(os.environ.get("WARM_GAP_MS", "300")) / 1000.0
MID_GAP_S = float(os.environ.get("WARM_MID_GAP_MS", "120")) / 1000.0
PY = "/usr/bin/python3"

TRIVIAL = "print(1)"
PANDAS = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6]})\nprint(int(df.sum().sum()))"


def pct(v, p):
    s = sorted(v)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def cpu_busy_ms():
    """Busy CPU time of the whole machine so far (every process, every core);
    not idle, iowait or steal (time the hypervisor gave to other guests)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    return (sum(v[:7]) - v[3] - v[4]) * 1000.0 / os.sysconf("SC_CLK_TCK")


# The floor of one warm call on this host: a bare child of a warm
# interpreter (pandas and matplotlib imported) cloned into the sandbox's six
# namespaces, exiting at once, reaped: no sandbox setup, no Python run.
FLOOR = r"""
import ctypes, os, signal, statistics, sys, time
import pandas, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NS = 0x10000000 | 0x20000000 | 0x40000000 | 0x00020000 | 0x08000000 | 0x04000000
v = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    # clone(2) by number, flags first: the x86_64 order
    pid = libc.syscall(56, ctypes.c_ulong(NS | signal.SIGCHLD), None, None, None, None)
    if pid == 0:
        os._exit(0)
    if pid < 0:
        sys.exit('clone: errno %d' % ctypes.get_errno())
    os.waitpid(pid, 0)
    v.append((time.perf_counter() - t) * 1000.0)
print(' '.join('%.3f' % x for x in v))
"""


# The floor of the design the issue asks for (a fresh child per action) with
# no isolation at all: a warm python3 (numpy, pandas, matplotlib imported,
# gc frozen) forks a child per call, back to back; the child runs the code
# with its stdout on a pipe, sends a JSON answer on another and exits; the
# parent reads both and reaps it. No namespaces, no sandbox, no scratch dir.
FORK_FLOOR = r"""
import gc, json, os, statistics, sys, time
import numpy, pandas, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot
gc.collect()
gc.freeze()
code = compile(sys.argv[2], '<code>', 'exec')
v = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    r, w = os.pipe()
    o, ow = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(o)
        os.dup2(ow, 1)
        sys.stdout = os.fdopen(1, 'w')
        exec(code, {'__name__': '__main__'})
        sys.stdout.flush()
        os.write(w, json.dumps({'ok': True}).encode())
        os._exit(0)
    os.close(w)
    os.close(ow)
    while os.read(r, 65536):
        pass
    while os.read(o, 65536):
        pass
    os.close(r)
    os.close(o)
    os.waitpid(pid, 0)
    v.append((time.perf_counter() - t) * 1000.0)
print(' '.join('%.3f' % x for x in v))
"""


def fork_floor_ms(env, code, n=40):
    p = subprocess.run([PY, "-c", FORK_FLOOR, str(n), code], env=env, capture_output=True,
                       text=True)
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
        print("fork floor row left out: %s" % why, file=sys.stderr)
        return None
    return stats([float(x) for x in p.stdout.split()])


def floor_ms(env, n=40):
    p = subprocess.run([PY, "-c", FLOOR, str(n)], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
        print("floor row left out: %s" % why, file=sys.stderr)
        return None
    return stats([float(x) for x in p.stdout.split()])


def stats(v):
    return {"n": len(v), "p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99),
            "min": min(v) if v else float("nan")}


class Mcp:
    def __init__(self, env):
        self.p = subprocess.Popen([KILN, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        self.buf = b""
        self.rid = 0

    def recv(self, timeout):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise RuntimeError("kiln mcp did not answer in time")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("kiln mcp closed its stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params, timeout=120):
        self.rid += 1
        rid = self.rid
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        self.p.stdin.write(json.dumps(msg).encode() + b"\n")
        self.p.stdin.flush()
        while True:
            m = self.recv(timeout)
            if m.get("id") == rid:
                return m

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def call_ms(m, code, expect):
    t0 = time.perf_counter()
    r = m.request("tools/call", {"name": "executeCode", "arguments": {"code": code}})
    dt = (time.perf_counter() - t0) * 1000.0
    res = r.get("result") or {}
    env = res.get("structuredContent") or {}
    out = (env.get("result") or {}).get("stdout")
    if res.get("isError") or out != expect:
        raise RuntimeError("executeCode failed: %s" % json.dumps(r)[:600])
    return dt


def warm_runs(env):
    m = Mcp(env)
    try:
        t0 = time.perf_counter()
        m.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "warm-bench", "version": "1"}})
        m.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        m.p.stdin.flush()
        # The first call waits for the warm-up (pre-imports) to finish.
        first = call_ms(m, TRIVIAL, "1\n")
        ready = (time.perf_counter() - t0) * 1000.0
        c0 = cpu_busy_ms()
        triv = [call_ms(m, TRIVIAL, "1\n") for _ in range(N)]
        c1 = cpu_busy_ms()
        pand = [call_ms(m, PANDAS, "21\n") for _ in range(N)]
        c2 = cpu_busy_ms()
        # As an agent calls: a pause between calls (the model's turn), in
        # which the standby worker gets its sandbox ready.
        triv_gap, pand_gap = [], []
        for _ in range(N):
            time.sleep(GAP_S)
            triv_gap.append(call_ms(m, TRIVIAL, "1\n"))
        for _ in range(N):
            time.sleep(GAP_S)
            pand_gap.append(call_ms(m, PANDAS, "21\n"))
        # Calls a little farther apart than the standby needs to get ready:
        # they arrive while it rehearses pandas (in pieces, so a call waits
        # for one piece at most).
        triv_mid = []
        for _ in range(N):
            time.sleep(MID_GAP_S)
            triv_mid.append(call_ms(m, TRIVIAL, "1\n"))
    finally:
        m.close()
    return {"startup_to_first_call_ms": ready, "first_call_ms": first,
            "trivial": stats(triv), "pandas_sum": stats(pand),
            "cpu_trivial": (c1 - c0) / N, "cpu_pandas": (c2 - c1) / N,
            "trivial_gap": stats(triv_gap), "pandas_sum_gap": stats(pand_gap),
            "trivial_mid": stats(triv_mid)}


def serve_runs(env):
    """Spaced executeCode calls to kiln serve (loopback, port 0)."""
    import http.client
    p = subprocess.Popen([KILN, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    try:
        line = p.stdout.readline().decode()
        port = int(line.rsplit(":", 1)[1])

        def call(code, expect):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            t0 = time.perf_counter()
            c.request("POST", "/v1/actions", headers={"Content-Type": "application/json"},
                      body=json.dumps({"action": "executeCode", "arguments": {"code": code}}))
            r = c.getresponse()
            out = json.loads(r.read())
            dt = (time.perf_counter() - t0) * 1000.0
            c.close()
            if not out.get("ok") or out["result"]["stdout"] != expect:
                raise RuntimeError("serve executeCode failed: %s" % json.dumps(out)[:600])
            return dt
        call(TRIVIAL, "1\n")  # waits for the warm-up
        triv, pand = [], []
        for _ in range(N):
            time.sleep(GAP_S)
            triv.append(call(TRIVIAL, "1\n"))
        for _ in range(N):
            time.sleep(GAP_S)
            pand.append(call(PANDAS, "21\n"))
    finally:
        p.terminate()
        p.wait()
    return {"trivial": stats(triv), "pandas_sum": stats(pand)}


def proc_ms(argv, env, stdin=None, n=COLD_N):
    v = []
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run(argv, input=stdin, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        v.append((time.perf_counter() - t0) * 1000.0)
        if p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv, p.stderr.decode()[-600:]))
    return stats(v)


def main():
    if not os.access(KILN, os.X_OK):
        sys.exit("warm.py: no kiln binary at %s (KILN_BIN)" % KILN)
    tmp = tempfile.mkdtemp(prefix="kiln-warm-")
    env = dict(os.environ)
    env["KILN_STORE_DIR"] = os.path.join(tmp, "store")
    res = {}
    try:
        req = json.dumps({"action": "executeCode", "arguments": {"code": TRIVIAL}}).encode()
        res["python3 -c pass"] = proc_ms([PY, "-c", "pass"], env)
        res["python3 -c 'import pandas'"] = proc_ms([PY, "-c", "import pandas"], env)
        res["kiln --version"] = proc_ms([KILN, "--version"], env)
        res["kiln run print(1) (cold)"] = proc_ms([KILN, "run", "-"], env, stdin=req)
        res["kiln run pandas sum (cold)"] = proc_ms(
            [KILN, "run", "-"], env,
            stdin=json.dumps({"action": "executeCode", "arguments": {"code": PANDAS}}).encode())
        w = warm_runs(env)
        res["mcp warm trivial"] = w["trivial"]
        res["mcp warm pandas sum"] = w["pandas_sum"]
        gap = "%d ms apart" % int(GAP_S * 1000)
        res["mcp warm trivial, " + gap] = w["trivial_gap"]
        res["mcp warm pandas sum, " + gap] = w["pandas_sum_gap"]
        res["mcp warm trivial, %d ms apart" % int(MID_GAP_S * 1000)] = w["trivial_mid"]
        res["mcp start to first result"] = {"n": 1, "p50": w["startup_to_first_call_ms"],
                                            "p90": w["startup_to_first_call_ms"],
                                            "p99": w["startup_to_first_call_ms"],
                                            "min": w["startup_to_first_call_ms"]}
        floor = floor_ms(env) if platform.machine() == "x86_64" else None
        if floor is None and platform.machine() != "x86_64":
            print("floor row left out: it clones by the x86_64 syscall number", file=sys.stderr)
        if floor:
            res["floor: bare warm child, 6 namespaces"] = floor
        for name, code in (("trivial", TRIVIAL), ("pandas sum", PANDAS)):
            ff = fork_floor_ms(env, code)
            if ff:
                res["floor: python3 fork per call, " + name] = ff
        sv = serve_runs(env)
        res["serve warm trivial, " + gap] = sv["trivial"]
        res["serve warm pandas sum, " + gap] = sv["pandas_sum"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%-38s %5s %9s %9s %9s %9s" % ("latency (ms)", "n", "min", "p50", "p90", "p99"))
    for k, s in res.items():
        print("%-38s %5d %9.1f %9.1f %9.1f %9.1f" % (k, s["n"], s["min"], s["p50"], s["p90"],
                                                    s["p99"]))
    cores = os.cpu_count() or 1
    print("back to back, CPU per call (all processes, %d cores): trivial %.1f ms, pandas sum %.1f ms"
          % (cores, w["cpu_trivial"], w["cpu_pandas"]))
    print("  (a p50 under CPU per call / cores is out of reach: each call forks and ends"
          " a copy of the warm interpreter)")
    for name in ("trivial", "pandas sum"):
        f = res.get("floor: python3 fork per call, " + name)
        if f:
            print("  back to back %s: kiln p50 %.1f ms; a bare fork per call of a warm python3,"
                  " no sandbox, %.1f ms" % (name, res["mcp warm " + name]["p50"], f["p50"]))
    res["cpu per call, back to back"] = {"trivial": w["cpu_trivial"], "pandas_sum": w["cpu_pandas"],
                                         "cores": cores}
    scale = res["python3 -c pass"]["p50"] / 13.0
    imp = res["python3 -c 'import pandas'"]["p50"]
    print("targets (set where python3 -c pass is 13 ms; here %.1f ms: x%.2f):"
          % (res["python3 -c pass"]["p50"], scale))
    checks = [("mcp warm trivial", 5.0), ("mcp warm trivial, " + gap, 5.0),
              ("serve warm trivial, " + gap, 5.0),
              ("mcp warm pandas sum", 15.0), ("mcp warm pandas sum, " + gap, 15.0),
              ("serve warm pandas sum, " + gap, 15.0),
              ("kiln run print(1) (cold)", 40.0)]
    res["targets"] = {}
    for name, ms in checks:
        p50 = res[name]["p50"]
        extra = ""
        ok = p50 <= ms * scale
        if "pandas" in name:
            extra = ", %.0fx import pandas (>= 20x)" % (imp / p50)
            ok = ok and imp / p50 >= 20
        verdict = "PASS" if p50 <= ms and ok else ("PASS scaled" if ok else "MISS")
        res["targets"][name] = verdict
        print("  %-36s p50 %6.1f  target %4.0f, scaled %5.1f%s  %s"
              % (name, p50, ms, ms * scale, extra, verdict))
    out = os.environ.get("BENCH_OUT")
    if out:
        with open(os.path.join(out, "warm.json"), "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
