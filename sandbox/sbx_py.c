#include "sbx_py.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "buf.h"
#include "klimits.h"
#include "sbx.h"
#include "sbx_hot.h"
#include "sbx_py_runner_code.h" /* generated: mk/runner_code.py */
#include "sbx_seccomp.h"

extern char **environ;

#include "banned.h"

/* Where Debian's python3.11 lives: prefix for the stdlib, and through site
 * (sys.prefix == "/usr") /usr/lib/python3/dist-packages. */
#ifndef SBX_PY_HOME
#define SBX_PY_HOME L"/usr"
#endif
#define SBX_PY_ENV_FAILED "cannot replace the warm interpreter's environment in the sandbox"
#define SBX_PY_RUNNER_NAME "<kiln-runner>"
#define SBX_PY_RUNNER_MAX (256 * 1024)

static bool sbx_py_started;
/* Warm mode: the runner's _kiln_main, compiled once in the parent and
 * inherited by every child (a new reference kept for the process's life). */
static PyObject *sbx_py_main_fn;

/*
 * The runner, executed in the child. It redirects sys.stdout/stderr to fds
 * 1/2 (line-buffered, flushed at the end whatever happens), checks
 * `packages`, runs the code as a fresh __main__ compiled as "<code>" (its
 * source registered with linecache so tracebacks show the user's lines),
 * calls main(**inputs) or run(ctx) when defined (not when the code has its
 * own `if __name__ == "__main__":` block: it already ran what it wanted), and
 * returns the result object as JSON text. Tracebacks are trimmed to start at
 * the first "<code>" frame.
 */
