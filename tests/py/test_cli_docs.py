#!/usr/bin/python3
"""docs/cli.md (the one source of the CLI docs) agrees with the binary's help;
the man page generated from it renders cleanly; human output has no colour
escapes when piped or under NO_COLOR."""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import CORPUS, KILN, main  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "cli.md")
GEN = os.path.join(ROOT, "mk", "gen_man.py")
IRIS = os.path.join(CORPUS, "csv", "iris.csv")
OPT_RE = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
# Verbs whose help does not yet carry every section (owned elsewhere).
HELP_LAYOUT_EXEMPT = set()


def doc_verbs():
    """{verb: set of options} from docs/cli.md's COMMANDS section."""
    text = re.sub(r"<!--.*?-->", "", open(DOC, encoding="utf-8").read(), flags=re.S)
    m = re.search(r"^## COMMANDS\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "docs/cli.md has no COMMANDS section"
    verbs = {}
    for part in re.split(r"^### ", m.group(1), flags=re.M)[1:]:
        name, body = part.split("\n", 1)
        assert "```synopsis" in body, f"{name}: no synopsis block"
        assert re.search(r"^Examples?:$", body, re.M), f"{name}: no Example(s): block"
        om = re.search(r"^Options:\n(.*?)(?=^Examples?:)", body, re.S | re.M)
        assert om, f"{name}: no Options: list"
        opts = set()
        for term in re.findall(r"^- `([^`]+)`:", om.group(1), re.M):
            opts.update(OPT_RE.findall(term.split(" ")[0] + " " + " ".join(
                w for w in term.split(" ")[1:] if w.startswith("-"))))
        verbs[name.strip()] = opts
    return verbs


def help_verbs(env):
    p = env.kiln("--help")
    assert p.returncode == 0, p
    out = p.stdout.decode()
    sect = out.split("verbs:\n", 1)[1].split("\n\n", 1)[0]
    return [ln.split()[0] for ln in sect.splitlines() if ln.startswith("  ")]


def help_options(text):
    """Options of lines "  -x ..." / "  --long ...": the tokens of the first column."""
    opts = set()
    for ln in text.splitlines():
        if not re.match(r"^  --?[A-Za-z]", ln):
            continue
        col = re.split(r"\s{2,}", ln.strip(), maxsplit=1)[0]
        opts.update(OPT_RE.findall(col))
    return opts - {"-h", "--help"}


def test_verbs_match(env):
    docs = doc_verbs()
    bin_verbs = help_verbs(env)
    assert len(bin_verbs) >= 10, bin_verbs
    assert set(bin_verbs) == set(docs), (sorted(set(bin_verbs) ^ set(docs)))


def test_options_match(env):
    docs = doc_verbs()
    problems = []
    for verb in help_verbs(env):
        p = env.kiln(verb, "--help")
        assert p.returncode == 0, (verb, p)
        got = help_options(p.stdout.decode())
        assert got, f"{verb}: no option lines in --help"
        want = docs.get(verb, set())
        if got != want:
            problems.append(f"{verb}: only in --help {sorted(got - want)}, "
                            f"only in docs/cli.md {sorted(want - got)}")
    assert not problems, "\n".join(problems)


def test_option_parser_sees_differences(env):
    # The comparison must be able to fail: a made-up help line is noticed.
    assert help_options("  -o, --output DIR     x\n  --json [--pretty]  y\n  text --no\n") == \
        {"-o", "--output", "--json", "--pretty"}


def test_help_layout(env):
    for verb in help_verbs(env):
        if verb in HELP_LAYOUT_EXEMPT:
            continue
        out = env.kiln(verb, "--help").stdout.decode()
        assert out.startswith("usage: kiln " + verb), (verb, out[:80])
        assert re.search(r"^options:$", out, re.M), (verb, "no options: section")
        assert re.search(r"^examples?( \(.*\))?:$", out, re.M | re.I), (verb, "no example")
        assert re.search(r"^exit status: 0 .*1 .*2 usage error", out, re.M | re.I | re.S), \
            (verb, "no exit status line")
        # A description paragraph between the usage and the first section.
        head = out.split("\n\n")
        assert len(head) > 2 and head[1].strip() and not head[1].startswith("  "), (verb, head[1])


def test_help_alias(env):
    for verb in ("files", "analyze", "run", "schema"):
        a = env.kiln("help", verb)
        b = env.kiln(verb, "--help")
        assert a.returncode == 0 and a.stdout == b.stdout and a.stdout, verb
    p = env.kiln("help", "no-such-verb")
    assert p.returncode == 2 and b"unknown verb" in p.stderr, p


def test_version_matches_doc(env):
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"<!--\s*man:.*?version=(\S+)", text)
    assert m, "no man: version comment"
    p = env.kiln("--version")
    assert p.stdout.decode().strip() == "kiln " + m.group(1), p.stdout


