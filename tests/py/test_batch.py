#!/usr/bin/python3
"""kiln batch: files and JSON Lines in parallel, order, resume, shards, exit codes."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kilntest  # noqa: E402
from kilntest import CORPUS, b64, main  # noqa: E402

SMALL = ["iris.csv", "leading_zeros.csv", "dates_dd_mm_yyyy.csv", "german_locale_numbers.csv",
         "comment_line_first.csv", "date_like_number.csv"]
NOREPORT = '{"report":"none"}'


def corpus_dir(env, names=SMALL):
    d = os.path.join(env.dir, "in")
    os.makedirs(d, exist_ok=True)
    for n in names:
        shutil.copy(os.path.join(CORPUS, "csv", n), d)
    return d


def lines(data):
    return [json.loads(x) for x in data.decode().splitlines() if x.strip()]


def write_jsonl(env, rows, name="req.jsonl"):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def analyze(csv, **extra):
    r = {"action": "processFile", "arguments": {"operation": "analyze", "fileBase64": b64(csv),
                                                "options": {"report": "none"}}}
    r.update(extra)
    return r


def test_dir_of_csvs_in_order(env):
    d = corpus_dir(env)
    p = env.kiln("batch", "--op", "analyze", "--options", NOREPORT, "--jobs", "2", d)
    assert p.returncode == 0, p.stderr
    out = lines(p.stdout)
    want = [os.path.join(d, n) for n in sorted(SMALL)]
    assert [o["input"] for o in out] == want, [o["input"] for o in out]
    assert all(o["ok"] and o["action"] == "processFile" for o in out), out
    iris = [o for o in out if o["input"].endswith("iris.csv")][0]
    assert iris["result"]["rows"] == 150
    assert b"6 ok, 0 failed" in p.stderr, p.stderr
    # Same order with one job, and a glob expands (sorted) too.
    p2 = env.kiln("batch", "--op", "analyze", "--options", NOREPORT, "--jobs", "1",
                  os.path.join(d, "*.csv"))
    assert p2.returncode == 0, p2.stderr
    assert [o["input"] for o in lines(p2.stdout)] == want


def test_failing_file_gives_exit_1(env):
    d = corpus_dir(env, ["iris.csv"])
    with open(os.path.join(d, "zz.xlsx"), "wb") as f:
        f.write(b"PK\x03\x04 this is not a real workbook")
    out_path = os.path.join(env.dir, "out.jsonl")
    p = env.kiln("batch", "--op", "parse_excel", "-o", out_path, d)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stdout == b""
    with open(out_path, "rb") as f:
        out = lines(f.read())
    assert len(out) == 2 and all(o["ok"] is False for o in out), out
    assert b"0 ok, 2 failed" in p.stderr


def test_jsonl_bad_line_and_ids(env):
    rows = [analyze("a,b\n1,2\n", id="first"),
            "{this is not json",
            "",
            {"action": "executeCode", "arguments": {"code": "print(6*7)"}, "id": 3},
            analyze("x\n1\n2\n3\n")]
    path = write_jsonl(env, rows)
    p = env.kiln("batch", "--requests", path, "--jobs", "3")
    assert p.returncode == 1, (p.returncode, p.stderr)
    out = lines(p.stdout)
    assert [o["input"] for o in out] == [1, 2, 4, 5], out
    assert out[0]["id"] == "first" and out[0]["ok"] and out[0]["result"]["rows"] == 1
    assert out[1]["ok"] is False and out[1]["error"]["code"] == "INVALID_REQUEST"
    assert "malformed JSON" in out[1]["error"]["message"] and "id" not in out[1]
    assert out[2]["id"] == 3 and out[2]["result"]["stdout"] == "42\n", out[2]
    assert out[3]["ok"] and out[3]["result"]["rows"] == 3 and "id" not in out[3]
    assert list(out[0].keys())[:2] == ["input", "id"], list(out[0].keys())
    assert b"3 ok, 1 failed" in p.stderr, p.stderr


def test_code_draws_its_own_random_numbers(env):
    """executeCode items fork from one warm interpreter: each still draws its
    own numbers from `random` and numpy's global generator."""
    code = "import random, numpy as np\nprint(random.random(), np.random.rand())"
    path = write_jsonl(env, [{"action": "executeCode", "arguments": {"code": code}}] * 4)
    p = env.kiln("batch", "--requests", path, "--jobs", "2")
    assert p.returncode == 0, (p.returncode, p.stderr)
    out = [o["result"]["stdout"].split() for o in lines(p.stdout)]
    assert len(out) == 4, out
    for k, name in enumerate(("random.random", "np.random.rand")):
        vals = [o[k] for o in out]
        assert len(set(vals)) == 4, f"{name} repeats between items: {vals}"


