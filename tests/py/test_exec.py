#!/usr/bin/python3
"""executeCode end to end through `kiln run` (sandbox, runner, staging, outputs).

Each test gets a fresh store (kilntest.Env). The last stdout line is
"N passed, N failed"; the exit status is non-zero on failure.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kilntest  # noqa: E402
from kilntest import b64, expect_error  # noqa: E402

PY = "/usr/bin/python3"


def ex(env, code, **args):
    args["code"] = code
    return env.run({"action": "executeCode", "arguments": args})


def ok(env, code, **args):
    out, rc, err = ex(env, code, **args)
    assert out.get("ok") is True, f"expected success, got {json.dumps(out)[:1500]} {err[:500]}"
    assert rc == 0, rc
    return out


def test_print(env):
    out = ok(env, "print('hello')\nimport sys\nprint('oops', file=sys.stderr)\n")
    r = out["result"]
    assert r["stdout"] == "hello\n", r
    assert r["stderr"] == "oops\n", r
    assert r["returnValue"] is None and r["entryPoint"] == "script", r
    assert r["stdoutTruncated"] is False and isinstance(r["durationMs"], int), r
    assert out["files"] == [], out["files"]


def test_main_inputs(env):
    out = ok(env, "def main(a, b):\n    return {'sum': a + b, 'b': b}\n",
             inputs={"a": 40, "b": 2})
    assert out["result"]["returnValue"] == {"sum": 42, "b": 2}, out["result"]
    assert out["result"]["entryPoint"] == "main"


def test_run_ctx(env):
    out = ok(env, "def run(ctx):\n    return sorted(ctx.items())\n", inputs={"x": 1, "y": "z"})
    assert out["result"]["returnValue"] == [["x", 1], ["y", "z"]], out["result"]
    assert out["result"]["entryPoint"] == "run"


def test_pandas_seed_example(env):
    csv = "city,sales\nOslo,10\nLima,32\nOslo,5\n"
    out = ok(env, "import pandas as pd\n"
                  "df = pd.read_csv('data.csv')\n"
                  "print(df.groupby('city')['sales'].sum().to_dict())\n"
                  "def main():\n    return df\n",
             fileBase64=b64(csv), fileName="data.csv")
    assert out["result"]["stdout"] == "{'Lima': 32, 'Oslo': 15}\n", out["result"]
    assert out["result"]["returnValue"] == [{"city": "Oslo", "sales": 10},
                                            {"city": "Lima", "sales": 32},
                                            {"city": "Oslo", "sales": 5}]
    # The staged input was not modified, so it is not an output.
    assert out["files"] == [], out["files"]


def test_matplotlib_png(env):
    out = ok(env, "import matplotlib.pyplot as plt\n"
                  "import os\nos.makedirs('plots', exist_ok=True)\n"
                  "plt.plot([1, 3, 2])\nplt.savefig('plots/chart.png')\nplt.show()\n")
    files = out["files"]
    assert len(files) == 1, files
    f = files[0]
    assert f["name"] == "plots/chart.png" and f["mimeType"] == "image/png", f
    assert f["scope"] == "temporary" and f["size"] > 100, f
    p = env.kiln("files", "get", f["id"])
    assert p.returncode == 0, p
    assert p.stdout[:8] == b"\x89PNG\r\n\x1a\n", p.stdout[:16]
    assert len(p.stdout) == f["size"]


def test_exception_traceback(env):
    out = expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print('before')\ndef f(x):\n    return x['missing']\nf({})\n"}},
        "CODE_ERROR", contains="KeyError")
    e = out["error"]
    assert 'File "<code>", line 4' in e["traceback"], e["traceback"]
    assert 'File "<code>", line 3, in f' in e["traceback"], e["traceback"]
    assert "kiln-runner" not in e["traceback"], e["traceback"]
    assert e["type"] == "KeyError" and e["stdout"] == "before\n", e


def test_system_exit(env):
    out = ok(env, "import sys\nprint('a')\nsys.exit(0)\n")
    assert out["result"]["stdout"] == "a\n"
    out = expect_error(env, {"action": "executeCode",
                             "arguments": {"code": "import sys\nsys.exit(4)\n"}},
                       "CODE_ERROR", contains="status 4")
    assert out["error"]["exitStatus"] == 4, out["error"]
    # The status python3 exits with (the oracle): True is 1, a status past
    # a C long is 255, else the number's low byte (-1 is 255, 257 is 1);
    # False, and 256 (a low byte of 0), are success.
    for arg in ("True", "2**70", "-(2**70)", "-1", "257", "10**5000"):
        code = "import sys\nsys.exit(%s)\n" % arg
        want = subprocess.run([PY, "-c", code]).returncode
        out = expect_error(env, {"action": "executeCode", "arguments": {"code": code}},
                           "CODE_ERROR", contains="status %d" % want)
        st = out["error"]["exitStatus"]
        assert st == want and type(st) is int, (arg, out["error"])
    for arg in ("False", "256", "2**40"):
        code = "import sys\nprint('z')\nsys.exit(%s)\n" % arg
        assert subprocess.run([PY, "-c", code], capture_output=True).returncode == 0
        assert ok(env, code)["result"]["stdout"] == "z\n"
    out = expect_error(env, {"action": "executeCode", "arguments": {
        "code": "import sys\nsys.exit(-1)\n"}}, "CODE_ERROR")
    assert out["error"]["message"] == "the code exited with status 255 (sys.exit(-1))", out


def test_bom(env):
    # A leading UTF-8 BOM (an editor's) runs as python3 runs such a script file.
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write("\ufeffprint('x', 1)\n".encode())
    try:
        want = subprocess.run([PY, f.name], capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    out = ok(env, "\ufeffprint('x', 1)\n")
    assert want == "x 1\n" and out["result"]["stdout"] == want, out


def test_warnings_shown(env):
    # The code's own warnings reach stderr as python3 prints them, whatever
    # they say; only matplotlib's note that a figure has no window is quiet.
    # matplotlib writes that note only where a display is set (it says
    # nothing without DISPLAY), so the code sets one: python3 then shows it.
    code = ("import os, warnings\n"
            "os.environ['DISPLAY'] = ':0'\n"
            "warnings.warn('this backend is non-interactive, says the user')\n"
            "warnings.warn('a non-GUI backend of our own')\n"
            "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1, 2])\n"
            "fig.show()\nplt.show()\nprint('done')\n")
    env2 = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env2["MPLBACKEND"] = "Agg"
    py = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env2)
    out = ok(env, code)
    assert py.stdout == out["result"]["stdout"] == "done\n", out
    want = [ln.split(": ", 1)[1] for ln in py.stderr.splitlines() if "Warning: " in ln]
    got = [ln.split(": ", 1)[1] for ln in out["result"]["stderr"].splitlines() if "Warning: " in ln]
    assert len(want) > 2 and all("non-GUI backend, so cannot show" in w for w in want[2:]), py.stderr
    assert got == want[:2], (py.stderr, out)


def test_not_serialisable(env):
    expect_error(env, {"action": "executeCode",
                       "arguments": {"code": "def main():\n    return open\n"}},
                 "CODE_ERROR", contains="returnValue is not JSON-serialisable")
    # Integers beyond 64 bits: exact as a double or refused, never rounded
    # (python3's own float() is the oracle).
    out = ok(env, "import numpy as np\ndef main():\n"
                  "    return [2**70, -2**63, 2**63 - 1, int(np.uint64(2**63))]\n")
    assert out["result"]["returnValue"] == [float(2**70), -2**63, 2**63 - 1, float(2**63)], out
    for expr, shown in (("2**70 + 1", str(2**70 + 1)), ("np.uint64(2**64 - 1)", str(2**64 - 1)),
                        ("{'a': [-(2**64 + 1)]}", str(-(2**64 + 1))),
                        ("3**200", "(96 digits)"), ("10**5000", "an integer of 16610 bits")):
        expect_error(env, {"action": "executeCode",
                           "arguments": {"code": f"import numpy as np\ndef main():\n"
                                                 f"    return {expr}\n"}},
                     "CODE_ERROR", contains=shown)


def test_packages(env):
    out = expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print(1)", "packages": ["pandas", "surely-not-installed-pkg"]}},
        "PACKAGE_MISSING", contains="surely-not-installed-pkg")
    assert out["error"]["missing"] == ["surely-not-installed-pkg"], out["error"]
    ok(env, "print(1)", packages=["numpy>=1.0", "python-dateutil", "openpyxl"])
    expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print(1)", "packages": ["../etc"]}}, "INVALID_REQUEST")


def test_package_versions(env):
    # Version specifiers and environment markers are read as pip reads
    # them, against the installed version python3 itself reports.
    v = subprocess.run(["/usr/bin/python3", "-c",
                        "from importlib.metadata import version; print(version('pandas'))"],
                       check=True, capture_output=True, text=True).stdout.strip()
    ok(env, "print(1)", packages=[f"pandas=={v}", "Pandas", f"pandas>={v},<99",
                                  "numpy<1; python_version < '3'"])
    out = expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print(1)", "packages": ["numpy", f"pandas>{v}"]}},
        "PACKAGE_MISSING", contains=f"pandas>{v} (version {v} is installed)")
    assert out["error"]["missing"] == [f"pandas>{v}"], out["error"]
    assert out["error"]["installed"] == {"pandas": v}, out["error"]
    expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print(1)", "packages": ["numpy", "pandas>=abc"]}},
        "INVALID_REQUEST", contains="'packages[1]': 'pandas>=abc' is not a valid requirement")
    expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print(1)", "packages": ["os>=1"]}},
        "PACKAGE_MISSING", contains="os>=1 (its installed version is unknown)")


def test_package_extras(env):
    # Extras are checked as pip installs them: what the distribution's
    # metadata says each extra needs, installed. python3's importlib.metadata
    # and packaging are the oracle. A distribution whose module has another
    # name (fonttools: fontTools) is found.
    oracle = r"""
