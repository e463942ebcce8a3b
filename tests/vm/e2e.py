#!/usr/bin/python3
"""executeCode under sandbox cgroups, end to end, inside the VM of
tests/vm/run.sh (the host's /usr is mounted there read-only, so Debian's
python3 and pandas are the ones kiln uses). The memory of a sandbox's whole
process tree is bounded: four processes of 100 MiB each fit their own
RLIMIT_DATA (256 MiB) but not the tree's memory.max (256 MiB), and the call
ends with MEMORY_LIMIT. The same code succeeds with KILN_CGROUP=off, so the
case cannot pass vacuously. Checked cold (`kiln exec`) and warm (`kiln mcp`:
a standby sandbox made before the call, and back-to-back calls), and that no
sandbox cgroup is left. Prints one "VM PASS name" / "VM FAIL name" a case."""
import json
import os
import subprocess
import sys
import time

KILN = "/work/kiln"
os.environ["KILN_BIN"] = KILN
import warm  # noqa: E402  (bench/warm.py, copied beside this file)
BASE = "/sys/fs/cgroup/kiln"
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tree.py")) as f:
    TREE = f.read()  # tests/vm/tree.py, copied beside this file


def env(**kw):
    e = dict(os.environ)
    e.update(KILN_MEMORY_BYTES=str(256 << 20), KILN_STORE_DIR="/tmp/store", HOME="/tmp",
             TMPDIR="/tmp")
    e.update(kw)
    return e


def exec_cold(**kw):
    p = subprocess.run([KILN, "exec", "--json", "-c", TREE], env=env(**kw),
                       capture_output=True, timeout=120)
    return json.loads(p.stdout)


class Mcp(warm.Mcp):
    """bench/warm.py's client, with the MCP handshake."""

    def __init__(self, **kw):
        super().__init__(env(**kw))
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "vm", "version": "1"}})
        self.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.p.stdin.flush()

    def run(self, code):
        # The first call waits for the warm-up, slow under emulation.
        r = self.request("tools/call", {"name": "executeCode", "arguments": {"code": code}},
                         timeout=600)
        return r["result"]["structuredContent"]


def code_of(env_):
    return None if env_.get("ok") else (env_.get("error") or {}).get("code")


def check(name, cond, detail=""):
    print(("VM PASS " if cond else "VM FAIL ") + name + ("" if cond else f": {detail}"),
          flush=True)
    return cond


def no_cgroup_left():
    return not os.path.isdir(BASE) or not [d for d in os.listdir(BASE) if d.startswith("sbx-")]


def main():
    r = exec_cold()
    check("cold: tree over memory.max is MEMORY_LIMIT", code_of(r) == "MEMORY_LIMIT",
          json.dumps(r)[:400])
    r = exec_cold(KILN_CGROUP="off")
    check("cold: same tree without the cgroup runs",
          r.get("ok") and r["result"]["stdout"] == "children failed: 0\n", json.dumps(r)[:400])
    m = Mcp()
    try:
        warm = m.run("import pandas\nprint(int(pandas.Series([1, 2, 3]).sum()))")
        check("warm: pandas runs", warm.get("ok") and warm["result"]["stdout"] == "6\n",
              json.dumps(warm)[:400])
        time.sleep(1.0)  # the standby sandbox is ready by now
        r = m.run(TREE)
        check("warm standby: tree over memory.max is MEMORY_LIMIT",
              code_of(r) == "MEMORY_LIMIT", json.dumps(r)[:400])
        r = m.run(TREE)  # back to back: a fresh sandbox
        check("warm back to back: tree over memory.max is MEMORY_LIMIT",
              code_of(r) == "MEMORY_LIMIT", json.dumps(r)[:400])
        r = m.run("print('after')")
        check("warm: the server goes on", r.get("ok") and r["result"]["stdout"] == "after\n",
              json.dumps(r)[:400])
    finally:
        m.close()
    check("no sandbox cgroup left", no_cgroup_left(), os.listdir(BASE))


if __name__ == "__main__":
    sys.exit(main())