static const char *const sbx_py_runner[] = {
    /* BEGIN RUNNER */
    "import sys\n",
    "import os\n",
    "\n",
    "_kiln_mtype = type(sys)\n",
    "_kiln_absent = object()\n",
    "\n",
    "\n",
    "def _kiln_stdio():\n",
    "    import io\n",
    "    for fd, name in ((1, 'stdout'), (2, 'stderr')):\n",
    "        try:\n",
    "            raw = io.FileIO(fd, 'w', closefd=False)\n",
    "            s = io.TextIOWrapper(io.BufferedWriter(raw), encoding='utf-8',\n",
    "                                 errors='backslashreplace', line_buffering=True)\n",
    "        except (OSError, ValueError):\n",
    "            continue\n",
    "        setattr(sys, name, s)\n",
    "        setattr(sys, '__' + name + '__', s)\n",
    "\n",
    "\n",
    "def _kiln_flush():\n",
    "    for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):\n",
    "        try:\n",
    "            s.flush()\n",
    "        except BaseException:\n",
    "            pass\n",
    "\n",
    "\n",
    "class _KilnNotJSON(Exception):\n",
    "    pass\n",
    "\n",
    "\n",
    "def _kiln_tname(t):\n",
    "    m = getattr(t, '__module__', None)\n",
    "    q = getattr(t, '__qualname__', None) or getattr(t, '__name__', '?')\n",
    "    return q if m in (None, 'builtins') else m + '.' + q\n",
    "\n",
    "\n",
    "def _kiln_big(n):\n",
    "    # An integer beyond 64 bits: kiln's JSON numbers are 64-bit integers\n",
    "    # or doubles, so it goes out as a double only when that is exact\n",
    "    # (2**70); one that would round is an error, not a wrong number.\n",
    "    try:\n",
    "        f = float(n)\n",
    "        if int(f) == n:\n",
    "            return f\n",
    "    except OverflowError:\n",
    "        pass\n",
    "    if n.bit_length() > 4000:\n",
    "        what = 'an integer of %d bits' % n.bit_length()\n",
    "    else:\n",
    "        d = str(n)\n",
    "        what = 'the integer ' + d if len(d) <= 40 else \\\n",
    "            'the integer %s...%s (%d digits)' % (d[:20], d[-8:], len(d.lstrip('-')))\n",
    "    raise _KilnNotJSON(what + ' (beyond 64 bits, and a double would round it: '\n",
    "                       'return str(n) to keep every digit, or float(n))')\n",
    "\n",
    "\n",
    "def _kiln_plain(obj, depth, maxd):\n",
    "    import math\n",
    "    if depth > maxd:\n",
    "        raise _KilnNotJSON('nested deeper than %d levels (circular reference?)' % maxd)\n",
    "    if obj is None or obj is True or obj is False:\n",
    "        return obj\n",
    "    t = type(obj)\n",
    "    if t is str:\n",
    "        return obj\n",
    "    if t is int:\n",
    "        if -2 ** 63 <= obj < 2 ** 63:\n",
    "            return obj\n",
    "        return _kiln_big(obj)\n",
    "    if t is float:\n",
    "        return obj if math.isfinite(obj) else None\n",
    "    if t is dict:\n",
    "        return _kiln_dict(obj, depth, maxd)\n",
    "    if t is list or t is tuple:\n",
    "        return [_kiln_plain(x, depth + 1, maxd) for x in obj]\n",
    "    np = sys.modules.get('numpy')\n",
    "    pd = sys.modules.get('pandas')\n",
    "    if pd is not None:\n",
    "        if isinstance(obj, pd.DataFrame):\n",
    "            return _kiln_plain(obj.to_dict(orient='records'), depth, maxd)\n",
    "        if isinstance(obj, pd.Series):\n",
    "            ix = obj.index\n",
    "            if isinstance(ix, pd.RangeIndex) and ix.start == 0 and ix.step == 1:\n",
    "                return _kiln_plain(obj.tolist(), depth, maxd)\n",
    "            return _kiln_plain(obj.to_dict(), depth, maxd)\n",
    "        if isinstance(obj, pd.Index):\n",
    "            return _kiln_plain(obj.tolist(), depth, maxd)\n",
    "        if obj is pd.NaT or obj is getattr(pd, 'NA', None):\n",
    "            return None\n",
    "        if isinstance(obj, pd.Timestamp):\n",
    "            return obj.isoformat()\n",
    "        if isinstance(obj, pd.Timedelta):\n",
    "            return obj.total_seconds()\n",
    "        if isinstance(obj, pd.Period):\n",
    "            return str(obj)\n",
    "    if np is not None:\n",
    "        if isinstance(obj, np.ndarray):\n",
    "            return _kiln_plain(obj.tolist(), depth, maxd)\n",
    "        if isinstance(obj, np.generic):\n",
    "            if isinstance(obj, np.datetime64):\n",
    "                if np.isnat(obj):\n",
    "                    return None\n",
    "                return str(obj)\n",
    "            if isinstance(obj, np.timedelta64):\n",
    "                if np.isnat(obj):\n",
    "                    return None\n",
    "                return obj / np.timedelta64(1, 's')\n",
    "            return _kiln_plain(obj.item(), depth, maxd)\n",
    "    import datetime\n",
    "    import decimal\n",
    "    if isinstance(obj, bool):\n",
    "        return bool(obj)\n",
    "    if isinstance(obj, int):\n",
    "        return _kiln_plain(int(obj), depth, maxd)\n",
    "    if isinstance(obj, float):\n",
    "        return _kiln_plain(float(obj), depth, maxd)\n",
    "    if isinstance(obj, str):\n",
    "        return str(obj)\n",
    "    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):\n",
    "        return obj.isoformat()\n",
    "    if isinstance(obj, datetime.timedelta):\n",
    "        return obj.total_seconds()\n",
    "    if isinstance(obj, decimal.Decimal):\n",
    "        if not obj.is_finite():\n",
    "            return None\n",
    "        if obj == obj.to_integral_value() and -2 ** 63 <= obj < 2 ** 63:\n",
    "            return int(obj)\n",
    "        return float(obj)\n",
    "    if isinstance(obj, dict):\n",
    "        return _kiln_dict(obj, depth, maxd)\n",
    "    if isinstance(obj, (list, tuple)):\n",
    "        return [_kiln_plain(x, depth + 1, maxd) for x in obj]\n",
    "    if isinstance(obj, (set, frozenset)):\n",
    "        items = list(obj)\n",
    "        try:\n",
    "            items.sort()\n",
    "        except TypeError:\n",
    "            pass\n",
    "        return [_kiln_plain(x, depth + 1, maxd) for x in items]\n",
    "    if isinstance(obj, (bytes, bytearray)):\n",
    "        try:\n",
    "            return bytes(obj).decode('utf-8')\n",
    "        except UnicodeDecodeError:\n",
    "            raise _KilnNotJSON(_kiln_tname(t) + ' (not UTF-8 text; return base64 instead)')\n",
    "    import enum\n",
    "    if isinstance(obj, enum.Enum):\n",
    "        return _kiln_plain(obj.value, depth + 1, maxd)\n",
    "    import uuid\n",
    "    import pathlib\n",
    "    if isinstance(obj, (uuid.UUID, pathlib.PurePath)):\n",
    "        return str(obj)\n",
    "    import dataclasses\n",
    "    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):\n",
    "        return _kiln_plain(dataclasses.asdict(obj), depth, maxd)\n",
    "    import collections.abc\n",
    "    if isinstance(obj, collections.abc.Mapping):\n",
    "        return _kiln_dict(dict(obj), depth, maxd)\n",
    "    raise _KilnNotJSON(_kiln_tname(t))\n",
    "\n",
    "\n",
    "def _kiln_key(k):\n",
    "    if isinstance(k, str):\n",
    "        return str(k)\n",
    "    if k is None or isinstance(k, bool):\n",
    "        return {None: 'null', True: 'true', False: 'false'}[k]\n",
    "    np = sys.modules.get('numpy')\n",
    "    if np is not None and isinstance(k, np.generic):\n",
    "        k = k.item()\n",
    "    if isinstance(k, (int, float)):\n",
    "        return str(_kiln_plain(k, 0, 1))\n",
    "    import datetime\n",
    "    if isinstance(k, (datetime.datetime, datetime.date, datetime.time)):\n",
    "        return k.isoformat()\n",
    "    raise _KilnNotJSON('dict key of type ' + _kiln_tname(type(k)))\n",
    "\n",
    "\n",
    "def _kiln_dict(obj, depth, maxd):\n",
    "    return {_kiln_key(k): _kiln_plain(v, depth + 1, maxd) for k, v in obj.items()}\n",
    "\n",
    "\n",
    "def _kiln_guarded(tree):\n",
    "    import ast\n",
    "    for node in tree.body:\n",
    "        if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):\n",
    "            continue\n",
    "        t = node.test\n",
    "        sides = [t.left] + list(t.comparators)\n",
    "        if any(isinstance(s, ast.Name) and s.id == '__name__' for s in sides) and \\\n",
    "                any(isinstance(s, ast.Constant) and s.value == '__main__' for s in sides):\n",
    "            return True\n",
    "    return False\n",
    "\n",
    "\n",
    "def _kiln_line(e):\n",
    "    if isinstance(e, SyntaxError) and e.filename == '<code>':\n",
    "        return e.lineno\n",
    "    line = None\n",
    "    tb = e.__traceback__\n",
    "    while tb is not None:\n",
    "        if tb.tb_frame.f_code.co_filename == '<code>':\n",
    "            line = tb.tb_lineno\n",
    "        tb = tb.tb_next\n",
    "    return line\n",
    "\n",
    "\n",
    "def _kiln_json_loads(text):\n",
    "    import json\n",
    "    return json.loads(text)\n",
    "\n",
    "\n",
    "_kiln_source = []\n",
    "\n",
    "\n",
    "def _kiln_lines():\n",
    "    # The user's code in linecache, for tracebacks, warnings and inspect.\n",
    "    import linecache\n",
    "    if _kiln_source:\n",
    "        code = _kiln_source[0]\n",
    "        linecache.cache['<code>'] = (len(code), None, code.splitlines(True), '<code>')\n",
    "\n",
    "\n",
    "def _kiln_error(code, e, tb_cap, extra_msg=None):\n",
    "    tb = e.__traceback__\n",
    "    while tb is not None and tb.tb_frame.f_code.co_filename != '<code>':\n",
    "        tb = tb.tb_next\n",
    "    try:\n",
    "        # traceback and linecache may be what the code broke\n",
    "        import traceback\n",
    "        _kiln_lines()\n",
    "        text = ''.join(traceback.format_exception(type(e), e, tb))\n",
    "    except BaseException:\n",
    "        text = type(e).__name__ + '\\n'\n",
    "    if len(text) > tb_cap:\n",
    "        text = '... (traceback truncated) ...\\n' + text[-tb_cap:]\n",
    "    try:\n",
    "        detail = str(e)\n",
    "    except BaseException:\n",
    "        detail = ''\n",
    "    msg = extra_msg or (type(e).__name__ + (': ' + detail if detail else ''))\n",
    "    if len(msg) > 400:\n",
    "        msg = msg[:400] + '...'\n",
    "    line = _kiln_line(e)\n",
    "    if line is not None and extra_msg is None:\n",
    "        msg += ' (line %d)' % line\n",
    "    err = {'code': code, 'message': msg, 'type': _kiln_tname(type(e)), 'traceback': text}\n",
    "    if line is not None:\n",
    "        err['line'] = line\n",
    "    return err\n",
    "\n",
    "\n",
    "def _kiln_importable(name):\n",
    "    import importlib.util\n",
    "    try:\n",
    "        return importlib.util.find_spec(name) is not None\n",
    "    except BaseException:\n",
    "        return False\n",
    "\n",
    "\n",
    "def _kiln_version(dist, mod):\n",
    "    # The installed version: the distribution's metadata, else the\n",
    "    # module's __version__ (a module of the standard library has none).\n",
    "    from importlib import metadata\n",
    "    try:\n",
    "        return metadata.version(dist)\n",
    "    except Exception:\n",
    "        pass\n",
    "    try:\n",
    "        import importlib\n",
    "        v = getattr(importlib.import_module(mod), '__version__', None)\n",
    "    except BaseException:\n",
    "        return None\n",
    "    return v if isinstance(v, str) else None\n",
    "\n",
    "\n",
    "def _kiln_installed(req):\n",
    "    # A distribution installed under a name that is not its module's\n",
    "    # (fonttools: fontTools), as pip sees it.\n",
    "    import re\n",
    "    from importlib import metadata\n",
    "    m = re.match(r'\\s*([A-Za-z0-9][A-Za-z0-9._-]*)', req)\n",
    "    try:\n",
    "        return m is not None and metadata.distribution(m.group(1)) is not None\n",
    "    except Exception:\n",
    "        return False\n",
    "\n",
    "\n",
    "def _kiln_unmet(req, mod):\n",
    "    # Why a `packages` entry is not met, as pip reads it (the version\n",
    "    # specifier, the environment marker): None when it is met, else\n",
    "    # (code, reason, (name, installed version) or None).\n",
    "    found = _kiln_importable(mod)\n",
    "    if not found and mod != mod.lower():\n",
    "        mod = mod.lower()  # pip's names ignore case: Pandas, PyYAML\n",
    "        found = _kiln_importable(mod)\n",
    "    if not found:\n",
    "        found = _kiln_installed(req)\n",
    "    gone = ('PACKAGE_MISSING', 'not installed', None)\n",
    "    if not any(c in req for c in '<>=!~;@['):\n",
    "        return None if found else gone\n",
    "    try:\n",
    "        from packaging.requirements import Requirement\n",
    "        from packaging.version import Version\n",
    "    except ImportError:\n",
    "        why = 'its version cannot be checked: the packaging module is not installed'\n",
    "        return ('PACKAGE_MISSING', why, None)\n",
    "    try:\n",
    "        r = Requirement(req)\n",
    "    except Exception as e:\n",
    "        first = (str(e).splitlines() or [''])[0]\n",
    "        return ('INVALID_REQUEST', 'not a valid requirement: %s' % first, None)\n",
    "    if r.marker is not None and not r.marker.evaluate():\n",
    "        return None\n",
    "    if not found:\n",
    "        return gone\n",
    "    if r.url:\n",
    "        return ('PACKAGE_MISSING', 'a requirement with a URL cannot be checked', None)\n",
    "    if not r.specifier:\n",
    "        return _kiln_extras(r, Requirement, Version)\n",
    "    v = _kiln_version(r.name, mod)\n",
    "    if v is None:\n",
    "        return ('PACKAGE_MISSING', 'its installed version is unknown', None)\n",
    "    try:\n",
    "        met = r.specifier.contains(Version(v), prereleases=True)\n",
    "    except Exception:\n",
    "        why = 'version %s is installed (not comparable)' % v\n",
    "        return ('PACKAGE_MISSING', why, (r.name, v))\n",
    "    if not met:\n",
    "        return ('PACKAGE_MISSING', 'version %s is installed' % v, (r.name, v))\n",
    "    return _kiln_extras(r, Requirement, Version)\n",
    "\n",
    "\n",
    "def _kiln_extras(r, Requirement, Version):\n",
    "    # pandas[excel]: what the distribution's metadata says the extras need,\n",
    "    # each checked as installed, in a version that fits (as pip would have\n",
    "    # installed them). An extra the distribution does not declare adds\n",
    "    # nothing (pip warns and goes on).\n",
    "    if not r.extras:\n",
    "        return None\n",
    "    from importlib import metadata\n",
    "    try:\n",
    "        needs = metadata.requires(r.name) or []\n",
    "    except Exception:\n",
    "        return ('PACKAGE_MISSING', 'its extras cannot be checked: no metadata', None)\n",
    "    for text in needs:\n",
    "        try:\n",
    "            dep = Requirement(text)\n",
    "        except Exception:\n",
    "            continue\n",
    "        hit = [e for e in sorted(r.extras) if dep.marker is not None\n",
    "               and 'extra' in str(dep.marker) and dep.marker.evaluate({'extra': e})]\n",
    "        if not hit:\n",
    "            continue\n",
    "        try:\n",
    "            v = metadata.version(dep.name)\n",
    "        except Exception:\n",
    "            why = '[%s] needs %s%s, not installed' % (hit[0], dep.name, dep.specifier)\n",
    "            return ('PACKAGE_MISSING', why, None)\n",
    "        try:\n",
    "            fits = dep.specifier.contains(Version(v), prereleases=True)\n",
    "        except Exception:\n",
    "            fits = False\n",
    "        if not fits:\n",
    "            why = '[%s] needs %s%s, version %s is installed' % (hit[0], dep.name,\n",
    "                                                                 dep.specifier, v)\n",
    "            return ('PACKAGE_MISSING', why, (dep.name, v))\n",
    "    return None\n",
    "\n",
    "\n",
    "def _kiln_packages(wanted):\n",
    "    # The error for the `packages` not met, or None.\n",
    "    whys, missing, installed = [], [], {}\n",
    "    for i, (req, mod) in enumerate(wanted):\n",
    "        u = _kiln_unmet(req, mod)\n",
    "        if u is None:\n",
    "            continue\n",
    "        if u[0] == 'INVALID_REQUEST':\n",
    "            msg = \"'packages[%d]': '%.100s' is %s\" % (i, req, u[1])\n",
    "            return {'code': 'INVALID_REQUEST', 'message': msg}\n",
    "        missing.append(req)\n",
    "        whys.append(req if u[1] == 'not installed' else '%s (%s)' % (req, u[1]))\n",
    "        if u[2] is not None:\n",
    "            installed[u[2][0]] = u[2][1]\n",
    "    if not missing:\n",
    "        return None\n",
    "    plural = 's' if len(missing) > 1 else ''\n",
    "    msg = 'Python package%s not available: %s' % (plural, ', '.join(whys))\n",
    "    err = {'code': 'PACKAGE_MISSING', 'missing': missing,\n",
    "           'message': msg + '; nothing is installed at run time'}\n",
    "    if installed:\n",
    "        err['installed'] = installed\n",
    "    return err\n",
    "\n",
    "\n",
    "def _kiln_setup_env():\n",
    "    tmp = os.environ.get('TMPDIR') or '/tmp'\n",
    "    os.environ['MPLBACKEND'] = 'Agg'\n",
    "    for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS',\n",
    "              'NUMEXPR_NUM_THREADS'):\n",
    "        os.environ[v] = '1'\n",
    "    home = os.environ.get('HOME')\n",
    "    if not home or not os.access(home, os.W_OK):\n",
    "        os.environ['HOME'] = tmp\n",
    "    if 'XDG_CACHE_HOME' not in os.environ:\n",
    "        os.environ['XDG_CACHE_HOME'] = os.path.join(tmp, 'kiln-cache')\n",
    "    if 'MPLCONFIGDIR' not in os.environ:\n",
    "        os.environ['MPLCONFIGDIR'] = os.path.join(tmp, 'kiln-matplotlib')\n",
    "    _kiln_quiet_mpl()\n",
    "\n",
    "\n",
    "_kiln_quiet = []\n",
    "\n",
    "\n",
    "def _kiln_quiet_mpl():\n",
    "    # Done once in a warm parent: its children inherit the filters.\n",
    "    if not _kiln_quiet:\n",
    "        import warnings\n",
    "        # matplotlib's own notes that show() has no window, in the\n",
    "        # words of its versions; a user's warning that says the same\n",
    "        # in other words still shows\n",
    "        msgs = (r'Matplotlib is currently using \\S+, which is a non-GUI backend, ',\n",
    "                r'FigureCanvas\\S* is non-interactive, and thus cannot be shown')\n",
    "        for m in msgs:\n",
    "            warnings.filterwarnings('ignore', message=m, category=UserWarning)\n",
    "        _kiln_quiet.append(True)\n",
    "    mpl = sys.modules.get('matplotlib')\n",
    "    if mpl is not None:\n",
    "        try:\n",
    "            if str(mpl.get_backend()).lower() != 'agg':\n",
    "                mpl.use('Agg', force=True)\n",
    "        except BaseException:\n",
    "            pass\n",
    "\n",
    "\n",
    "def _kiln_signals():\n",
    "    # A warm child: Python's table of handlers is its parent's, the\n",
    "    # kernel's is the sandbox's (all default; SIGPIPE and SIGXFSZ\n",
    "    # ignored). Both become what a fresh interpreter there has.\n",
    "    import _signal as s\n",
    "    want = {s.SIGINT: s.default_int_handler, s.SIGPIPE: s.SIG_IGN, s.SIGXFSZ: s.SIG_IGN}\n",
    "    for n in s.valid_signals():\n",
    "        h = want.get(n, s.SIG_DFL)\n",
    "        if n == s.SIGINT or s.getsignal(n) != h:\n",
    "            try:\n",
    "                s.signal(n, h)\n",
    "            except (OSError, ValueError, RuntimeError):\n",
    "                pass\n",
    "\n",
    "\n",
    "def _kiln_dumps(obj):\n",
    "    # JSON text a strict reader takes: a lone surrogate (a file name that\n",
    "    # os.listdir() decoded with surrogateescape, '\\ud800') is written as\n",
    "    # the text \\udXXX, as print() writes it to stdout.\n",
    "    import json\n",
    "    text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(',', ':'))\n",
    "    if '\\\\ud' not in text:\n",
    "        return text\n",
    "    import re\n",
    "\n",
    "    def fix(m):\n",
    "        return m.group(0) if m.group(1) or m.group(2) else '\\\\' + m.group(0)\n",
    "    pair = r'\\\\ud[89ab][0-9a-f]{2}\\\\ud[c-f][0-9a-f]{2}'\n",
    "    return re.sub(r'(\\\\\\\\)|(' + pair + r')|\\\\ud[89a-f][0-9a-f]{2}', fix, text)\n",
    "\n",
    "\n",
    "def _kiln_at_exit():\n",
    "    # What a fresh interpreter does once its script has ended: wait for\n",
    "    # the threads that are not daemons, run the atexit handlers, flush.\n",
    "    t = sys.modules.get('threading')\n",
    "    if t is not None:\n",
    "        try:\n",
    "            t._shutdown()\n",
    "        except BaseException:\n",
    "            pass\n",
    "    try:\n",
    "        import atexit\n",
    "        atexit._run_exitfuncs()\n",
    "    except BaseException:\n",
    "        pass\n",
    "    _kiln_flush()\n",
    "\n",
    "\n",
    "def _kiln_forget_host():\n",
    "    # A warm child: what modules cached from the server's host when the\n",
    "    # warm parent used them is worked out again in the sandbox, as a\n",
    "    # fresh interpreter there would (TMPDIR, the host name, the\n",
    "    # matplotlib dirs the warm-up pointed at a directory since removed).\n",
    "    t = sys.modules.get('tempfile')\n",
    "    if t is not None:\n",
    "        t.tempdir = None\n",
    "    p = sys.modules.get('platform')\n",
    "    if p is not None and hasattr(p, '_uname_cache'):\n",
    "        p._uname_cache = None\n",
    "    mpl = sys.modules.get('matplotlib')\n",
    "    for name in ('get_configdir', 'get_cachedir'):\n",
    "        f = getattr(mpl, name, None)\n",
    "        cells = zip(getattr(getattr(f, '__code__', None), 'co_freevars', ()),\n",
    "                    getattr(f, '__closure__', None) or ())\n",
    "        for var, cell in cells:\n",
    "            if var == 'called':\n",
    "                cell.cell_contents = False\n",
    "\n",
    "\n",
    "_kiln_base = []\n",
    "_kiln_undo = []\n",
    "# What the runner imports after the code, when the code had not: a module\n",
    "# the code put there under one of these names is dropped unless the import\n",
    "# system loaded it under that name.\n",
    "_kiln_late = ('json', 'json.decoder', 'json.encoder', 'json.scanner', 're', 're._compiler',\n",
    "              're._parser', 're._constants', 're._casefix', 'traceback', 'linecache',\n",
    "              'tokenize', 'token', 'ast', 'asyncio', 'inspect', 'dis', 'opcode')\n",
    "\n",
    "\n",
    "def _kiln_imports_saved():\n",
    "    # Taken once: a warm parent's, before any code ran, is shared by its\n",
    "    # children without a copy each (copying sys.modules writes to every\n",
    "    # module object: thousands of pages of the parent to copy). sys.path,\n",
    "    # which the runner sets for each call, each time.\n",
    "    global _kiln_spec_type\n",
    "    if not _kiln_base:\n",
    "        import builtins\n",
    "        _kiln_spec_type = type(sys.__spec__)\n",
    "        m = sys.modules\n",
    "        pic = sys.path_importer_cache\n",
    "        bd = builtins.__dict__\n",
    "        _kiln_base[:] = [bd, dict(bd), m, dict(m), pic, dict(pic),\n",
    "                         [('meta_path', list(sys.meta_path)),\n",
    "                          ('path_hooks', list(sys.path_hooks))]]\n",
    "    return _kiln_base + [list(sys.path)]\n",
    "\n",
    "\n",
    "def _kiln_imports_restore(saved):\n",
    "    # The code has ended: what it did to the builtins and the import system\n",
    "    # (builtins.__import__ = None, sys.modules cleared or rebound, a module\n",
    "    # replaced, blocked with None or faked, sys.path or the finders changed)\n",
    "    # must not fail the runner's own work after it (a traceback, JSON), as\n",
    "    # it cannot fail python3, whose script ends there. The runner's functions\n",
    "    # have their own copy of the builtins for the time between the code and\n",
    "    # its main(). The dicts are compared in C (_kiln_restore_dicts): no\n",
    "    # reference taken, so no page of a warm parent's objects is written\n",
    "    # (copied) for it; keys that are not str are dropped first. The lists\n",
    "    # are compared by identity. So no code of the user's (an __eq__, a\n",
    "    # __hash__, a __setattr__ of a class given to sys) runs. All that the\n",
    "    # code changed is applied again for its atexit handlers and threads\n",
    "    # (_kiln_reapply), as python3 leaves it after the script.\n",
    "    bd, names, m, mods, pic, pics, lists, path = saved\n",
    "    put = object.__setattr__\n",
    "    attrs, last = [], []\n",
    "    cls = type(sys)\n",
    "    if cls is not _kiln_mtype:\n",
    "        put(sys, '__class__', _kiln_mtype)\n",
    "        last.append(('__class__', cls))\n",
    "    now = sys.__dict__.get('modules', _kiln_absent)\n",
    "    if now is not m:\n",
    "        put(sys, 'modules', m)\n",
    "        last.insert(0, ('modules', now))\n",
    "    ub, um = _kiln_restore_dicts(bd, names, m, mods)\n",
    "    for n in _kiln_late:\n",
    "        v = m.get(n)\n",
    "        if v is None or n in mods:\n",
    "            continue\n",
    "        try:\n",
    "            spec = v.__dict__.get('__spec__') if type(v) is _kiln_mtype else None\n",
    "            ok = type(spec) is _kiln_spec_type and type(spec.name) is str\n",
    "            ok = ok and spec.name == n\n",
    "        except BaseException:\n",
    "            ok = False\n",
    "        if not ok:\n",
    "            um.append((n, m.pop(n)))\n",
    "    for n, want in lists + [('path', path)]:\n",
    "        now = sys.__dict__.get(n, _kiln_absent)\n",
    "        if type(now) is not list or len(now) != len(want) or \\\n",
    "                any(a is not b for a, b in zip(now, want)):\n",
    "            attrs.append((n, now))\n",
    "            put(sys, n, list(want))\n",
    "    put(sys, 'path_importer_cache', pic)\n",
    "    _kiln_restore_dicts({}, {}, pic, pics, False)\n",
    "    _kiln_undo[:] = [bd, m, ub, um, attrs + last]\n",
    "\n",
    "\n",
    "def _kiln_reapply():\n",
    "    # The code's own builtins and import lists, again for its atexit\n",
    "    # handlers and threads, as python3 leaves them after the script.\n",
    "    if not _kiln_undo:\n",
    "        return\n",
    "    bd, m, ub, um, attrs = _kiln_undo\n",
    "    del _kiln_undo[:]\n",
    "    for d, changes in ((bd, ub), (m, um)):\n",
    "        for t in changes:\n",
    "            try:\n",
    "                if len(t) == 2:\n",
    "                    d[t[0]] = t[1]\n",
    "                else:\n",
    "                    d.pop(t[0], None)\n",
    "            except BaseException:\n",
    "                pass\n",
    "    for n, v in attrs:\n",
    "        try:\n",
    "            if v is _kiln_absent:\n",
    "                object.__delattr__(sys, n)  # the code deleted it\n",
    "            else:\n",
    "                object.__setattr__(sys, n, v)\n",
    "        except BaseException:\n",
    "            pass\n",
    "\n",
    "\n",
    "def _kiln_exec(code, inputs_json, packages_json, return_cap, tb_cap, maxd, call_entry):\n",
    "    # json (it imports re) only when needed: a cold start of plain code\n",
    "    # pays milliseconds for it.\n",
    "    import types\n",
    "    import builtins\n",
    "    entry = 'script'\n",
    "\n",
    "    def fail(err):\n",
    "        # the message is plain text where kiln shows it: a NUL as \\x00\n",
    "        # (the traceback keeps the exception's own text)\n",
    "        if '\\0' in err.get('message', ''):\n",
    "            err['message'] = err['message'].replace('\\0', '\\\\x00')\n",
    "        return _kiln_dumps({'status': 'error', 'entryPoint': entry, 'error': err})\n",
    "\n",
    "    sys.dont_write_bytecode = True\n",
    "    sys.argv = ['<code>']\n",
    "    _kiln_setup_env()\n",
    "    wanted = _kiln_json_loads(packages_json) if packages_json != '[]' else []\n",
    "    unmet = _kiln_packages(wanted) if wanted else None\n",
    "    if unmet is not None:\n",
    "        return fail(unmet)\n",
    "    cwd = os.getcwd()\n",
    "    sys.path[:] = [p for p in sys.path if p not in ('', '.', cwd)] + [cwd]\n",
    "    inputs = _kiln_json_loads(inputs_json) if inputs_json != '{}' else {}\n",
    "    mod = types.ModuleType('__main__')\n",
    "    ftype, ctype = types.FunctionType, types.CoroutineType  # as before the code ran\n",
    "    mod.__file__ = '<code>'\n",
    "    mod.__builtins__ = builtins\n",
    "    sys.modules['__main__'] = mod\n",
    "    if code.startswith('\\ufeff'):\n",
    "        code = code[1:]  # a UTF-8 BOM, as python3 reads a script file\n",
    "    _kiln_source[:] = [code]\n",
    "    _kiln_lines()\n",
    "    saved = _kiln_imports_saved()\n",
    "    rv = None\n",
    "    try:\n",
    "        try:\n",
    "            # The syntax tree only when the code may have its own __main__ block\n",
    "            # (ast and inspect cost milliseconds to import in a cold start).\n",
    "            guarded = False\n",
    "            if '__main__' in code:\n",
    "                import ast\n",
    "                tree = ast.parse(code, '<code>')\n",
    "                guarded = _kiln_guarded(tree)\n",
    "                co = compile(tree, '<code>', 'exec', dont_inherit=True)\n",
    "                del tree\n",
    "            else:\n",
    "                co = compile(code, '<code>', 'exec', dont_inherit=True)\n",
    "            exec(co, mod.__dict__)\n",
    "            if call_entry and not guarded:\n",
    "                g = mod.__dict__\n",
    "                f = g.get('main')\n",
    "                if isinstance(f, ftype) and f.__module__ == '__main__':\n",
    "                    entry = 'main'\n",
    "                    rv = f(**inputs)\n",
    "                else:\n",
    "                    f = g.get('run')\n",
    "                    if isinstance(f, ftype) and f.__module__ == '__main__':\n",
    "                        entry = 'run'\n",
    "                        rv = f(inputs)\n",
    "                if isinstance(rv, ctype):\n",
    "                    import asyncio\n",
    "                    rv = asyncio.run(rv)\n",
    "        finally:\n",
    "            _kiln_imports_restore(saved)\n",
    "    except SystemExit as e:\n",
    "        try:\n",
    "            st = e.code\n",
    "        except BaseException:\n",
    "            st = 1  # a code that cannot be read: python3 exits with 1\n",
    "        if isinstance(st, int):\n",
    "            # the status python3 exits with: True is 1, the low byte of the\n",
    "            # number (-1 is 255, 256 is 0: success), past a C long 255\n",
    "            n = int.__index__(st)  # its value, without an int subclass's code\n",
    "            if -2**63 <= n < 2**63:\n",
    "                st, said = n & 255, ' (sys.exit(%d))' % n\n",
    "            else:\n",
    "                st, said = 255, ' (sys.exit() of a number past 64 bits)'\n",
    "            if st != 0:\n",
    "                said = '' if st == n else said\n",
    "                return fail({'code': 'CODE_ERROR', 'type': 'SystemExit', 'exitStatus': st,\n",
    "                             'message': 'the code exited with status %d%s' % (st, said)})\n",
    "        elif st is not None:\n",
    "            try:\n",
    "                print(st, file=sys.stderr)\n",
    "            except BaseException:\n",
    "                pass\n",
    "            return fail({'code': 'CODE_ERROR', 'type': 'SystemExit', 'exitStatus': 1,\n",
    "                         'message': 'the code exited with status 1: %.300s' % (st,)})\n",
    "        rv = None\n",
    "    except MemoryError as e:\n",
    "        return fail(_kiln_error('MEMORY_LIMIT', e, tb_cap))\n",
    "    except BaseException as e:\n",
    "        return fail(_kiln_error('CODE_ERROR', e, tb_cap))\n",
    "    finally:\n",
    "        _kiln_flush()\n",
    "    try:\n",
    "        if rv is None:\n",
    "            enc = 'null'\n",
    "        else:\n",
    "            enc = _kiln_dumps(_kiln_plain(rv, 0, maxd))\n",
    "    except _KilnNotJSON as e:\n",
    "        return fail({'code': 'CODE_ERROR', 'type': 'TypeError',\n",
    "                     'message': 'returnValue is not JSON-serialisable: %s' % (e,)})\n",
    "    except MemoryError as e:\n",
    "        return fail(_kiln_error('MEMORY_LIMIT', e, tb_cap,\n",
    "                                'out of memory serialising returnValue'))\n",
    "    except RecursionError as e:\n",
    "        return fail({'code': 'CODE_ERROR', 'type': 'RecursionError',\n",
    "                     'message': 'returnValue is not JSON-serialisable: nested too deeply'})\n",
    "    except BaseException as e:\n",
    "        return fail(_kiln_error('CODE_ERROR', e, tb_cap,\n",
    "                                'returnValue could not be serialised: %s: %.300s'\n",
    "                                % (type(e).__name__, e)))\n",
    "    if len(enc) > return_cap:\n",
    "        msg = 'returnValue is %d bytes as JSON, more than the limit of %d'\n",
    "        return fail({'code': 'OUTPUT_TOO_LARGE', 'message': msg % (len(enc), return_cap)})\n",
    "    return '{\"status\":\"ok\",\"entryPoint\":\"%s\",\"returnValue\":%s}' % (entry, enc)\n",
    "\n",
    "\n",
    "def _kiln_main(code, inputs_json, packages_json, return_cap, tb_cap, maxd, call_entry):\n",
    "    _kiln_stdio()\n",
    "    try:\n",
    "        return _kiln_exec(code, inputs_json, packages_json, return_cap, tb_cap, maxd,\n",
    "                          call_entry)\n",
    "    finally:\n",
    "        _kiln_flush()\n",
    "        _kiln_reapply()\n",
    /* END RUNNER */
    NULL,
};

