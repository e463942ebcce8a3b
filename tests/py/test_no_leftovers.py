#!/usr/bin/python3
"""A run never leaves anything behind (SPEC §4): no process survives kiln,
whether the work ends, times out, or kiln itself is killed; no scratch dir
is left (kilntest checks KILN_SCRATCH_DIR after every test)."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import KILN, main  # noqa: E402


def procs_with(token):
    """Pids whose command line holds token (forked sandbox processes keep kiln's argv)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def spin_code(token):
    # A daemon that double-forks and detaches, and a busy loop.
    return (f"# {token}\nimport os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        while True: time.sleep(0.05)\n"
            "    os._exit(0)\n"
            "while True: pass\n")


def test_kill_9_of_kiln_takes_the_sandbox(env):
    token = "tok-" + uuid.uuid4().hex
    p = subprocess.Popen([KILN, "exec", "-c", spin_code(token)], env=env.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kiln + the sandboxed worker + the daemon
    assert wait_for(lambda: len(procs_with(token)) >= 3, 20), procs_with(token)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert wait_for(lambda: not procs_with(token), 5), f"survivors: {procs_with(token)}"
    # The dead kiln's scratch dir is swept by the next store use.
    env.kiln("gc")


def cgroup_dir(env):
    """Where this host's sandbox cgroups are made, or None (kiln doctor)."""
    p = env.kiln("doctor", "--json")
    cg = json.loads(p.stdout)["cgroup"]
    return cg["dir"] if cg["inUse"] else None


def sbx_cgroups(base, pid):
    return sorted(d for d in os.listdir(base) if d.startswith(f"sbx-{pid}-"))


def test_kill_9_cgroup_is_swept(env):
    """A sandbox's cgroup lives while it runs; one of a kiln killed with -9
    (empty by then: its sandbox died with it) goes at the next probe."""
    base = cgroup_dir(env)
    if not base:
        print("sandbox cgroups are not in use on this host", file=sys.stderr)
        return "skip"
    token = "tok-" + uuid.uuid4().hex
    p = subprocess.Popen([KILN, "exec", "-c", spin_code(token)], env=env.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: len(procs_with(token)) >= 3, 20), procs_with(token)
    mine = sbx_cgroups(base, p.pid)
    assert len(mine) == 1, mine
    with open(os.path.join(base, mine[0], "cgroup.procs")) as f:
        inside = {int(x) for x in f.read().split()}
    assert set(procs_with(token)) - {p.pid} <= inside, (procs_with(token), inside)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert wait_for(lambda: not procs_with(token), 5), f"survivors: {procs_with(token)}"
    assert sbx_cgroups(base, p.pid) == mine
    assert env.kiln("exec", "-c", "pass").returncode == 0
    assert sbx_cgroups(base, p.pid) == [], sbx_cgroups(base, p.pid)
    env.kiln("gc")


def test_timeout_takes_the_daemon(env):
    token = "tok-" + uuid.uuid4().hex
    t0 = time.time()
    p = env.kiln("exec", "--timeout", "1500", "-c", spin_code(token))
    assert p.returncode == 1 and b"TIMEOUT" in p.stderr, p
    assert time.time() - t0 < 10
    assert wait_for(lambda: not procs_with(token), 3), f"survivors: {procs_with(token)}"


def test_normal_end_takes_the_daemon(env):
    token = "tok-" + uuid.uuid4().hex
    code = spin_code(token).replace("while True: pass\n", "print('done')\n")
    p = env.kiln("exec", "-c", code)
    assert p.returncode == 0 and p.stdout == b"done\n", p
    assert wait_for(lambda: not procs_with(token), 3), f"survivors: {procs_with(token)}"


DEEP_CODE = """
import os
for i in range(%d):  # deeper than any path: chdir one level at a time
    os.mkdir('d')
    os.chdir('d')
    open('f', 'w').write('x')
open('big', 'wb').write(b'0' * (4 << 20))
os.chmod('.', 0o500)  # and a read-only level
print('deep')
"""


def test_deep_tree_is_removed(env):
    """However deep the code nests directories (here 2000 levels, past
    PATH_MAX, a 4 MB file at the bottom, the last level read-only), the
    scratch dir goes: in a run and in the sweep of a dead kiln's dir."""
    p = env.kiln("exec", "--json", "-c", DEEP_CODE % 2000)
    assert p.returncode == 0, p.stdout[:300]
    assert json.loads(p.stdout)["result"]["stdout"] == "deep\n", p.stdout[:300]
    assert env.leftovers() == [], env.leftovers()
    # A dead kiln's dir of the same shape: the sweep (kiln gc) removes it.
    token = "tok-" + uuid.uuid4().hex
    code = ("# " + token + "\ntop = __import__('os').getcwd()\n" + DEEP_CODE % 300).replace(
        "print('deep')", "open(top + '/ready', 'w').close()\nimport time\ntime.sleep(60)")
    k = subprocess.Popen([KILN, "exec", "-c", code], env=env.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scratch = os.path.join(env.dir, "scratch")
    assert wait_for(lambda: any(os.path.exists(os.path.join(scratch, d, "ready"))
                                for d in env.leftovers()), 30), env.leftovers()
    os.kill(k.pid, signal.SIGKILL)
    k.wait()
    assert wait_for(lambda: not procs_with(token), 5), procs_with(token)
    assert len(env.leftovers()) == 1, env.leftovers()
    assert env.kiln("gc").returncode == 0
    assert env.leftovers() == [], env.leftovers()


if __name__ == "__main__":
    main(globals())
