/*
 * op_bench: times one built-in operation called directly (no request
 * parsing, staging, sandbox or store), for bench/run.sh.
 *
 * usage: op_bench analyze|read|OPNAME FILE KIND [OPTIONS_JSON] [OUT_DIR]
 * "read" only iterates the rows of the table reader. Prints one JSON line:
 * {"op":..., "seconds":..., "rows":...}. Exit 1 when the operation fails.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "op.h"
#include "table.h"

static double ob_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Remove the flat output directory dir and its files. */
static void ob_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: op_bench analyze|read|OP FILE KIND [OPTIONS_JSON] [OUT_DIR]\n");
        return 2;
    }
    const char *opname = argv[1], *path = argv[2], *kind = argv[3];
    json_t *opts = json_loads(argc > 4 ? argv[4] : "{}", 0, NULL);
    const char *out_base = argc > 5 ? argv[5] : "/tmp";
    char out_dir[4096];
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    struct err err;
    err_clear(&err);
    mkdir(out_base, 0700);
    snprintf(out_dir, sizeof(out_dir), "%s/op_bench-XXXXXX", out_base);
    if (!mkdtemp(out_dir)) {
        perror("op_bench: mkdtemp");
        return 2;
    }
    double t0 = ob_now();
    size_t rows = 0;
    enum err_code rc;
    if (!strcmp(opname, "read")) {
        struct table_src *src = NULL;
        rc = table_open(path, kind, name, opts, &src, &err);
        while (!rc) {
            const struct tcell *cells;
            size_t nc;
            bool eof;
            rc = table_next_row(src, &cells, &nc, &eof, &err);
            if (rc || eof)
                break;
            rows++;
        }
        table_close(src);
    } else {
        const struct op_def *op = op_find(opname);
        if (!op) {
            fprintf(stderr, "op_bench: no operation '%s'\n", opname);
            ob_rmdir(out_dir);
            return 2;
        }
        struct op_input in = {path, name, kind, 0};
        if (!opts)
            opts = json_object();
        struct op_ctx ctx = {&in, opts, out_dir, 50000000};
        json_t *res = NULL;
        rc = op->fn(&ctx, &res, &err);
        json_t *r = json_object_get(res, "rows");
        rows = json_is_integer(r) ? (size_t)json_integer_value(r) : 0;
        if (getenv("OP_BENCH_DUMP") && res)
            json_dumpf(res, stderr, JSON_COMPACT);
        json_decref(res);
    }
    double dt = ob_now() - t0;
    json_decref(opts);
    ob_rmdir(out_dir);
    if (getenv("OP_BENCH_SMAPS")) {
        FILE *f = fopen("/proc/self/smaps_rollup", "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
    if (rc) {
        fprintf(stderr, "op_bench: %s failed: %s\n", opname, err.msg);
        return 1;
    }
    printf("{\"op\":\"%s\",\"seconds\":%.6f,\"rows\":%zu}\n", opname, dt, rows);
    return 0;
}