/* JSON-escape s into dst (fixed size, no heap: usable in a failing child). */
static void sbx_py_escape(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x80) {
            /* Keep it ASCII: non-ASCII bytes become '?'. */
            dst[o++] = c == '\n' ? ' ' : '?';
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

/* A result object written without Python (init or runner failure). */
/* A runner result of an error, for entry point entry; extra: more fields of
 * "error" as JSON text ending in a comma ("" for none). */
static void sbx_py_write_fail(int fd, const char *entry, const char *code, const char *extra,
                              const char *msg)
{
    char esc[1024];
    char line[1400];
    sbx_py_escape(esc, sizeof(esc), msg);
    int n = snprintf(line, sizeof(line),
                     "{\"status\":\"error\",\"entryPoint\":\"%s\",\"error\":{\"code\":\"%s\","
                     "%s\"message\":\"%s\"}}",
                     entry, code, extra, esc);
    if (n > 0 && (size_t)n < sizeof(line))
        fd_write_all(fd, line, (size_t)n);
}

static void sbx_py_write_error(int fd, const char *code, const char *msg)
{
    sbx_py_write_fail(fd, "script", code, "", msg);
}

static enum err_code sbx_py_status(PyStatus st, const char *what, struct err *err)
{
    return err_set(err, E_INTERNAL, "cannot %s the Python interpreter: %s%s%s", what,
                   st.func ? st.func : "", st.func ? ": " : "",
                   st.err_msg ? st.err_msg : "unknown error");
}

/* What Debian's site.main() gives, less the .pth files and sitecustomize:
 * the site directories on sys.path (site does not run main() when imported
 * with no_site set), exit/quit, copyright, help. */
static const char sbx_py_site_src[] = "import os, sys, site\n"
                                      "for _d in site.getsitepackages():\n"
                                      "    if _d not in sys.path and os.path.isdir(_d):\n"
                                      "        sys.path.append(_d)\n"
                                      "site.setquit()\n"
                                      "site.setcopyright()\n"
                                      "site.sethelper()\n";

/* Run Python text at module level in a fresh namespace; false (error
 * cleared) when it raised. */
static bool sbx_py_run_src(const char *src)
{
    PyObject *ns = PyDict_New();
    PyObject *r = NULL;
    if (ns && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0)
        r = PyRun_String(src, Py_file_input, ns, ns);
    Py_XDECREF(ns);
    if (!r) {
        PyErr_Clear();
        return false;
    }
    Py_DECREF(r);
    return true;
}

static enum err_code sbx_py_start(struct err *err)
{
    PyPreConfig pre;
    PyConfig cfg;
    PyStatus st;

    if (sbx_py_started || Py_IsInitialized()) {
        sbx_py_started = true;
        return E_OK;
    }
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        return sbx_py_status(st, "pre-initialise", err);

    PyConfig_InitIsolatedConfig(&cfg);
    /* No site at start-up: its .pth files (setuptools' distutils hook, a
     * namespace stub, whatever a host put there) cost milliseconds in every
     * cold start and run code the sandbox did not choose. sbx_py_site_src
     * adds the same dist-packages directories and builtins. */
    cfg.site_import = 0;
    cfg.user_site_directory = 0;
    cfg.write_bytecode = 0;
    cfg.buffered_stdio = 0;
    cfg.install_signal_handlers = 0; /* never take over a server's signals */
    cfg.parse_argv = 0;
    cfg.safe_path = 1;
    st = PyConfig_SetString(&cfg, &cfg.home, SBX_PY_HOME);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&cfg, &cfg.program_name, L"python3");
    /* sys.executable: the interpreter this libpython belongs to, not the
     * first python3 on the PATH of whoever started kiln (a warm parent's
     * PATH is the host's: a pyenv shim, a virtualenv). */
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&cfg, &cfg.executable, SBX_PY_HOME L"/bin/python3");
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&cfg, &cfg.stdio_errors, L"backslashreplace");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&cfg);
    PyConfig_Clear(&cfg);
    if (PyStatus_Exception(st))
        return sbx_py_status(st, "initialise", err);
    if (!sbx_py_run_src(sbx_py_site_src))
        return err_set(err, E_INTERNAL, "cannot add the site directories to the Python path");
    sbx_py_started = true;
    return E_OK;
}

