#!/usr/bin/python3
"""Regression tests for holes found by a review of kiln's trust boundaries;
each fails without its fix."""
import os
import subprocess
import sys
import tempfile

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


def test_odd_output_names_are_inputs_again(env):
    """An output the code named with spaces at its ends or a C1 control is
    stored under that name and is an input again by its id: staged under a
    cleaned name (it was INVALID_REQUEST, a name an input may not have)."""
    code = ("open(' x.csv ', 'w').write('a\\n1\\n2\\n')\n"
            "open('c\\u0085.csv', 'w').write('a\\n3\\n')\n")
    out, rc, err = env.run({"action": "executeCode", "arguments": {"code": code}})
    assert out.get("ok") is True, f"{out} {err}"
    ids = {f["name"]: f["id"] for f in out["files"]}
    assert sorted(ids) == [" x.csv ", "c\u0085.csv"], ids
    for name, staged, rows in ((" x.csv ", "x.csv", 2), ("c\u0085.csv", "c_.csv", 1)):
        out, rc, err = env.run({"action": "processFile", "arguments": {
            "operation": "analyze", "fileId": ids[name]}})
        assert out.get("ok") is True, f"{out} {err}"
        assert out["result"]["rows"] == rows, out["result"]
        out, rc, err = env.run({"action": "executeCode", "arguments": {
            "code": "import os\nprint(os.listdir())", "files": [{"fileId": ids[name]}]}})
        assert out.get("ok") is True, f"{out} {err}"
        assert out["result"]["stdout"] == "[%r]\n" % staged, out["result"]


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



def test_hard_links_inside_are_outputs(env):
    """A file the code gave several names inside its scratch dir (os.link)
    is an output under each name, with its content; a file whose every
    link is inside is all the sandbox can make (a link to a file outside
    is refused by the kernel there, and skipped by the collector: unit test
    store/outputs_hard_links). Past 256 such names the rest are skipped."""
    code = ("import os\n"
            "open('a.csv', 'w').write('x,y\\n1,2\\n')\n"
            "os.link('a.csv', 'b.csv')\n"
            "os.mkdir('d')\n"
            "os.link('a.csv', 'd/c.csv')\n"
            "try:\n"
            "    os.link('/etc/passwd', 'p')\n"
            "    print('linked')\n"
            "except OSError as e:\n"
            "    print(type(e).__name__)\n")
    out, rc, err = env.run({"action": "executeCode", "arguments": {"code": code}})
    assert out.get("ok") is True, f"{out} {err}"
    assert out["result"]["stdout"] in ("PermissionError\n", "OSError\n"), out["result"]
    names = sorted(f["name"] for f in out["files"])
    assert names == ["a.csv", "b.csv", "d/c.csv"], out
    assert not out["result"].get("skippedOutputs"), out["result"]
    for i, f in enumerate(out["files"]):
        dest = os.path.join(env.dir, "got%d" % i)
        p = env.kiln("files", "get", f["id"], "-o", dest)
        assert p.returncode == 0, p
        with open(dest, "rb") as g:
            assert g.read() == b"x,y\n1,2\n", f


def test_fifos_and_sockets_as_python3(env):
    """The code makes FIFOs, sockets and empty files with os.mkfifo and
    os.mknod as python3 does (mkfifo was EPERM); never a device. None of
    the special files stops the collection (a FIFO nobody writes to) or is
    stored: each is skipped with its kind (a socket read 'cannot be
    opened')."""
    code = ("import os, socket, stat\n"
            "os.mkfifo('f')\n"
            "os.mknod('r')\n"
            "os.mknod('s', stat.S_IFSOCK | 0o600)\n"
            "u = socket.socket(socket.AF_UNIX)\n"
            "u.bind('u')\n"
            "print(sorted(stat.filemode(os.lstat(n).st_mode)[0] for n in os.listdir()))\n")
    with tempfile.TemporaryDirectory() as d:
        want = subprocess.run(["/usr/bin/python3", "-c", code], cwd=d, capture_output=True,
                              text=True, timeout=30)
    assert want.returncode == 0 and want.stdout == "['-', 'p', 's', 's']\n", want
    dev = ("import os, stat\n"
           "for m in (stat.S_IFCHR, stat.S_IFBLK):\n"
           "    try:\n"
           "        os.mknod('d', m | 0o600, os.makedev(1, 3))\n"
           "        print('made')\n"
           "    except OSError as e:\n"
           "        print(e.errno)\n")
    out, rc, err = env.run({"action": "executeCode", "arguments": {"code": code + dev}})
    assert out.get("ok") is True, f"{out} {err}"
    assert out["result"]["stdout"] == want.stdout + "1\n1\n", out["result"]
    assert [f["name"] for f in out["files"]] == ["r"], out["files"]
    skipped = sorted((s["name"], s["reason"]) for s in out["result"]["skippedOutputs"])
    assert skipped == [("f", "FIFO"), ("s", "socket"), ("u", "socket")], skipped


if __name__ == "__main__":
    main(globals())