import json, sys
from importlib import metadata
from packaging.requirements import Requirement
out = {}
for dist, extra in (("pandas", "test"), ("fonttools", "plot"), ("fonttools", "woff")):
    first = None
    for t in metadata.requires(dist) or []:
        r = Requirement(t)
        if r.marker is None or not r.marker.evaluate({"extra": extra}):
            continue
        try:
            metadata.version(r.name)
        except metadata.PackageNotFoundError:
            first = first or r.name
    out[dist + "[" + extra + "]"] = first
try:
    import fonttools
    out["import fonttools"] = True
except ImportError:
    out["import fonttools"] = False
print(json.dumps(out))
"""
    want = json.loads(subprocess.run([PY, "-c", oracle], check=True, capture_output=True,
                                     text=True).stdout)
    assert want["import fonttools"] is False, want
    ok(env, "print(1)", packages=["fonttools", "fonttools>=1", "pandas[no-such-extra]"])
    for req in ("pandas[test]", "fonttools[plot]", "fonttools[woff]"):
        if want[req] is None:
            ok(env, "print(1)", packages=[req])
        else:
            out = expect_error(env, {"action": "executeCode", "arguments": {
                "code": "print(1)", "packages": ["numpy", req]}},
                "PACKAGE_MISSING", contains=f"{req} ([{req.split('[')[1][:-1]}] needs {want[req]}")
            assert out["error"]["missing"] == [req], out["error"]
    assert any(want[k] for k in ("pandas[test]", "fonttools[woff]")), want  # one case missing


def test_timeout(env):
    t0 = time.monotonic()
    expect_error(env, {"action": "executeCode", "arguments": {
        "code": "while True:\n    pass\n", "timeoutMs": 500}}, "TIMEOUT", contains="500 ms")
    took = time.monotonic() - t0
    assert took < 3.0, f"took {took:.2f} s"
    # What was printed before the kill is returned (a longer limit, so that a
    # slow or sanitized start still reaches the print).
    t0 = time.monotonic()
    out = expect_error(env, {"action": "executeCode", "arguments": {
        "code": "print('started', flush=True)\nwhile True:\n    pass\n", "timeoutMs": 3000}},
        "TIMEOUT")
    took = time.monotonic() - t0
    assert took < 6.0, f"took {took:.2f} s"
    assert out["error"]["stdout"] == "started\n", out["error"]
    assert out["error"]["durationMs"] >= 2900, out["error"]


def test_print_flood(env):
    out = ok(env, "import sys\nline = 'x' * 99\nfor i in range(20000):\n    print(line)\n"
                  "print('tail', file=sys.stderr)\n")
    r = out["result"]
    assert r["stdoutTruncated"] is True, {k: v for k, v in r.items() if k != "stdout"}
    assert len(r["stdout"]) <= 1000 * 1000, len(r["stdout"])
    assert r["stderr"] == "tail\n" and r["stderrTruncated"] is False


def test_no_stdlib_shadowing(env):
    evil = "raise SystemExit('shadowed')\n"
    out = ok(env, "import os, json, pandas\n"
                  "def main():\n    return [json.dumps([1]), os.sep, hasattr(pandas, 'Series')]\n",
             files=[{"base64": b64(evil), "name": "os.py"},
                    {"base64": b64(evil), "name": "json.py"},
                    {"base64": b64(evil), "name": "pandas.py"},
                    {"base64": b64(evil), "name": "sitecustomize.py"}])
    assert out["result"]["returnValue"] == ["[1]", "/", True], out["result"]


def test_site_without_pth(env):
    # The same dist-packages as Debian's python3 (the oracle), its builtins,
    # no .pth code run (setuptools' distutils hook), no sitecustomize; the
    # user's line under a warning.
    oracle = subprocess.run(
        ["/usr/bin/python3", "-I", "-c",
         "import sys; print([p for p in sys.path if p.endswith('-packages')])"],
        capture_output=True, text=True, check=True).stdout.strip()
    code = ("import sys, warnings\n"
            "warnings.warn('careful')\n"
            "import mpl_toolkits.mplot3d\n"
            "def main():\n"
            "    return [str([p for p in sys.path if p.endswith('-packages')]),\n"
            "            callable(exit), callable(quit), callable(help), str(copyright)[:9],\n"
            "            'sitecustomize' in sys.modules, '_distutils_hack' in sys.modules]\n")
    out = ok(env, code)
    r = out["result"]
    assert r["returnValue"] == [oracle, True, True, True, "Copyright", False, False], r
    assert r["stderr"] == "<code>:2: UserWarning: careful\n  warnings.warn('careful')\n", r
    out = expect_error(env, {"action": "executeCode", "arguments": {"code": "exit(5)\n"}},
                       "CODE_ERROR", contains="status 5")
    assert out["error"]["exitStatus"] == 5, out["error"]


def test_user_source_lines(env):
    # The user's lines are known to linecache from the start (cold too):
    # traceback.print_exc() shows them and inspect finds a function's source.
    out = ok(env, "import traceback, inspect\ndef f():\n    return 1\ntry:\n    1/0\n"
                  "except Exception:\n    traceback.print_exc()\nprint(inspect.getsource(f))\n")
    r = out["result"]
    assert r["stdout"] == "def f():\n    return 1\n\n", r
    assert 'File "<code>", line 5, in <module>\n    1/0\n' in r["stderr"], r


def test_session(env):
    out = ok(env, "with open('notes.txt', 'w') as f:\n    f.write('from call 1')\n",
             session="s1")
    assert [f["name"] for f in out["files"]] == ["notes.txt"], out["files"]
    assert out["files"][0]["scope"] == "session"
    out = ok(env, "def main():\n    return open('notes.txt').read()\n", session="s1")
    assert out["result"]["returnValue"] == "from call 1", out["result"]
    # Staged, unchanged session files are not outputs again.
    assert out["files"] == [], out["files"]
    # Another session does not see it.
    out = ok(env, "import os\ndef main():\n    return os.path.exists('notes.txt')\n",
             session="s2")
    assert out["result"]["returnValue"] is False


def test_session_is_a_working_directory(env):
    # A session holds one file per name (its newest) and forgets a file its
    # code removed, as a directory would; the quota counts what it holds.
    q = {"KILN_SESSION_QUOTA_BYTES": "2500"}

    def call(code):
        out, rc, err = env.run({"action": "executeCode",
                                "arguments": {"code": code, "session": "wd"}}, env=q)
        assert out["ok"] and rc == 0, (out, err)
        return out
    out = call("import os\nopen('a.txt', 'w').write('1' * 1000)\n"
               "open('b.txt', 'w').write('b')\nos.makedirs('d')\n"
               "open('d/c.txt', 'w').write('c')\n")
    first = {f["name"]: f["id"] for f in out["files"]}
    out = call("import os\nopen('a.txt', 'w').write('2' * 1000)\nos.remove('b.txt')\n")
    assert [f["name"] for f in out["files"]] == ["a.txt"], out
    for n in (3, 4):  # four versions in all: twice the quota's worth
        out = call(f"open('a.txt', 'w').write('{n}' * 1000)\n")
        assert [f["name"] for f in out["files"]] == ["a.txt"], out
    out = call("import os\nprint(sorted(os.listdir()), open('a.txt').read()[:3])\n"
               "os.rename('d/c.txt', 'd/e.txt')\n")
    assert out["result"]["stdout"] == "['a.txt', 'd'] 444\n", out
    p = env.kiln("files", "list", "--session", "wd", "--json")
    held = sorted(f["name"] for f in json.loads(p.stdout))
    assert held == ["a.txt", "d/e.txt"], held
    # The replaced version's id is gone; another session is not touched.
    assert env.kiln("files", "stat", first["a.txt"]).returncode != 0
    ok(env, "open('a.txt', 'w').write('x')\n", session="other")
    out = ok(env, "def main():\n    return open('a.txt').read()[:3]\n", session="wd")
    assert out["result"]["returnValue"] == "444", out


def test_cold_start_timing(env):
    t0 = time.monotonic()
    ok(env, "print(1)")
    t1 = time.monotonic()
    ok(env, "import pandas")
    t2 = time.monotonic()
    print(f"cold one-shot kiln run: print(1) {1000 * (t1 - t0):.0f} ms, "
          f"import pandas {1000 * (t2 - t1):.0f} ms")


def sanitized():
    with open(kilntest.KILN, "rb") as f:
        return b"__asan_init" in f.read()


def test_host_kernel_files_masked(env):
    """The sandbox's /proc tells of its own processes, not of the host's
    kernel: the boot line and symbol table read empty (the host's do not),
    while the code's own /proc/self still works."""
    with open("/proc/cmdline") as f:
        assert f.read().strip(), "the host has a boot line"
    code = ("import os\n"
            "for f in ('cmdline', 'kallsyms', 'timer_list', 'sched_debug'):\n"
            "    if os.path.exists('/proc/' + f):\n"
            "        print(f, len(open('/proc/' + f).read()))\n"
            "print('self', 'Pid:\\t1' in open('/proc/self/status').read())\n")
    out, rc, _ = env.run({"action": "executeCode", "arguments": {"code": code}})
    assert rc == 0, out
    lines_ = out["result"]["stdout"].splitlines()
    assert lines_[0] == "cmdline 0" and lines_[-1] == "self True", lines_
    assert all(l.endswith(" 0") for l in lines_[:-1]), lines_


def test_crash_is_not_a_memory_limit(env):
    """A segfault of a small process (a ctypes mistake) is a crash of the
    code, said as such; one with memory near the limit (a C allocation that
    failed) is MEMORY_LIMIT."""
    out, rc, _ = env.run({"action": "executeCode", "arguments": {
        "code": "import ctypes\nprint('before', flush=True)\nctypes.string_at(8, 16)\n"}})
    assert rc == 1 and out["error"]["code"] == "CODE_ERROR", out
    assert "signal 11" in out["error"]["message"], out["error"]
    assert out["error"]["stdout"] == "before\n", out["error"]
    if sanitized():
        return "skip"  # no RLIMIT_AS under ASan
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\nlibc.malloc.restype = ctypes.c_void_p\n"
            "while True:\n    p = libc.malloc(8 << 20)\n    ctypes.memset(p, 1, 8 << 20)\n")
    out, rc, _ = env.run({"action": "executeCode", "arguments": {"code": code}},
                         env={"KILN_MEMORY_BYTES": 200 * 1024 * 1024})
    assert rc == 1 and out["error"]["code"] == "MEMORY_LIMIT", out


