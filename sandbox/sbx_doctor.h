/*
 * sbx_doctor: which sandbox layers work on this host (`kiln doctor`).
 *
 * Each layer is probed by actually running a tiny sandbox with it (on top of
 * the user namespace and no_new_privs, which the others build on), then all
 * layers together; the report adds the kernel release, the Landlock ABI,
 * seccomp availability and the cgroup version (informational: cgroup limits
 * are optional). Runs sandboxes: not thread-safe.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "sbx_cgroup.h"

#define SBX_DOCTOR_LAYERS 11

struct sbx_doctor_layer {
    const char *name;
    unsigned bits; /* enum sbx_layer bits probed */
    bool ok;
    char detail[256]; /* why not, when !ok */
};

struct sbx_doctor_report {
    char kernel[128];
    int landlock_abi; /* -1 when unavailable */
    bool seccomp;
    int cgroup_version;         /* of /sys/fs/cgroup: 1, 2, or 0 when unknown */
    struct sbx_cg_state cgroup; /* the sandbox cgroups (sbx_cgroup.h) */
    bool cgroup_required_ok;    /* false: the config requires them and they are missing */
    struct sbx_doctor_layer layers[SBX_DOCTOR_LAYERS]; /* the last is "all" */
    size_t n_layers;
    bool all_ok; /* every layer (all are mandatory) works */
};

/* Probe the host; uses a temporary scratch dir under $TMPDIR or /tmp. */
void sbx_doctor_run(struct sbx_doctor_report *r, const struct config *cfg);
/* The report as a new JSON object (NULL on allocation failure). */
json_t *sbx_doctor_json(const struct sbx_doctor_report *r);
/* The report as text lines. */
void sbx_doctor_text(const struct sbx_doctor_report *r, FILE *f);