bool sbx_py_ready(void)
{
    return sbx_py_started;
}

/* Python text run once in the parent of warm children: the data packages,
 * the modules the runner imports on every call, matplotlib's font list (so
 * no child rebuilds its cache), and then gc.freeze(): every object so far
 * moves to the permanent generation, so the collector in a child never walks
 * (and so never copies) the parent's heap pages. */
static const char sbx_py_warm_src[] =
    "import os, sys, shutil, tempfile\n"
    "os.environ['MPLBACKEND'] = 'Agg'\n"
    /* matplotlib reads its settings at import as in a fresh sandbox: the
     * installed matplotlibrc, not one in the server's working directory or
     * home (an empty MPLCONFIGDIR of its own, removed after) */
    "_kiln_cwd = None\n"
    "try:\n"
    "    _kiln_cwd = os.getcwd()\n"
    "    os.chdir('/')\n"
    "except OSError:\n"
    "    pass\n"
    "_kiln_mpl = tempfile.mkdtemp(prefix='kiln-mpl-')\n"
    "os.environ['MPLCONFIGDIR'] = _kiln_mpl\n"
    "for m in ('numpy', 'pandas', 'matplotlib', 'matplotlib.pyplot',\n"
    "          'matplotlib.font_manager', 'io', 'json', 'types', 'linecache', 'builtins',\n"
    "          'ast', 'inspect', 'traceback', 'importlib.util', 'warnings', 'math',\n"
    "          'datetime', 'decimal', 'enum', 'uuid', 'pathlib', 'dataclasses',\n"
    "          'collections.abc', 'encodings.idna', 'faulthandler', '_signal',\n"
    /* what a `packages` entry with a version or a marker is read with */
    "          'importlib.metadata', 'packaging.requirements', 'packaging.version',\n"
    "          'packaging.specifiers', 'packaging.markers'):\n"
    "    try:\n"
    "        __import__(m)\n"
    "    except Exception:\n"
    "        pass\n"
    "try:\n"
    "    import matplotlib.font_manager as _fm\n"
    "    _fm.fontManager\n"
    "except Exception:\n"
    "    pass\n"
    /* the installed distributions' index, read once here (a version
     * lookup in a sandbox then reads only the directories' times) */
    "try:\n"
    "    import importlib.metadata as _md\n"
    "    _md.version('numpy')\n"
    "except Exception:\n"
    "    pass\n"
    "shutil.rmtree(_kiln_mpl, ignore_errors=True)\n"
    "del os.environ['MPLCONFIGDIR']\n"
    "if _kiln_cwd is not None:\n"
    "    try:\n"
    "        os.chdir(_kiln_cwd)\n"
    "    except OSError:\n"
    "        pass\n"
    "sys.stdout.flush()\n"
    "sys.stderr.flush()\n";