def gen_page(env):
    out = os.path.join(env.dir, "kiln.1")
    p = subprocess.run(["/usr/bin/python3", GEN, DOC, out], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return out


def test_man_page_renders(env):
    page = gen_page(env)
    text = open(page, encoding="utf-8").read()
    assert text.startswith(".TH KILN 1"), text[:40]
    for sect in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXAMPLES",
                 "EXIT STATUS", "ENVIRONMENT", "FILES"):
        assert f'.SH "{sect}"' in text, sect
    if shutil.which("man"):
        e = dict(env.env, MANWIDTH="80")
        p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, env=e,
                           timeout=30)
        tool = "man"
    elif shutil.which("groff"):
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", page], capture_output=True,
                           timeout=30)
        tool = "groff"
    else:
        print("SKIP man page rendering: neither man nor groff is installed", file=sys.stderr)
        return "skip"
    assert p.returncode == 0 and not p.stderr.strip(), (tool, p.stderr[:2000])
    assert b"kiln parse-excel" in p.stdout.replace(b"\xe2\x80\x90", b"-"), tool
    # docs/kiln.1, when present, is the output of the current source.
    committed = os.path.join(ROOT, "docs", "kiln.1")
    if os.path.exists(committed):
        assert open(committed, encoding="utf-8").read() == text, \
            "docs/kiln.1 is stale: run 'make man'"


def test_generator_rejects_bad_source(env):
    bad = os.path.join(env.dir, "bad.md")
    with open(bad, "w") as f:
        f.write("## NAME\n\nkiln - x\n\n```sh\nunterminated\n")
    p = subprocess.run(["/usr/bin/python3", GEN, bad, os.path.join(env.dir, "o.1")],
                       capture_output=True, timeout=30)
    assert p.returncode != 0 and b"unterminated" in p.stderr, p


def run_pty(env, args, extra):
    """Run kiln with stdout on a pseudo-terminal; its output bytes and exit status."""
    e = dict(env.env)
    e.update(extra)
    master, slave = pty.openpty()
    p = subprocess.Popen([KILN, *args], stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.PIPE, env=e)
    os.close(slave)
    data = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    p.wait(timeout=60)
    p.stderr.close()
    return data, p.returncode


def human_cmds(env):
    xlsx = None
    for root, _, files in os.walk(CORPUS):
        for f in sorted(files):
            if f.endswith(".xlsx") and xlsx is None:
                xlsx = os.path.join(root, f)
    cmds = [["analyze", IRIS, "--report", "none"], ["files", "list"], ["gc"]]
    if xlsx:
        cmds.append(["parse-excel", xlsx])
    return cmds


def test_no_escape_codes_when_piped(env):
    env.kiln("files", "put", IRIS, "--session", "s1")
    for args in human_cmds(env):
        p = env.kiln(*args)
        assert p.returncode == 0, (args, p.stderr[:400])
        assert p.stdout and b"\x1b" not in p.stdout, (args, p.stdout[:200])
        assert b"\x1b" not in p.stderr, (args, p.stderr[:200])


def test_no_escape_codes_with_no_color(env):
    env.kiln("files", "put", IRIS, "--session", "s1")
    for args in human_cmds(env):
        data, rc = run_pty(env, args, {"NO_COLOR": "1"})
        assert rc == 0, (args, data[:400])
        assert data and b"\x1b" not in data, (args, data[:200])


if __name__ == "__main__":
    main(globals())
