#!/usr/bin/python3
"""The verbs for people: exec, analyze, parse-excel, transform, help and exit codes."""
import errno
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import CORPUS, main  # noqa: E402

IRIS = os.path.join(CORPUS, "csv", "iris.csv")


def test_help_lists_verbs(env):
    p = env.kiln("--help")
    assert p.returncode == 0
    for verb in [b"run", b"exec", b"analyze", b"parse-excel", b"transform", b"files", b"gc",
                 b"doctor"]:
        assert verb in p.stdout, verb
    for verb in ["exec", "analyze", "parse-excel", "transform", "run", "files"]:
        p = env.kiln(verb, "--help")
        assert p.returncode == 0 and b"usage: kiln" in p.stdout, (verb, p)


def test_doctor_reports_cgroups(env):
    p = env.kiln("doctor", "--json")
    assert p.returncode == 0, p
    cg = auto = json.loads(p.stdout)["cgroup"]
    assert cg["mode"] == "auto", cg
    assert set(cg) >= {"inUse", "memory", "pids"}, cg
    if cg["inUse"]:
        assert os.path.isdir(cg["dir"]), cg
    if not (cg["inUse"] and cg["memory"] and cg["pids"]):
        assert cg["detail"], cg
    p = env.kiln("doctor", "--json", env={"KILN_CGROUP": "off"})
    cg = json.loads(p.stdout)["cgroup"]
    assert cg["mode"] == "off" and not cg["inUse"] and "off" in cg["detail"], cg
    # "require": code runs only with both limits in place.
    p = env.kiln("doctor", env={"KILN_CGROUP": "require"})
    full = auto["inUse"] and auto["memory"] and auto["pids"]
    assert (p.returncode == 0) == full, p
    p = env.kiln("exec", "-c", "print(1)", env={"KILN_CGROUP": "require"})
    if full:
        assert p.returncode == 0 and p.stdout == b"1\n", p
    else:
        assert p.returncode == 1 and b"cgroup v2 limits are required" in p.stderr, p
    p = env.kiln("mcp", input=b"", env={"KILN_CGROUP": "require"})
    if full:
        assert p.returncode == 0, p
    else:
        assert p.returncode == 2 and b"configuration error" in p.stderr, p
    p = env.kiln("doctor", env={"KILN_CGROUP": "sometimes"})
    assert p.returncode == 2 and b"'cgroup' must be" in p.stderr, p


UNPRIV_CODE = """
import os, socket
print('uid', os.getuid())
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print('socket: made')
except OSError as e:
    print('socket:', e.errno)
try:
    open('/tmp/../etc/kiln-unpriv-probe', 'w')
    print('etc: written')
except OSError as e:
    print('etc:', e.errno)
with open('out.txt', 'w') as f:
    f.write('made by nobody')
"""


def test_unprivileged_user(env):
    """kiln as a user other than root (here nobody, 65534): every sandbox layer
    works (kiln doctor), and code runs confined as for root: no socket but
    AF_UNIX, nothing written outside its dir, its output file stored. Before,
    the 'nnp' probe failed there (a process without capabilities cannot
    shrink its bounding set) and doctor said kiln refused to run code."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        return "skip"  # switching to another user needs root
    home = os.path.join(env.dir, "nobody")
    for d in (home, os.path.join(env.dir, "scratch")):
        os.makedirs(d)
        os.chown(d, 65534, 65534)
    exe = os.path.join(env.dir, "kiln")  # the build tree may be closed to others
    shutil.copy2(env.env["KILN_BIN"], exe)
    os.chmod(exe, 0o755)
    e = dict(env.env, HOME=home, TMPDIR=home, XDG_CONFIG_HOME=home,
             KILN_STORE_DIR=os.path.join(home, "store"))

    def run(*args):
        return subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                               exe, *args], capture_output=True, env=e, timeout=120)

    p = run("doctor", "--json")
    assert p.returncode == 0, p
    doc = json.loads(p.stdout)
    bad = {k: v for k, v in doc["layers"].items() if not v["ok"]}
    assert doc["ok"] and not bad, bad
    p = run("exec", "--json", "-c", UNPRIV_CODE)
    assert p.returncode == 0, p
    out = json.loads(p.stdout)
    assert out["ok"], out
    lines = out["result"]["stdout"].splitlines()
    assert lines[1] == "socket: %d" % errno.EAFNOSUPPORT, lines  # seccomp's answer
    assert lines[2] in ("etc: %d" % errno.EROFS, "etc: %d" % errno.EACCES), lines
    assert not os.path.exists("/etc/kiln-unpriv-probe")
    assert [f["name"] for f in out["files"]] == ["out.txt"], out["files"]


def test_analyze_human_and_json(env):
    p = env.kiln("analyze", IRIS)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "150 rows" in out, out
    assert "sepal_length" in out.lower() or "sepal.length" in out.lower(), out
    p = env.kiln("analyze", IRIS, "--json", "--report", "none")
    env_ = json.loads(p.stdout)
    assert env_["ok"] and env_["result"]["rows"] == 150
    assert env_["files"] == []
    # The local file was put in the store only for the call.
    p = env.kiln("files", "list", "--json")
    names = [f["name"] for f in json.loads(p.stdout)]
    assert "iris.csv" not in names and names, names


def test_analyze_saves_reports(env):
    out = os.path.join(env.dir, "rep")
    p = env.kiln("analyze", IRIS, "-o", out)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["report.html", "report.xlsx"]
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        assert "<svg" in f.read()


def test_parse_excel_output_dir(env):
    book = os.path.join(CORPUS, "xlsx", "data_types_and_formats_small.xlsx")
    out = os.path.join(env.dir, "sheets")
    p = env.kiln("parse-excel", book, "-o", out)
    assert p.returncode == 0, p.stderr
    assert "Sheet1" in p.stdout.decode()
    assert os.listdir(out) == ["Sheet1.csv"]


def test_exec_inline_with_file_and_inputs(env):
    p = env.kiln("exec", "-c", "import pandas as pd\n"
                 "def main(n):\n    return {'rows': len(pd.read_csv('iris.csv')) * n}\n",
                 "-f", IRIS, "--input", "n=2")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"rows": 300}, p.stdout


def test_exec_script_from_stdin_and_error(env):
    p = env.kiln("exec", "-", input=b"print('from stdin')\n")
    assert p.returncode == 0 and p.stdout == b"from stdin\n", p
    p = env.kiln("exec", "-c", "1/0")
    assert p.returncode == 1
    assert b"CODE_ERROR" in p.stderr and b"ZeroDivisionError" in p.stderr, p.stderr


def test_exec_output_dir(env):
    out = os.path.join(env.dir, "o")
    p = env.kiln("exec", "-c", "open('r.txt','w').write('x')", "-o", out)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "r.txt")) as f:
        assert f.read() == "x"


def test_usage_errors(env):
    for args in [("exec",), ("exec", "--bogus"), ("analyze",), ("analyze", "a", "b"),
                 ("analyze", "/nonexistent.csv"), ("exec", "-c", "1", "--timeout", "soon"),
                 ("transform", IRIS, "--steps", "{not json")]:
        p = env.kiln(*args)
        assert p.returncode == 2, (args, p)
        assert p.stderr, args


if __name__ == "__main__":
    main(globals())