def test_signals_end_the_code_as_in_python(env):
    """A signal whose default action ends a process ends the code as it
    ends a fresh python3 (the oracle): abort(), a segfault, SIGTERM sent to
    itself, alarm(), a signal from a thread, a real-time signal; reported as
    CODE_ERROR with that signal's number, what was printed before, and for a
    fatal one the Python traceback (faulthandler). A forked child keeps the
    usual semantics (multiprocessing's terminate())."""
    for name, code, fatal in kilntest.SIGNAL_CASES:
        out, rc, _ = ex(env, code)
        assert rc == 1 and out["ok"] is False, (name, out)
        kilntest.check_signal_case(name, code, fatal, out["error"])
    out = ok(env, "import multiprocessing as mp, time\n"
                  "q = mp.Process(target=time.sleep, args=(30,))\n"
                  "q.start(); q.terminate(); q.join(); print(q.exitcode)\n")
    assert out["result"]["stdout"] == "-15\n", out["result"]


def test_cpu_limit_is_a_timeout(env):
    """Threads that use up the CPU time limit (RLIMIT_CPU, from the wall
    limit) before the wall clock runs out: TIMEOUT, not MEMORY_LIMIT, also
    when the code ignores the SIGXCPU that comes first (the kernel then
    kills it a second later)."""
    burn = ("import hashlib, threading\ndata = b'x' * (32 << 20)\n"
            "def burn():\n    while True:\n        hashlib.sha256(data).digest()\n"
            "for _ in range(2):\n    threading.Thread(target=burn, daemon=True).start()\n"
            "print('started', flush=True)\nthreading.Event().wait()\n")
    for pre in ("", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"):
        out, rc, _ = ex(env, pre + burn, timeoutMs=4000)
        assert rc == 1 and out["error"]["code"] == "TIMEOUT", out
        assert out["error"]["stdout"] == "started\n", out["error"]


def test_memory_limit(env):
    if sanitized():
        return "skip"  # no RLIMIT_AS under ASan
    out, rc, _ = env.run({"action": "executeCode", "arguments": {
        "code": "print('alloc')\nx = bytearray(400 * 1024 * 1024)\n"}},
        env={"KILN_MEMORY_BYTES": 200 * 1024 * 1024})
    assert rc == 1 and out["error"]["code"] == "MEMORY_LIMIT", out
    assert out["error"]["stdout"] == "alloc\n", out["error"]
    assert out["error"]["type"] == "MemoryError", out["error"]


def test_os_exit(env):
    out = ok(env, "import os, sys\nprint('bye')\nsys.stdout.flush()\nos._exit(0)\n")
    assert out["result"]["stdout"] == "bye\n" and out["result"]["returnValue"] is None
    expect_error(env, {"action": "executeCode",
                       "arguments": {"code": "import os\nos._exit(7)\n"}},
                 "CODE_ERROR", contains="status 7")


def test_stdout_not_spoofable(env):
    # A JSON result printed on stdout is just output.
    out = ok(env, "print('{\"status\":\"ok\",\"returnValue\":666}')\n"
                  "def main():\n    return 1\n")
    assert out["result"]["returnValue"] == 1, out["result"]


def test_invalid_utf8_output(env):
    out = ok(env, "import sys\nsys.stdout.buffer.write(b'a\\xffb\\n')\n")
    assert out["result"]["stdout"] == "a\ufffdb\n", out["result"]


def test_bad_arguments(env):
    expect_error(env, {"action": "executeCode",
                       "arguments": {"code": "print(1)", "packages": [1]}}, "INVALID_REQUEST")
    expect_error(env, {"action": "executeCode",
                       "arguments": {"code": "print(1)", "packages": ["a b c"] * 65}},
                 "INVALID_REQUEST")
    expect_error(env, {"action": "executeCode",
                       "arguments": {"code": "print(1)", "fileName": "../x",
                                     "fileBase64": b64("x")}}, "INVALID_REQUEST")


if __name__ == "__main__":
    kilntest.main(globals())
