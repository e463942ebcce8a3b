#!/usr/bin/python3
"""The store verbs of the kiln CLI: files put/list/get/stat/rm and gc.

Drives $KILN_BIN against a fresh store (KILN_STORE_DIR) per test. The last
stdout line is "N passed, N failed"; the exit status is non-zero on failure.
"""
import hashlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

KILN = os.environ.get("KILN_BIN") or os.path.abspath("kiln")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Env:
    def __init__(self, **extra):
        self.dir = tempfile.mkdtemp(prefix="kiln-store-cli-")
        self.store = os.path.join(self.dir, "store")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        self.env["KILN_BIN"] = KILN
        self.env["KILN_STORE_DIR"] = self.store
        self.env["KILN_SCRATCH_DIR"] = os.path.join(self.dir, "scratch")
        self.env["KILN_CONFIG"] = os.path.join(self.dir, "config.json")
        with open(self.env["KILN_CONFIG"], "w") as f:
            f.write("{}\n")
        self.env.update({k: str(v) for k, v in extra.items()})

    def run(self, *args, stdin=None):
        return subprocess.run([KILN, *args], env=self.env, input=stdin, capture_output=True,
                              timeout=30)

    def file(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def put(self, data, name="data.csv", *extra):
        p = self.file("src-" + name, data)
        r = self.run("files", "put", p, "--name", name, *extra)
        assert r.returncode == 0, r
        return json.loads(r.stdout)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


@test
def put_prints_file_object(e):
    data = b"a,b\n1,2\n"
    f = e.put(data, "table.csv")
    check(re.fullmatch(r"f_[0-9a-f]{32}", f["id"]), f)
    check(f["name"] == "table.csv" and f["size"] == len(data), f)
    check(f["mimeType"] == "text/csv", f)
    check(f["scope"] == "temporary" and "session" not in f, f)
    check(f["sha256"] == hashlib.sha256(data).hexdigest(), f)
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f["expiresAt"]), f)
    exp = time.mktime(time.strptime(f["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    check(590 <= exp - time.time() <= 602, exp - time.time())
    # Default name is the path's last segment.
    p = e.file("plain.txt", b"x")
    r = e.run("files", "put", p)
    check(r.returncode == 0 and json.loads(r.stdout)["name"] == "plain.txt", r)


@test
def put_rejects_bad_input(e):
    p = e.file("x", b"x")
    for args in (["--name", "../x"], ["--name", "a/b"], ["--name", ""], ["--session", "a b"],
                 ["--session", ".."], ["--bogus"]):
        r = e.run("files", "put", p, *args)
        check(r.returncode == 2, (args, r))
    r = e.run("files", "put", os.path.join(e.dir, "absent"))
    check(r.returncode == 1 and b"absent" in r.stderr, r)
    r = e.run("files", "put")
    check(r.returncode == 2, r)


@test
def list_json_and_table(e):
    a = e.put(b"one", "one.txt")
    b = e.put(b"two", "two.json", "--session", "s1")
    r = e.run("files", "list", "--json")
    check(r.returncode == 0, r)
    got = json.loads(r.stdout)
    check({x["id"] for x in got} == {a["id"], b["id"]}, got)
    check(next(x for x in got if x["id"] == b["id"]) == b, got)
    r = e.run("files", "list", "--session", "s1", "--json")
    check([x["id"] for x in json.loads(r.stdout)] == [b["id"]], r)
    r = e.run("files", "list", "--session=nobody", "--json")
    check(json.loads(r.stdout) == [], r)
    r = e.run("files", "list")
    out = r.stdout.decode()
    check(r.returncode == 0 and a["id"] in out and "two.json" in out and "session" in out, out)
    check("ID" in out.splitlines()[0] and "EXPIRES IN" in out.splitlines()[0], out)
    r = e.run("files", "list", "extra")
    check(r.returncode == 2, r)


@test
def get_to_stdout_and_file(e):
    data = bytes(range(256)) * 40
    f = e.put(data, "blob.bin")
    r = e.run("files", "get", f["id"])
    check(r.returncode == 0 and r.stdout == data, r.returncode)
    out = os.path.join(e.dir, "out.bin")
    r = e.run("files", "get", f["id"], "-o", out)
    check(r.returncode == 0, r)
    with open(out, "rb") as fh:
        check(fh.read() == data, "copy differs")
    # -o never overwrites.
    r = e.run("files", "get", f["id"], "-o", out)
    check(r.returncode == 1 and b"exists" in r.stderr, r)
    r = e.run("files", "get")
    check(r.returncode == 2, r)
    r = e.run("files", "get", f["id"], "-o")
    check(r.returncode == 2, r)


def run_on_tty(e, *args):
    """Run kiln with stdout on a pseudo-terminal; returns (status, tty output, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([KILN, *args], env=e.env, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 10)
        if not ready:
            break
        try:
            c = os.read(master, 65536)
        except OSError:
            break
        if not c:
            break
        chunks.append(c)
    err = p.stderr.read()
    p.wait(timeout=10)
    os.close(master)
    return p.returncode, b"".join(chunks), err


@test
def get_refuses_binary_on_terminal(e):
    png = e.put(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "chart.png")
    code, out, err = run_on_tty(e, "files", "get", png["id"])
    check(code == 2 and b"binary" in err and b"PNG" not in out, (code, out, err))
    txt = e.put(b"hello terminal\n", "hi.txt")
    code, out, err = run_on_tty(e, "files", "get", txt["id"])
    check(code == 0 and b"hello terminal" in out, (code, out, err))
    # With -o a binary file is fine.
    dst = os.path.join(e.dir, "chart.png")
    code, out, err = run_on_tty(e, "files", "get", png["id"], "-o", dst)
    check(code == 0 and os.path.getsize(dst) == png["size"], (code, err))


@test
def stat_and_rm(e):
    f = e.put(b"bye", "bye.txt")
    r = e.run("files", "stat", f["id"])
    check(r.returncode == 0 and json.loads(r.stdout) == f, r)
    r = e.run("files", "rm", f["id"])
    check(r.returncode == 0, r)
    for verb in ("rm", "get", "stat"):
        r = e.run("files", verb, f["id"])
        check(r.returncode == 1 and b"not found" in r.stderr, (verb, r))
    for bad in ("../x", "f_" + "0" * 31, "F_" + "0" * 32, "x" * 3000):
        r = e.run("files", "get", bad)
        check(r.returncode == 1 and b"not found" in r.stderr, (bad, r))
    r = e.run("files", "rm")
    check(r.returncode == 2, r)
    r = e.run("files", "frobnicate")
    check(r.returncode == 2, r)
    r = e.run("files")
    check(r.returncode == 2, r)


@test
def expiry_and_gc(e):
    e.env["KILN_TTL_TEMPORARY_S"] = "1"
    f = e.put(b"short-lived", "s.txt")
    e.env["KILN_TTL_TEMPORARY_S"] = "600"
    keep = e.put(b"long-lived", "l.txt")
    time.sleep(2.1)
    r = e.run("files", "get", f["id"])
    check(r.returncode == 1 and b"not found" in r.stderr, r)
    r = e.run("files", "list", "--json")
    check([x["id"] for x in json.loads(r.stdout)] == [keep["id"]], r)
    r = e.run("gc", "--json")
    check(r.returncode == 0, r)
    g = json.loads(r.stdout)
    check(g["removed"] == 1 and g["reclaimedBytes"] == len(b"short-lived"), g)
    r = e.run("gc")
    check(r.returncode == 0 and r.stdout.decode().startswith("removed 0 files"), r)
    r = e.run("files", "get", keep["id"])
    check(r.stdout == b"long-lived", r)
    r = e.run("gc", "--bogus")
    check(r.returncode == 2, r)


@test
def gc_removes_dead_scratch_dirs(e):
    e.run("files", "list")  # creates the store
    p = subprocess.Popen(["true"])
    p.wait()
    dead = os.path.join(e.dir, "scratch", "run-%d-00aa" % p.pid)
    os.makedirs(os.path.join(dead, "sub"))
    with open(os.path.join(dead, "sub", "x.csv"), "w") as fh:
        fh.write("x")
    live = os.path.join(e.dir, "scratch", "run-%d-00bb" % os.getpid())
    os.makedirs(live)
    r = e.run("gc", "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["scratchDirs"] == 1
          and json.loads(r.stdout)["removed"] == 0, r)
    check(not os.path.exists(dead) and os.path.isdir(live), "scratch sweep")


@test
def session_quota(e):
    e.env["KILN_SESSION_QUOTA_FILES"] = "2"
    e.put(b"1", "a.txt", "--session", "q")
    e.put(b"2", "b.txt", "--session", "q")
    p = e.file("c", b"3")
    r = e.run("files", "put", p, "--session", "q")
    check(r.returncode == 1 and b"quota" in r.stderr, r)
    r = e.run("files", "put", p, "--session", "other")
    check(r.returncode == 0, r)
    r = e.run("files", "list", "--session", "q", "--json")
    check(len(json.loads(r.stdout)) == 2, r)


@test
def help_exits_zero(e):
    for args in (["files", "--help"], ["files", "get", "--help"], ["gc", "--help"]):
        r = e.run(*args)
        check(r.returncode == 0 and b"usage" in r.stdout, (args, r))


def main():
    passed = failed = 0
    for fn in TESTS:
        e = Env()
        try:
            fn(e)
            passed += 1
        except Exception:
            failed += 1
            print("FAIL %s" % fn.__name__, file=sys.stderr)
            traceback.print_exc()
        finally:
            e.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
