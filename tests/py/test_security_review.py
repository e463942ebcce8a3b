#!/usr/bin/python3
"""Regression tests for holes found by a review of kiln's trust boundaries;
each fails without its fix."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import main  # noqa: E402


def test_odd_output_names_do_not_fail_the_action(env):
    """A file the code names with a control character or with bytes that are
    not UTF-8 is skipped with a reason; the other outputs are still stored."""
    code = ("open('ok.txt', 'w').write('1')\n"
            "open('a\\nb.txt', 'w').write('2')\n"
            "open(b'\\xff.txt', 'wb').write(b'3')\n"
            "import os\n"
            "os.mkdir('d\\x01')\n"
            "open('d\\x01/x.txt', 'w').write('4')\n")
    out, rc, err = env.run({"action": "executeCode", "arguments": {"code": code}})
    assert out.get("ok") is True, f"{out} {err}"
    assert rc == 0
    names = sorted(f["name"] for f in out["files"])
    assert names == ["ok.txt"], names
    skipped = out["result"].get("skippedOutputs") or []
    assert len(skipped) == 3, skipped
    reasons = sorted(s["reason"] for s in skipped)
    assert reasons == ["name holds a control character", "name holds a control character",
                       "name is not valid UTF-8"], reasons
    p = env.kiln("files", "list", "--json")
    assert p.returncode == 0, p
    assert p.stdout.count(b'"id"') == 1, p.stdout[:600]


def test_skipped_outputs_are_bounded(env):
    """Code can plant links far faster than files: the list of skipped
    outputs in the response stays bounded."""
    code = ("import os\n"
            "for i in range(3000):\n"
            "    os.symlink('/etc/passwd', 'l%d' % i)\n"
            "open('ok.txt', 'w').write('1')\n")
    out, rc, err = env.run({"action": "executeCode", "arguments": {"code": code}})
    assert out.get("ok") is True, f"{out} {err}"
    assert [f["name"] for f in out["files"]] == ["ok.txt"], out["files"]
    skipped = out["result"].get("skippedOutputs") or []
    assert 0 < len(skipped) <= 1000, len(skipped)
    assert all(s["reason"] == "symbolic link" for s in skipped)


if __name__ == "__main__":
    main(globals())
