"""kiln mcp driven by the official MCP TypeScript SDK client (tests/mcp/test.mjs).

Installs the client's locked dependencies (npm ci) when tests/mcp/node_modules
is missing or older than package-lock.json, runs the script and forwards its
output; its last line is the "N passed, N failed" summary of its cases."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MCP_DIR = os.path.normpath(os.path.join(HERE, "..", "mcp"))
KILN = os.environ.get("KILN_BIN") or os.path.abspath(os.path.join(HERE, "..", "..", "kiln"))


def fail(msg):
    print(f"FAIL test_mcp_sdk: {msg}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)


def main():
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        fail("node and npm are needed (run 'make deps')")
    mods = os.path.join(MCP_DIR, "node_modules")
    lock = os.path.join(MCP_DIR, "package-lock.json")
    stamp = os.path.join(mods, ".package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=MCP_DIR, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            fail(f"npm ci failed ({p.returncode}): {p.stderr[-2000:]}")
    env = dict(os.environ, KILN_BIN=KILN)
    p = subprocess.run([node, os.path.join(MCP_DIR, "test.mjs")], cwd=MCP_DIR, env=env,
                       capture_output=True, text=True, timeout=600)
    sys.stderr.write(p.stderr)
    lines = p.stdout.rstrip("\n").split("\n")
    for line in lines[:-1]:
        print(line, file=sys.stderr)
    last = lines[-1] if lines else ""
    if not last or " passed, " not in last:
        fail(f"test.mjs printed no summary (exit {p.returncode})")
    print(last)
    sys.exit(0 if p.returncode == 0 else 1)


if __name__ == "__main__":
    main()