def test_code_sees_no_host_environment(env):
    """executeCode items fork from a warm interpreter that read the host's
    environment: the code still sees only the sandbox's variables."""
    code = "import os\nprint(sorted(os.environ.items()))"
    path = write_jsonl(env, [{"action": "executeCode", "arguments": {"code": code}}] * 2)
    p = env.kiln("batch", "--requests", path, "--jobs", "2",
                 env={"DATABASE_URL": "postgres://app:pw-1234@db/prod"})
    assert p.returncode == 0, (p.returncode, p.stderr)
    out = [o["result"]["stdout"] for o in lines(p.stdout)]
    assert len(out) == 2 and all("MPLBACKEND" in o for o in out), out
    assert not [o for o in out if "DATABASE_URL" in o or "pw-1234" in o], out


def test_jobs_do_not_see_each_other(env):
    """Each job's sandbox is forked from a zygote made before the requests
    file was read: a job finds neither the later lines nor the earlier
    lines' answers in its memory."""
    def code(c):
        return {"action": "executeCode", "arguments": {"code": c}}
    rows = [code("print(%r)" % kilntest.secret("env")), code(kilntest.MEMORY_PROBE),
            {"action": "executeCode", "arguments": {
                "code": "print(1)", "files": [{"name": "s.txt",
                                               "base64": b64(kilntest.secret("keyfile"))}]}},
            code("x = %r" % kilntest.secret("key"))]
    path = write_jsonl(env, rows)
    for jobs in ("1", "3"):
        p = env.kiln("batch", "--requests", path, "--jobs", jobs)
        assert p.returncode == 0, (p.returncode, p.stderr)
        out = lines(p.stdout)
        assert out[0]["result"]["stdout"] == kilntest.secret("env") + "\n", out[0]
        if not kilntest.check_memory_probe(out[1]["result"]["stdout"]):
            return "skip"


def test_resume_skips_done(env):
    rows = [analyze("a\n%d\n" % i, id="r%d" % i) for i in range(5)]
    path = write_jsonl(env, rows)
    out_path = os.path.join(env.dir, "out.jsonl")
    # A previous run finished lines 1 and 3, and died while writing a third line.
    p = env.kiln("batch", "--requests", path, "--shard", "0/2", "-o", out_path)
    assert p.returncode == 0, p.stderr
    with open(out_path, "rb") as f:
        first = lines(f.read())
    assert [o["input"] for o in first] == [1, 3, 5]
    with open(out_path, "a") as f:
        f.write('{"input": 2, "ok": tr')  # torn last line
    p = env.kiln("batch", "--requests", path, "--resume", "-o", out_path)
    assert p.returncode == 0, p.stderr
    assert b"2 ok, 0 failed, 3 skipped" in p.stderr, p.stderr
    with open(out_path, "rb") as f:
        raw = f.read().decode().splitlines()
    done = []
    for x in raw:
        try:
            done.append(json.loads(x))
        except ValueError:
            pass
    assert sorted(o["input"] for o in done) == [1, 2, 3, 4, 5], raw
    assert sorted(o["id"] for o in done) == ["r0", "r1", "r2", "r3", "r4"]
    # Nothing left: a third run does nothing.
    p = env.kiln("batch", "--requests", path, "--resume", "-o", out_path)
    assert p.returncode == 0 and b"0 ok, 0 failed, 5 skipped" in p.stderr, p.stderr


def test_resume_by_id_after_reorder(env):
    out_path = os.path.join(env.dir, "out.jsonl")
    with open(out_path, "w") as f:
        f.write(json.dumps({"input": 9, "id": "keep", "ok": True}) + "\n")
    path = write_jsonl(env, [analyze("a\n1\n", id="keep"), analyze("a\n2\n", id="new")])
    p = env.kiln("batch", "--requests", path, "--resume", "-o", out_path)
    assert p.returncode == 0, p.stderr
    with open(out_path) as f:
        ids = [json.loads(x)["id"] for x in f if x.strip()]
    assert ids == ["keep", "new"], ids