static PyObject *sbx_py_load_runner(void);

/* The runner's _kiln_main (borrowed), loaded on first use and kept for the
 * process's life (a warm parent's children inherit it); NULL with a Python
 * error when it cannot load. */
static PyObject *sbx_py_runner_fn(void)
{
    if (!sbx_py_main_fn)
        sbx_py_main_fn = sbx_py_load_runner();
    return sbx_py_main_fn;
}

/* Call the runner's function name (no arguments); best effort: a runner
 * that cannot load or an error does nothing (the error is cleared). */
static void sbx_py_runner_call(const char *name)
{
    PyObject *fn = sbx_py_runner_fn();
    PyObject *g = fn ? PyFunction_GetGlobals(fn) : NULL;    /* borrowed */
    PyObject *f = g ? PyDict_GetItemString(g, name) : NULL; /* borrowed */
    PyObject *r = f ? PyObject_CallNoArgs(f) : NULL;
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
}

/* Warm parent: freeze what is alive into the permanent generation. */
static void sbx_py_gc_freeze(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = NULL;
    if (gc) {
        r = PyObject_CallMethod(gc, "collect", NULL);
        Py_XDECREF(r);
        r = r ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
    }
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(gc);
}

static void sbx_py_hot_work(void);

enum err_code sbx_py_init(bool warm, struct err *err)
{
    enum err_code rc;
    if (warm) {
        /* No glibc fastbins in a warm parent: the first large malloc() in a
         * forked child would otherwise consolidate every free chunk the
         * parent ever left there, writing to (so copying) heap pages all
         * over the address space: milliseconds per child. */
        mallopt(M_MXFAST, 0);
        static const char *const single[] = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"};
        for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
            if (setenv(single[i], "1", 1) != 0)
                return err_sys(err, E_INTERNAL, "cannot set %s", single[i]);
        if (setenv("MPLBACKEND", "Agg", 1) != 0)
            return err_sys(err, E_INTERNAL, "cannot set MPLBACKEND");
    }
    rc = sbx_py_start(err);
    if (rc || !warm)
        return rc;
    /* The seccomp filter too: compiled once here, not in every child. */
    const struct sock_fprog *prog = NULL;
    struct err serr;
    (void)sbx_seccomp_prog(&prog, &serr); /* a failure: sbx_run reports it again */
    if (sbx_py_main_fn)
        return E_OK;
    if (!sbx_py_run_src(sbx_py_warm_src))
        return err_set(err, E_INTERNAL, "cannot pre-import the data packages");
    if (!sbx_py_runner_fn())
        PyErr_Clear(); /* each child compiles it then */
    sbx_py_runner_call("_kiln_quiet_mpl");
    sbx_py_runner_call("_kiln_imports_saved"); /* shared by every child */
    sbx_py_gc_freeze();
    malloc_trim(0); /* consolidate once here, and hand back what is free */
    sbx_hot_learn(sbx_py_hot_work);
    return E_OK;
}

