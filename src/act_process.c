#include "actions.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "log.h"
#include "op.h"
#include "outputs.h"
#include "sbx.h"
#include "store.h"

#include "banned.h"

/* What the sandboxed child needs; paths are relative to the scratch dir,
 * which is the child's working directory. */
struct proc_job {
    const struct op_def *op;
    struct op_input in;
    json_t *options;
    size_t max_output;
};

/* Runs in the sandbox: the operation, its outcome as one JSON object on
 * result_fd: {"ok":true,"result":...} or {"ok":false,"code":N,"message":...}. */
static int proc_child(void *arg, int result_fd)
{
    struct proc_job *job = arg;
    struct err err;
    json_t *result = NULL;
    err_clear(&err);
    struct op_ctx ctx = {&job->in, job->options, "out", job->max_output};
    enum err_code rc = job->op->fn(&ctx, &result, &err);
    json_t *msg = json_object();
    if (!msg)
        return 3;
    if (rc == E_OK) {
        json_object_set_new(msg, "ok", json_true());
        json_object_set_new(msg, "result", result ? result : json_object());
    } else {
        json_decref(result);
        json_object_set_new(msg, "ok", json_false());
        json_object_set_new(msg, "code", json_integer(rc));
        json_object_set_new(msg, "message", json_string(err.msg));
    }
    /* One buffer, few writes: json_dumpfd writes every token separately. */
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return 4;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(result_fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(text);
    return off == len ? 0 : 4;
}

static enum err_code proc_known_ops(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (const struct op_def *d = op_list(); d->name; d++) {
        int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", d->name);
        if (n < 0 || (size_t)n >= len - off)
            break;
        off += (size_t)n;
    }
    return E_OK;
}

/* Turn the sandbox outcome into the op's result or an error. */
static enum err_code proc_outcome(struct action *a, const struct proc_job *job,
                                  struct sbx_outcome *oc, json_t **result, struct err *err)
{
    if (oc->timed_out)
        return err_set(err, E_TIMEOUT, "operation '%s' ran longer than %ld ms and was stopped",
                       job->op->name, a->timeout_ms);
    if (oc->err.len)
        json_object_set_new(a->error_extra, "stderr", json_stringn(oc->err.data, oc->err.len));
    if (oc->result_truncated)
        return err_set(err, E_OUTPUT_LIMIT,
                       "operation '%s' returned a result larger than %ld "
                       "bytes",
                       job->op->name, a->cfg->return_bytes);
    json_error_t jerr;
    json_t *msg = oc->result.len ? json_loadb(oc->result.data, oc->result.len, 0, &jerr) : NULL;
    if (!msg) {
        if (oc->term_signal == SIGKILL || oc->mem_limit)
            return err_set(err, E_MEMORY,
                           "operation '%s' was killed (signal %d), most likely by the memory "
                           "limit of %ld bytes",
                           job->op->name, oc->term_signal, a->cfg->memory_bytes);
        if (oc->term_signal)
            return err_set(err, E_INTERNAL,
                           "operation '%s' crashed with signal %d; please report this with the "
                           "input file",
                           job->op->name, oc->term_signal);
        return err_set(err, E_INTERNAL,
                       "operation '%s' ended (status %d) without a result; please report this",
                       job->op->name, oc->exit_status);
    }
    enum err_code rc = E_OK;
    if (json_is_true(json_object_get(msg, "ok"))) {
        *result = json_incref(json_object_get(msg, "result"));
    } else {
        json_int_t code = json_integer_value(json_object_get(msg, "code"));
        const char *m = json_string_value(json_object_get(msg, "message"));
        if (code <= E_OK || code >= E_COUNT_)
            code = E_INTERNAL;
        if (code == E_NOMEM)
            rc = err_set(err, E_MEMORY, "operation '%s' ran out of memory (limit %ld bytes)%s%s",
                         job->op->name, a->cfg->memory_bytes, m && *m ? ": " : "", m ? m : "");
        else
            rc = err_set(err, (enum err_code)code, "%s", m ? m : "operation failed");
    }
    json_decref(msg);
    return rc;
}

enum err_code act_process_file(struct action *a, json_t **result, struct err *err)
{
    enum err_code rc = E_OK;
    struct input_set inputs = {NULL, 0};
    struct sbx_outcome oc;
    bool oc_init = false;
    json_t *res = NULL;
    json_t *skipped = NULL;
    char in_dir[PATH_MAX], out_dir[PATH_MAX];
    const char *scratch;
    struct store *store = NULL;

    const char *opname = json_string_value(json_object_get(a->args, "operation"));
    const struct op_def *op = op_find(opname);
    if (!op) {
        char known[256];
        proc_known_ops(known, sizeof(known));
        return err_set(err, E_INVALID, "unknown operation '%.64s' (known: %s)", opname,
                       known[0] ? known : "none in this build");
    }
    int sources = 0;
    if (json_is_string(json_object_get(a->args, "fileUrl")))
        sources++;
    if (json_is_string(json_object_get(a->args, "fileBase64")))
        sources++;
    if (json_is_string(json_object_get(a->args, "fileId")))
        sources++;
    if (sources == 0)
        return err_set(err, E_INVALID,
                       "processFile needs one of 'fileUrl', 'fileBase64' or 'fileId'");
    if (sources > 1)
        return err_set(err, E_INVALID,
                       "give only one of 'fileUrl', 'fileBase64' or 'fileId' to processFile");
    const char *session = json_string_value(json_object_get(a->args, "session"));

    rc = action_store(a, &store, err);
    if (rc)
        goto out;
    rc = action_scratch(a, &scratch, err);
    if (rc)
        goto out;
    snprintf(in_dir, sizeof(in_dir), "%s/in", scratch);
    snprintf(out_dir, sizeof(out_dir), "%s/out", scratch);
    if (mkdir(in_dir, 0700) != 0 || mkdir(out_dir, 0700) != 0) {
        rc = err_sys(err, E_IO, "cannot prepare the scratch dir");
        goto out;
    }
    rc = input_stage(a->cfg, store, a->args, in_dir, action_ms_left(a), &inputs, err);
    if (rc)
        goto out;
    if (inputs.n != 1) {
        rc = err_set(err, E_INTERNAL, "expected one staged input, got %zu", inputs.n);
        goto out;
    }

    char rel_in[PATH_MAX];
    snprintf(rel_in, sizeof(rel_in), "in/%s", inputs.v[0].name);
    json_t *options = json_object_get(a->args, "options");
    json_t *empty = json_object();
    struct proc_job job = {op,
                           {rel_in, inputs.v[0].name, inputs.v[0].kind, inputs.v[0].size},
                           options ? options : empty,
                           (size_t)a->cfg->output_bytes};
    struct sbx_opts opts;
    sbx_opts_from_config(&opts, a->cfg, scratch);
    opts.wall_ms = action_ms_left(a);
    if (opts.wall_ms <= 0) {
        json_decref(empty);
        rc = err_set(err, E_TIMEOUT, "the time limit of %ld ms ran out while fetching inputs",
                     a->timeout_ms);
        goto out;
    }
    double t0 = action_now_ms();
    rc = sbx_run(&opts, proc_child, &job, &oc, err);
    json_decref(empty);
    if (rc)
        goto out;
    oc_init = true;
    rc = proc_outcome(a, &job, &oc, &res, err);
    if (rc)
        goto out;
    skipped = json_array();
    rc = outputs_collect(out_dir, NULL, store, session ? STORE_SESSION : STORE_TEMPORARY, session,
                         (uint64_t)a->cfg->output_bytes, a->files, skipped, err);
    if (rc)
        goto out;
    if (!json_is_object(res)) {
        json_decref(res);
        res = json_object();
    }
    json_object_set_new(res, "operation", json_string(op->name));
    json_object_set_new(res, "input",
                        json_pack("{s:s, s:I, s:s}", "name", inputs.v[0].name, "size",
                                  (json_int_t)inputs.v[0].size, "kind", inputs.v[0].kind));
    json_object_set_new(res, "durationMs", json_integer((json_int_t)(action_now_ms() - t0)));
    if (json_array_size(skipped))
        json_object_set(res, "skippedOutputs", skipped);
    *result = res;
    res = NULL;
out:
    if (oc_init)
        sbx_outcome_release(&oc);
    json_decref(res);
    json_decref(skipped);
    input_set_release(&inputs);
    return rc;
}
