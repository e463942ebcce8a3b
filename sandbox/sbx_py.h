/*
 * sbx_py: the embedded CPython that runs executeCode's user code.
 *
 * Owns the interpreter of the process: its configuration (isolated: no
 * environment, no user site, no bytecode writing, Debian's stdlib and
 * dist-packages on sys.path, the working directory appended LAST so a staged
 * os.py or pandas.py never shadows a real module while a user's own helper
 * module in the scratch dir stays importable) and the runner that executes
 * one job inside a sandbox child (sbx_py_child, an sbx_child_fn).
 *
 * The child writes exactly one JSON object to result_fd (never to stdout, so
 * prints cannot spoof it):
 *   {"status":"ok","entryPoint":"script"|"main"|"run","returnValue":...}
 *   {"status":"error","entryPoint":...,"error":{"code","message","type",
 *    "traceback","line","missing","exitStatus"}}
 * where error.code is a SPEC §2 code: CODE_ERROR, MEMORY_LIMIT,
 * OUTPUT_TOO_LARGE, PACKAGE_MISSING or INTERNAL.
 *
 * Two modes: cold (the child initialises CPython itself, after the sandbox is
 * set up) and warm (a long-running parent calls sbx_py_init(true, ...) once;
 * every forked child inherits the initialised interpreter with numpy, pandas
 * and matplotlib already imported). Warm mode requires that sbx_run() is
 * called from the thread that called sbx_py_init() (it keeps the GIL) and
 * that no other thread runs Python. Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Exit statuses of sbx_py_child when it could not produce a result. */
#define SBX_PY_EXIT_INIT 70   /* the interpreter could not be initialised */
#define SBX_PY_EXIT_RUNNER 71 /* the runner itself failed (a bug) */
#define SBX_PY_EXIT_WRITE 72  /* the result could not be written */

/* One executeCode job; every pointer is borrowed and must outlive the run. */
struct sbx_py_job {
    const char *code; /* Python source, UTF-8 */
    size_t code_len;
    const char *inputs_json;   /* JSON object text handed to main/run; NULL = "{}" */
    const char *packages_json; /* JSON array of [requested, import name]; NULL = "[]" */
    long return_cap;           /* bytes of the serialised returnValue */
    long traceback_cap;        /* characters of traceback kept (the tail) */
    int max_depth;             /* nesting of the returnValue */
    bool call_entry;           /* call main(**inputs) / run(ctx) when defined */
};

/* Initialise CPython in the current process (idempotent). warm additionally
 * imports numpy, pandas and matplotlib (Agg) with single-threaded BLAS; a
 * package that is missing is skipped. E_INTERNAL when the interpreter cannot
 * start. */
enum err_code sbx_py_init(bool warm, struct err *err);
/* True when this process already holds an initialised interpreter. */
bool sbx_py_ready(void);
/* Whether the runner built into kiln (compiled at build time) fits this
 * interpreter and source, so no child compiles it (Python initialised). */
bool sbx_py_runner_builtin(void);
/* sbx_child_fn: run the struct sbx_py_job at arg and write its result to
 * result_fd. Returns 0 when a result was written (whatever the code did),
 * else one of SBX_PY_EXIT_*. */
int sbx_py_child(void *arg, int result_fd);
/* sbx_job_fn of a ready sandbox (warm parents only): rehearse the runner
 * once, then read a job packed by sbx_py_job_pack() from job_fd and run it
 * as sbx_py_child() does. */
int sbx_py_ready_child(int job_fd, int result_fd);
/* Append job to out as the bytes sbx_py_ready_child() reads. */
enum err_code sbx_py_job_pack(const struct sbx_py_job *job, struct buf *out, struct err *err);