/* Join the runner's lines (fixed table, bounded). */
static char *sbx_py_runner_source(void)
{
    struct buf b;
    buf_init(&b, SBX_PY_RUNNER_MAX);
    for (size_t i = 0; sbx_py_runner[i]; i++) {
        if (buf_append_str(&b, sbx_py_runner[i], NULL)) {
            buf_release(&b);
            return NULL;
        }
    }
    return buf_take(&b, NULL);
}

static uint64_t sbx_py_fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The built-in code object (mk/runner_code.py) was compiled from this very
 * runner by this interpreter's bytecode. */
static bool sbx_py_runner_fits(const char *src)
{
    return PyImport_GetMagicNumber() == SBX_PY_RUNNER_MAGIC &&
           sbx_py_fnv1a64(src) == SBX_PY_RUNNER_HASH;
}

bool sbx_py_runner_builtin(void)
{
    char *src = sbx_py_runner_source();
    bool fits = src && sbx_py_runner_fits(src);
    PyErr_Clear();
    free(src);
    return fits;
}

/* The runner's code object: the built-in one when it fits, else compiled
 * now (CPython's parser and compiler, first used in a cold start, cost
 * milliseconds). */
static PyObject *sbx_py_runner_code_object(const char *src)
{
    if (sbx_py_runner_fits(src)) {
        PyObject *co = PyMarshal_ReadObjectFromString((const char *)sbx_py_runner_code,
                                                      (Py_ssize_t)sizeof(sbx_py_runner_code));
        if (co && PyCode_Check(co))
            return co;
        Py_XDECREF(co);
    }
    PyErr_Clear();
    return Py_CompileString(src, SBX_PY_RUNNER_NAME, Py_file_input);
}

/* Whether v, an entry of sys.modules the code added, is not a module the
 * import system loaded: None (an import blocker), another type, or a module
 * without a __spec__ (a stand-in made by hand). Reads only; a module dict
 * whose lookup fails (a key of the code's own that raises) counts as one. */
static int sbx_py_stray_module(PyObject *v)
{
    static PyObject *spec_key;
    if (v == Py_None || !PyModule_CheckExact(v))
        return 1;
    if (!spec_key && !(spec_key = PyUnicode_InternFromString("__spec__")))
        return -1;
    PyObject *d = PyModule_GetDict(v); /* borrowed */
    PyObject *spec = d ? PyDict_GetItemWithError(d, spec_key) : NULL;
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    return !spec || spec == Py_None;
}

/* Rebuild d with only its keys of type str: a key of another type (the
 * code's own, in sys.modules or the builtins) would run its __hash__ and
 * __eq__ in every lookup that meets it. Nothing is written when every key
 * is a str (the common case: no reference taken). */
static int sbx_py_str_keys_only(PyObject *d)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int other = 0;
    while (!other && PyDict_Next(d, &pos, &k, &v))
        other = !PyUnicode_CheckExact(k);
    if (!other)
        return 0;
    PyObject *keep = PyDict_New();
    if (!keep)
        return -1;
    for (pos = 0; PyDict_Next(d, &pos, &k, &v);)
        if (PyUnicode_CheckExact(k) && PyDict_SetItem(keep, k, v) != 0) {
            Py_DECREF(keep);
            return -1;
        }
    PyDict_Clear(d);
    int rc = PyDict_Update(d, keep);
    Py_DECREF(keep);
    return rc;
}

/* The runner's _kiln_restore_dicts(bd, names, m, mods[, prune]): put back
 * in bd (the builtins) every entry of names that differs, and in m
 * (sys.modules) every module of mods that differs or went, except __main__
 * (the code's own, which atexit handlers and pickle look up); unless prune
 * is false, drop from m what the code added that is no module the import
 * system loaded (sbx_py_stray_module). Keys that are not of type str go
 * first, so no lookup here runs code of the user's.
 * Returns what the code had made of bd and of m, to be applied again for
 * its atexit handlers and threads: two lists of (name, value), or (name,)
 * for a deleted one. Borrowed references only where nothing changed:
 * reading a warm parent's objects writes (copies) none of their pages. */
static PyObject *sbx_py_restore_dicts(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs < 4 || nargs > 5 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "_kiln_restore_dicts(bd, names, m, mods[, prune])");
        return NULL;
    }
    if (sbx_py_str_keys_only(args[0]) != 0 || sbx_py_str_keys_only(args[2]) != 0)
        return NULL;
    PyObject *undo[2] = {PyList_New(0), PyList_New(0)}, *drop = NULL, *k, *v, *res = NULL;
    if (!undo[0] || !undo[1])
        goto fail;
    for (int pair = 0; pair < 2; pair++) {
        PyObject *cur = args[pair * 2], *want = args[pair * 2 + 1];
        Py_ssize_t pos = 0;
        while (PyDict_Next(want, &pos, &k, &v)) {
            if (!PyUnicode_CheckExact(k))
                continue; /* none in a snapshot taken before the code ran */
            PyObject *now = PyDict_GetItemWithError(cur, k);
            if (now == v)
                continue;
            if (PyErr_Occurred())
                goto fail;
            if (pair == 1 && PyUnicode_CompareWithASCIIString(k, "__main__") == 0)
                continue;
            Py_INCREF(k);
            Py_INCREF(v);
            PyObject *was = now ? PyTuple_Pack(2, k, now) : PyTuple_Pack(1, k);
            int bad = !was || PyList_Append(undo[pair], was) != 0 || PyDict_SetItem(cur, k, v) != 0;
            Py_XDECREF(was);
            Py_DECREF(v);
            Py_DECREF(k);
            if (bad)
                goto fail;
        }
    }
    int prune = nargs < 5 ? 1 : PyObject_IsTrue(args[4]);
    if (prune < 0)
        goto fail;
    Py_ssize_t pos = 0;
    while (prune && PyDict_Next(args[2], &pos, &k, &v)) {
        /* The entries the snapshot has are as it has them now; the others
         * are the code's, held while their module is looked at (a lookup in
         * its dict may run code that removes them). */
        if (!PyUnicode_CheckExact(k) || PyDict_GetItemWithError(args[3], k))
            continue;
        if (PyErr_Occurred())
            goto fail;
        Py_INCREF(k);
        Py_INCREF(v);
        int stray =
            PyUnicode_CompareWithASCIIString(k, "__main__") == 0 ? 0 : sbx_py_stray_module(v);
        PyObject *was = stray > 0 ? PyTuple_Pack(2, k, v) : NULL;
        if (stray > 0 && (!was || (!drop && !(drop = PyList_New(0))) ||
                          PyList_Append(drop, k) != 0 || PyList_Append(undo[1], was) != 0))
            stray = -1;
        Py_XDECREF(was);
        Py_DECREF(v);
        Py_DECREF(k);
        if (stray < 0)
            goto fail;
    }
    for (Py_ssize_t i = 0; drop && i < PyList_GET_SIZE(drop); i++)
        if (PyDict_DelItem(args[2], PyList_GET_ITEM(drop, i)) != 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError))
                goto fail;
            PyErr_Clear(); /* gone meanwhile */
        }
    res = PyTuple_Pack(2, undo[0], undo[1]);
fail:
    Py_XDECREF(drop);
    Py_XDECREF(undo[0]);
    Py_XDECREF(undo[1]);
    return res;
}

static PyMethodDef sbx_py_restore_def = {
    "_kiln_restore_dicts", (PyCFunction)(void (*)(void))sbx_py_restore_dicts, METH_FASTCALL, NULL};

/* Compile and run the runner; its _kiln_main (new reference) or NULL with
 * a Python error. */