def test_interrupted_run_resumes_what_was_cut_off(env):
    """SIGINT or SIGTERM mid-run: the jobs it cut off get no line (they read
    INTERNAL "please report this" without their id, and --resume skipped
    them), their scratch dirs go, and --resume runs exactly them."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        rows = [{"action": "executeCode", "id": "r%d" % i, "arguments": {
            "code": "import time\ntime.sleep(%s)\nprint(%d)" % ("0" if i < 2 else "30", i)}}
            for i in range(5)]
        path = write_jsonl(env, rows, "slow-%d.jsonl" % sig)
        out_path = os.path.join(env.dir, "slow-%d.out" % sig)
        p = subprocess.Popen([kilntest.KILN, "batch", "--requests", path, "--jobs", "3",
                              "-o", out_path], env=env.env, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:  # r0 and r1 written, r2..r4 asleep
            if os.path.exists(out_path) and len(open(out_path).read().splitlines()) == 2:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        p.send_signal(sig)
        err = p.communicate(timeout=60)[1]
        assert p.returncode == 128 + sig, (p.returncode, err)
        assert b"2 ok, 0 failed, 3 cut off" in err, err
        with open(out_path) as f:
            got = [json.loads(x) for x in f]
        assert [(o["id"], o["ok"]) for o in got] == [("r0", True), ("r1", True)], got
        scratch = env.env["KILN_SCRATCH_DIR"]
        left = [n for n in os.listdir(scratch) if n.startswith("run-")] \
            if os.path.isdir(scratch) else []
        assert left == [], left
        # the cut-off ones run again (quickly now)
        with open(path, "w") as f:
            for r in rows:
                r["arguments"]["code"] = r["arguments"]["code"].replace("30", "0")
                f.write(json.dumps(r) + "\n")
        p2 = env.kiln("batch", "--requests", path, "--resume", "-o", out_path)
        assert p2.returncode == 0 and b"3 ok, 0 failed, 2 skipped" in p2.stderr, p2.stderr
        with open(out_path) as f:
            got = [json.loads(x) for x in f]
        assert sorted(o["id"] for o in got) == ["r0", "r1", "r2", "r3", "r4"], got
        assert all(o["ok"] for o in got), got


def test_resume_with_a_repeated_id(env):
    """Two lines with one id: each is matched by its line on --resume (the
    second was taken for done by the first's id and never ran)."""
    rows = [{"action": "executeCode", "id": "a", "arguments": {"code": "print('first')"}},
            {"action": "executeCode", "id": "a", "arguments": {"code": "print('second')"}}]
    path = write_jsonl(env, rows)
    out_path = os.path.join(env.dir, "out.jsonl")
    p = env.kiln("batch", "--requests", path, "-o", out_path)
    assert p.returncode == 0, p.stderr
    with open(out_path) as f:
        first = f.readline()
    with open(out_path, "w") as f:
        f.write(first)
    p = env.kiln("batch", "--requests", path, "--resume", "-o", out_path)
    assert p.returncode == 0 and b"1 ok, 0 failed, 1 skipped" in p.stderr, p.stderr
    with open(out_path) as f:
        got = [json.loads(x)["result"]["stdout"] for x in f]
    assert got == ["first\n", "second\n"], got


def test_shards_cover_inputs_once(env):
    d = corpus_dir(env)
    seen = []
    for i in range(3):
        p = env.kiln("batch", "--op", "analyze", "--options", NOREPORT, "--shard", f"{i}/3",
                     "--jobs", "2", d)
        assert p.returncode == 0, p.stderr
        seen += [o["input"] for o in lines(p.stdout)]
    assert sorted(seen) == [os.path.join(d, n) for n in sorted(SMALL)], seen
    a = [o["input"] for o in lines(env.kiln("batch", "--op", "analyze", "--options", NOREPORT,
                                            "--shard", "0/2", d).stdout)]
    b = [o["input"] for o in lines(env.kiln("batch", "--op", "analyze", "--options", NOREPORT,
                                            "--shard", "1/2", d).stdout)]
    assert not set(a) & set(b) and sorted(a + b) == sorted(seen), (a, b)


def test_usage_errors(env):
    for args in [[], ["--op", "analyze"], ["--op", "nope", "x"], ["--requests"],
                 ["--op", "analyze", "--requests", "x.jsonl"], ["--shard", "2/2", "--op",
                                                                "analyze", "x"],
                 ["--op", "analyze", "--options", "[1]", CORPUS],
                 ["--op", "analyze", os.path.join(env.dir, "missing.csv")],
                 ["--requests", "r.jsonl", "--resume"]]:
        p = env.kiln("batch", *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.startswith(b"kiln batch:"), (args, p.stderr)
    p = env.kiln("batch", "--help")
    assert p.returncode == 0 and b"--shard" in p.stdout


if __name__ == "__main__":
    main(globals())
