#!/usr/bin/python3
"""Turn docs/cli.md (the one source of the CLI docs) into a man(7) page.

usage: gen_man.py docs/cli.md OUT.1

Only the Markdown subset docs/cli.md uses is understood: "## SECTION" and
"### VERB" headings, paragraphs, "- `term`: text" lists, ```fenced blocks
(```synopsis blocks under a verb also make up the page's SYNOPSIS), inline
`code` and *emphasis*. HTML comments are dropped; the "man:" comment gives the
version and date. Standard library only.
"""
import os
import re
import sys


def esc(text):
    """Escape plain text for roff (no inline markup)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def inline(text):
    """Escape text and turn `code` into bold and *em* into italics."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append("\\fB" + esc(part) + "\\fR")
        else:
            part = esc(part)
            part = re.sub(r"\*([^*\s][^*]*)\*", r"\\fI\1\\fR", part)
            out.append(part)
    return "".join(out)


def line_safe(s):
    """A roff text line must not start with a control character."""
    return "\\&" + s if s[:1] in (".", "'") else s


def parse(md):
    """Return (meta, blocks): blocks are (kind, data) in document order."""
    meta = {}
    for m in re.finditer(r"<!--\s*man:(.*?)-->", md, re.S):
        for k, v in re.findall(r"(\w+)=(\S+)", m.group(1)):
            meta[k] = v
    md = re.sub(r"<!--.*?-->", "", md, flags=re.S)
    lines = md.split("\n")
    blocks = []
    para = []
    i = 0

    def flush():
        if para:
            blocks.append(("p", " ".join(para)))
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            flush()
            tag = ln[3:].strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise SystemExit("gen_man: unterminated ``` block")
            blocks.append(("code", (tag, body)))
        elif ln.startswith("#"):
            flush()
            level = len(ln) - len(ln.lstrip("#"))
            blocks.append(("h%d" % level, ln[level:].strip()))
        elif ln.startswith("- "):
            flush()
            item = ln[2:].strip()
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item += " " + lines[i].strip()
            m = re.match(r"((?:`[^`]+`(?:,\s*)?)+):\s*(.*)$", item)
            if not m:
                raise SystemExit("gen_man: list item is not \"- `term`: text\": " + item)
            blocks.append(("item", (m.group(1), m.group(2))))
        elif not ln.strip():
            flush()
        else:
            para.append(ln.strip())
        i += 1
    flush()
    return meta, blocks


def render(meta, blocks):
    out = []
    version = meta.get("version", "")
    date = meta.get("date", "")
    out.append('.TH KILN 1 "%s" "kiln %s" "User Commands"' % (date, version))
    out.append(".nh")
    synopses = [b[1][1] for b in blocks if b[0] == "code" and b[1][0] == "synopsis"]
    prev = None
    for kind, data in blocks:
        if kind == "h1":
            continue
        if kind == "h2":
            out.append('.SH "%s"' % data.upper())
            if data.upper() == "SYNOPSIS":
                out.append(".ad l")
                for body in synopses:
                    for s in body:
                        words = s.split(" ", 2)
                        out.append(".PP")
                        out.append(".B %s" % " ".join(words[:2]))
                        if len(words) > 2:
                            out.append(line_safe(esc(words[2])))
                out.append(".ad b")
                prev = "code"
                continue
        elif kind == "h3":
            out.append('.SS "%s"' % esc(data))
        elif kind == "p":
            if prev == "item":
                out.append(".PP")
            elif prev not in ("h2", "h3"):
                out.append(".PP")
            out.append(line_safe(inline(data)))
        elif kind == "item":
            term, text = data
            out.append(".TP")
            out.append(line_safe(inline(term)))
            out.append(line_safe(inline(text)))
        elif kind == "code":
            tag, body = data
            if prev not in ("h2", "h3"):
                out.append(".PP")
            out.append(".RS 4")
            out.append(".nf")
            for s in body:
                s = esc(s)
                out.append(line_safe(("\\fB" + s + "\\fR") if tag == "synopsis" else s))
            out.append(".fi")
            out.append(".RE")
        prev = kind
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 3:
        print("usage: gen_man.py SOURCE.md OUT.1", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        meta, blocks = parse(f.read())
    text = render(meta, blocks)
    tmp = argv[2] + ".tmp.%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