static PyObject *sbx_py_load_runner(void)
{
    PyObject *ns = NULL, *builtins = NULL, *restore = NULL, *co = NULL, *r = NULL, *fn = NULL;
    char *src = sbx_py_runner_source();
    if (!src) {
        PyErr_NoMemory();
        goto out;
    }
    /* The runner's own copy of the builtins: code that replaces one
     * (builtins.__import__ = None, builtins.len = ...) changes what the
     * code sees, not what the runner calls after it. */
    ns = PyDict_New();
    builtins = PyDict_Copy(PyEval_GetBuiltins());
    if (!ns || !builtins || PyDict_SetItemString(ns, "__builtins__", builtins) != 0)
        goto out;
    restore = PyCFunction_New(&sbx_py_restore_def, NULL);
    if (!restore || PyDict_SetItemString(ns, "_kiln_restore_dicts", restore) != 0)
        goto out;
    co = sbx_py_runner_code_object(src);
    if (!co)
        goto out;
    r = PyEval_EvalCode(co, ns, ns);
    if (!r)
        goto out;
    fn = PyDict_GetItemString(ns, "_kiln_main"); /* borrowed */
    if (!fn) {
        PyErr_SetString(PyExc_RuntimeError, "runner has no _kiln_main");
        goto out;
    }
    Py_INCREF(fn);
out:
    Py_XDECREF(r);
    Py_XDECREF(co);
    Py_XDECREF(restore);
    Py_XDECREF(builtins);
    Py_XDECREF(ns);
    free(src);
    return fn;
}

/* Run the job; the result text (new reference) or NULL with a Python error. */
static PyObject *sbx_py_call(const struct sbx_py_job *job)
{
    PyObject *fn = sbx_py_runner_fn(), *args = NULL, *res = NULL;
    if (!fn)
        goto out;
    Py_INCREF(fn);
    args = Py_BuildValue("(s#ssllii)", job->code, (Py_ssize_t)job->code_len,
                         job->inputs_json ? job->inputs_json : "{}",
                         job->packages_json ? job->packages_json : "[]", job->return_cap,
                         job->traceback_cap, job->max_depth, job->call_entry ? 1 : 0);
    if (!args)
        goto out;
    res = PyObject_CallObject(fn, args);
    if (res && !PyUnicode_Check(res)) {
        Py_DECREF(res);
        res = NULL;
        PyErr_SetString(PyExc_RuntimeError, "runner returned a non-string");
    }
out:
    Py_XDECREF(args);
    Py_XDECREF(fn);
    return res;
}

/* Before the job's code (a ready sandbox: before its rehearsal, off the
 * path of the call), once Python's signal table is the sandbox's: a crash
 * or a signal ends the sandbox as it ends a fresh
 * `python3 -X faulthandler` (sbx_init_signals: W is an init),
 * with the Python traceback of every thread on stderr for a fatal one
 * (SIGSEGV, SIGFPE, SIGABRT, SIGBUS, SIGILL: a C extension's crash, a
 * ctypes mistake, abort()). faulthandler calls the handler it found once
 * it has written the traceback, so it comes second. */
static void sbx_py_crash_setup(void)
{
    /* Python's signal table first (a cold start has not read it yet): it
     * says SIG_DFL where kiln's handler goes, and SIGINT gets Python's own
     * handler (KeyboardInterrupt), as in a fresh interpreter. */
    PyObject *sg = PyImport_ImportModule("_signal");
    if (!sg)
        PyErr_Clear();
    Py_XDECREF(sg);
    sbx_init_signals();
    PyObject *fh = PyImport_ImportModule("faulthandler");
    PyObject *r = fh ? PyObject_CallMethod(fh, "enable", "ii", STDERR_FILENO, 1) : NULL;
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(fh);
}

/* Whether a file object says it is closed, as python3 reads it at exit:
 * a `closed` that cannot be read or judged counts as open. */
static bool sbx_py_file_closed(PyObject *f)
{
    PyObject *c = PyObject_GetAttrString(f, "closed");
    int r = c ? PyObject_IsTrue(c) : 0;
    Py_XDECREF(c);
    if (r < 0 || !c)
        PyErr_Clear();
    return r > 0;
}

/* What python3 does last, once the threads and atexit handlers are done
 * (Py_FinalizeEx): it flushes sys.stdout and sys.stderr unless None or
 * closed. A failed flush of stdout is written as an unraisable exception
 * ("Exception ignored in: ..."), one of stderr is dropped, and either makes
 * python3 exit with status 120. False then, with the first failure's text
 * in why. */
static bool sbx_py_flush_std(char *why, size_t cap)
{
    static const char *const names[] = {"stdout", "stderr"};
    bool ok = true;
    for (size_t i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]); /* borrowed */
        if (!f || f == Py_None)
            continue;
        Py_INCREF(f);
        PyObject *r =
            sbx_py_file_closed(f) ? Py_NewRef(Py_None) : PyObject_CallMethod(f, "flush", NULL);
        if (!r && ok) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            PyObject *sv = v ? PyObject_Str(v) : NULL;
            const char *txt = sv ? PyUnicode_AsUTF8(sv) : NULL;
            if (!txt)
                PyErr_Clear();
            snprintf(why, cap, "sys.%s could not be flushed at exit (%s%s%.300s)", names[i],
                     t ? ((PyTypeObject *)t)->tp_name : "error", txt && *txt ? ": " : "",
                     txt ? txt : "");
            Py_XDECREF(sv);
            PyErr_Restore(t, v, tb);
        }
        if (!r) {
            if (i == 0)
                PyErr_WriteUnraisable(f);
            else
                PyErr_Clear();
            ok = false;
        }
        Py_XDECREF(r);
        Py_DECREF(f);
    }
    return ok;
}

/* The result of code that ran well but whose output could not be flushed
 * at the end (sbx_py_flush_std): CODE_ERROR with python3's status 120, the
 * entry point kept from the runner's result text (res_text). */
static void sbx_py_write_exit120(int fd, const char *res_text, const char *why)
{
    const char *ep = strstr(res_text, "\"entryPoint\":\"");
    char entry[16] = "script";
    if (ep) {
        ep += strlen("\"entryPoint\":\"");
        size_t n = strcspn(ep, "\"");
        if (n < sizeof(entry))
            snprintf(entry, sizeof(entry), "%.*s", (int)n, ep);
    }
    char msg[600];
    snprintf(msg, sizeof(msg), "the code exited with status 120: %s", why);
    sbx_py_write_fail(fd, entry, "CODE_ERROR", "\"type\":\"SystemExit\",\"exitStatus\":120,", msg);
}

/* Run the job in this (confined) process and write its result. */
static int sbx_py_finish(const struct sbx_py_job *job, int result_fd)
{
    PyObject *res = sbx_py_call(job);
    char why[512] = "";
    bool flushed = true;
    if (res) { /* the code's threads and atexit handlers, before its result */
        sbx_py_runner_call("_kiln_at_exit");
        flushed = sbx_py_flush_std(why, sizeof(why));
    }
    if (!res) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            sbx_py_write_error(result_fd, "MEMORY_LIMIT",
                               "out of memory while running the code (MemoryError)");
            return 0;
        }
        PyErr_Print();
        sbx_py_write_error(result_fd, "INTERNAL",
                           "the Python runner failed (see stderr); please report this");
        return SBX_PY_EXIT_RUNNER;
    }
    Py_ssize_t n = 0;
    const char *text = PyUnicode_AsUTF8AndSize(res, &n);
    int rc = 0;
    static const char ok[] = "{\"status\":\"ok\"";
    if (text && !flushed && strncmp(text, ok, sizeof(ok) - 1) == 0)
        sbx_py_write_exit120(result_fd, text, why);
    else if (!text || !fd_write_all(result_fd, text, (size_t)n))
        rc = SBX_PY_EXIT_WRITE;
    Py_DECREF(res);
    return rc;
}

/* Python's os.environ (and os.environb) is posix.environ, a dict filled
 * once when the warm parent imported os: the host's environment, secrets
 * and all. Refill it from this process's environ, which the sandbox has
 * already replaced with its own few variables, as a cold start would read
 * them (the first '=' splits; a later duplicate does not win). */
static bool sbx_py_env_reload(void)
{
    PyObject *posix = PyDict_GetItemString(PyImport_GetModuleDict(), "posix"); /* borrowed */
    PyObject *d = posix ? PyObject_GetAttrString(posix, "environ") : NULL;
    bool ok = d && PyDict_Check(d);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    /* the old values' bytes are freed below, not overwritten: zero them
     * first (those that nothing else holds) */
    while (ok && PyDict_Next(d, &pos, &k, &v))
        if (PyBytes_CheckExact(v) && Py_REFCNT(v) == 1)
            explicit_bzero(PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    if (ok)
        PyDict_Clear(d);
    for (char **e = environ; ok && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        k = PyBytes_FromStringAndSize(*e, eq - *e);
        v = PyBytes_FromString(eq + 1);
        ok = k && v && PyDict_SetDefault(d, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    Py_XDECREF(d);
    if (!ok)
        PyErr_Clear();
    return ok;
}

/* In a child of the warm parent: first the pages the rest writes copied in
 * one go (sbx_hot_populate; nothing learnt yet in the probe that learns
 * them), CPython's own after-fork work (its locks,
 * threads, the at-fork hooks: `random` reseeds there), then what no hook
 * does: os.environ (sbx_py_env_reload), and numpy's global RandomState,
 * seeded once at import in the parent: without a new seed every sandbox
 * would draw the same "random" numbers (np.random.rand() equal in every
 * call); Python's signal table as a fresh interpreter in the sandbox has it
 * (the runner's _kiln_signals), and what modules cached from the host
 * (_kiln_forget_host); those two best effort: only what the code reads
 * back would differ. False when the code must not run (the host's
 * environment could not be dropped). */
static bool sbx_py_after_fork(void)
{
    sbx_hot_populate();
    PyOS_AfterFork_Child();
    if (!sbx_py_env_reload())
        return false;
    sbx_py_runner_call("_kiln_signals");
    sbx_py_runner_call("_kiln_forget_host");
    PyObject *nr = PyDict_GetItemString(PyImport_GetModuleDict(), "numpy.random"); /* borrowed */
    if (!nr)
        return true;
    PyObject *r = PyObject_CallMethod(nr, "seed", NULL);
    if (r) {
        Py_DECREF(r);
        return true;
    }
    PyErr_Clear();
    static const char warn[] = "kiln: warning: numpy.random could not be reseeded in this "
                               "sandbox; its global generator repeats between calls\n";
    if (write(STDERR_FILENO, warn, sizeof(warn) - 1) < 0) {
        /* nothing more to tell, nowhere to tell it */
    }
    return true;
}

/* Run code through the runner for what it leaves behind (pages written,
 * state warmed); its result and any error are dropped. */
static void sbx_py_drill(const char *code)
{
    struct sbx_py_job drill = {code, strlen(code), NULL, NULL, 1024, 1024, 8, true};
    PyObject *r = sbx_py_call(&drill);
    Py_XDECREF(r);
    PyErr_Clear();
}

/* What a warm child runs before and for a trivial job, run once in a probe
 * (sbx_hot_learn) so that every later child copies the pages it writes in
 * one go (sbx_hot_populate). */
static void sbx_py_hot_work(void)
{
    if (!sbx_py_after_fork())
        return;
    sbx_py_crash_setup();
    sbx_py_drill("pass");
    struct sbx_py_job job = {
        "print(1)",       8,   NULL, NULL, LIM_RETURN_BYTES_DEFAULT, LIM_TRACEBACK_BYTES,
        LIM_RETURN_DEPTH, true};
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (nul >= 0)
        (void)sbx_py_finish(&job, nul);
}

int sbx_py_child(void *arg, int result_fd)
{
    const struct sbx_py_job *job = arg;
    struct err err;

    /* A file over RLIMIT_FSIZE or a closed pipe become Python exceptions
     * (OSError: File too large / BrokenPipeError) instead of a silent death. */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (sbx_py_started) {
        if (!sbx_py_after_fork()) {
            sbx_py_write_error(result_fd, "SANDBOX_ERROR", SBX_PY_ENV_FAILED);
            return SBX_PY_EXIT_INIT;
        }
    } else {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        setenv("OMP_NUM_THREADS", "1", 1);
        if (sbx_py_start(&err)) {
            sbx_py_write_error(result_fd, "SANDBOX_ERROR", err.msg);
            return SBX_PY_EXIT_INIT;
        }
    }
    sbx_py_crash_setup();
    return sbx_py_finish(job, result_fd);
}

/* ---- ready sandboxes: the job travels as bytes ---- */

#define SBX_PY_JOB_MAGIC "kiln-job-1"
#define SBX_PY_DRILL_IDLE_MS 60 /* idle time before the longer drills */
/* The pandas drills' frame (see sbx_py_ready_child). */
#define SBX_PY_DRILL_DF                                                                            \
    "import pandas as pd\n"                                                                        \
    "df = pd.DataFrame({'a': [1, 2, 3], 'b': [1.5, 2.5, None], 'c': ['x', 'y', 'x']})\n"

#define SBX_PY_JOB_NONE UINT64_MAX

struct sbx_py_job_head {
    char magic[16];
    uint64_t code_len, inputs_len, packages_len; /* SBX_PY_JOB_NONE: NULL */
    int64_t return_cap, traceback_cap;
    int32_t max_depth, call_entry;
};

enum err_code sbx_py_job_pack(const struct sbx_py_job *job, struct buf *out, struct err *err)
{
    struct sbx_py_job_head h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, SBX_PY_JOB_MAGIC, sizeof(SBX_PY_JOB_MAGIC));
    h.code_len = job->code_len;
    h.inputs_len = job->inputs_json ? strlen(job->inputs_json) : SBX_PY_JOB_NONE;
    h.packages_len = job->packages_json ? strlen(job->packages_json) : SBX_PY_JOB_NONE;
    h.return_cap = job->return_cap;
    h.traceback_cap = job->traceback_cap;
    h.max_depth = job->max_depth;
    h.call_entry = job->call_entry;
    /* each string with its NUL, so the reader can point into the bytes */
    enum err_code rc;
    if ((rc = buf_append(out, &h, sizeof(h), err)) ||
        (rc = buf_append(out, job->code, job->code_len, err)) || (rc = buf_append(out, "", 1, err)))
        return rc;
    if (job->inputs_json && (rc = buf_append(out, job->inputs_json, h.inputs_len + 1, err)))
        return rc;
    if (job->packages_json && (rc = buf_append(out, job->packages_json, h.packages_len + 1, err)))
        return rc;
    return E_OK;
}

/* The string of n bytes and its NUL at b[*off] (NULL for SBX_PY_JOB_NONE);
 * false when it does not fit in len. */
static bool sbx_py_job_str(const char *b, size_t len, size_t *off, uint64_t n, const char **out)
{
    *out = NULL;
    if (n == SBX_PY_JOB_NONE)
        return true;
    if (n >= len - *off || b[*off + n] != '\0')
        return false;
    *out = b + *off;
    *off += (size_t)n + 1;
    return true;
}

/* Point job into the packed bytes b (kept alive by the caller); false when malformed. */
static bool sbx_py_job_unpack(const char *b, size_t len, struct sbx_py_job *job)
{
    struct sbx_py_job_head h;
    size_t off = sizeof(h);
    if (len < sizeof(h))
        return false;
    memcpy(&h, b, sizeof(h));
    if (memcmp(h.magic, SBX_PY_JOB_MAGIC, sizeof(SBX_PY_JOB_MAGIC)) ||
        h.code_len == SBX_PY_JOB_NONE || !sbx_py_job_str(b, len, &off, h.code_len, &job->code) ||
        !sbx_py_job_str(b, len, &off, h.inputs_len, &job->inputs_json) ||
        !sbx_py_job_str(b, len, &off, h.packages_len, &job->packages_json) || off != len)
        return false;
    job->code_len = (size_t)h.code_len;
    job->return_cap = (long)h.return_cap;
    job->traceback_cap = (long)h.traceback_cap;
    job->max_depth = (int)h.max_depth;
    job->call_entry = h.call_entry != 0;
    return true;
}

int sbx_py_ready_child(int job_fd, int result_fd)
{
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (!sbx_py_started) {
        sbx_ready_signal();
        sbx_py_write_error(result_fd, "SANDBOX_ERROR", "no warm interpreter to run the job in");
        return SBX_PY_EXIT_INIT;
    }
    if (!sbx_py_after_fork()) {
        sbx_ready_signal();
        sbx_py_write_error(result_fd, "SANDBOX_ERROR", SBX_PY_ENV_FAILED);
        return SBX_PY_EXIT_INIT;
    }
    sbx_py_crash_setup(); /* before the job comes: milliseconds off its path */
    /* A rehearsal while no job waits: the runner's first call writes to
     * (and so copies) the inherited pages it touches; the job then finds
     * them private already. Its own state is reset by the real call. The
     * pandas drill comes in pieces (each about 10-20 ms here, 50 ms in
     * all, the first time), so a job that comes meanwhile waits for one
     * piece at most. */
    static const char *const drills[] = {
        "pass",
        SBX_PY_DRILL_DF,
        SBX_PY_DRILL_DF "df.sum(numeric_only=True)\n",
        SBX_PY_DRILL_DF "df.groupby('c').sum(); df.to_dict()\n",
        SBX_PY_DRILL_DF "df.describe()\n",
    };
    for (size_t i = 0; i < sizeof(drills) / sizeof(drills[0]); i++) {
        /* The second only once no job came for a while (a caller sending
         * calls back to back never waits for a drill), the others only
         * while none came. */
        struct pollfd p = {job_fd, POLLIN, 0};
        if (i && poll(&p, 1, i == 1 ? SBX_PY_DRILL_IDLE_MS : 0) != 0)
            break;
        sbx_py_drill(drills[i]);
        if (!i)
            sbx_ready_signal();
    }
    struct buf in;
    buf_init(&in, (size_t)LIM_REQUEST_BYTES + (size_t)LIM_CODE_BYTES);
    bool whole = buf_read_fd(&in, job_fd, NULL) == E_OK;
    close(job_fd);
    prctl(PR_SET_NAME, (unsigned long)"kiln", 0UL, 0UL, 0UL); /* no longer a standby */
    struct sbx_py_job job;
    if (!whole || !sbx_py_job_unpack(in.data, in.len, &job)) {
        buf_release(&in);
        sbx_py_write_error(result_fd, "INTERNAL",
                           "the job of a ready sandbox did not arrive whole");
        return SBX_PY_EXIT_RUNNER;
    }
    int rc = sbx_py_finish(&job, result_fd);
    buf_release(&in);
    return rc;
}
