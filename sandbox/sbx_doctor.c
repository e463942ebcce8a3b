#include "sbx_doctor.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "sbx.h"
#include "sbx_cgroup.h"
#include "sbx_fs.h"
#include "sbx_seccomp.h"

#include "banned.h"

#define SBX_DOCTOR_WALL_MS 10000L
#define SBX_DOCTOR_BASE (SBX_L_USERNS | SBX_L_NNP)

static const struct {
    const char *name;
    unsigned bits;
} sbx_doctor_probes[SBX_DOCTOR_LAYERS] = {
    {"userns", SBX_L_USERNS},
    {"nnp", SBX_L_NNP},
    {"pidns", SBX_DOCTOR_BASE | SBX_L_PIDNS},
    {"netns", SBX_DOCTOR_BASE | SBX_L_NETNS},
    {"mntns", SBX_DOCTOR_BASE | SBX_L_PIDNS | SBX_L_MNTNS},
    {"ipcns", SBX_DOCTOR_BASE | SBX_L_IPCNS},
    {"utsns", SBX_DOCTOR_BASE | SBX_L_UTSNS},
    {"seccomp", SBX_DOCTOR_BASE | SBX_L_SECCOMP},
    {"landlock", SBX_DOCTOR_BASE | SBX_L_LANDLOCK},
    {"rlimits", SBX_DOCTOR_BASE | SBX_L_RLIMITS},
    {"all", SBX_L_ALL},
};

static int sbx_doctor_child(void *arg, int result_fd)
{
    (void)arg;
    return write(result_fd, "ok", 2) == 2 ? 0 : 1;
}

static void sbx_doctor_probe(struct sbx_doctor_layer *l, const struct config *cfg_in,
                             const char *scratch)
{
    struct config cfg;
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    config_defaults(&cfg);
    cfg.cgroup = cfg_in->cgroup;
    snprintf(cfg.cgroup_path, sizeof(cfg.cgroup_path), "%s", cfg_in->cgroup_path);
    sbx_opts_from_config(&o, &cfg, scratch);
    o.wall_ms = SBX_DOCTOR_WALL_MS;
    o.layers = l->bits;
    l->ok = false;
    if (sbx_run(&o, sbx_doctor_child, NULL, &oc, &err) != E_OK) {
        snprintf(l->detail, sizeof(l->detail), "%s", err.msg);
        return;
    }
    if (oc.exit_status == 0 && !oc.term_signal && oc.result.len == 2) {
        l->ok = true;
    } else {
        snprintf(l->detail, sizeof(l->detail), "probe ended with status %d, signal %d%s",
                 oc.exit_status, oc.term_signal, oc.timed_out ? " (timed out)" : "");
    }
    sbx_outcome_release(&oc);
}

void sbx_doctor_run(struct sbx_doctor_report *r, const struct config *cfg)
{
    memset(r, 0, sizeof(*r));
    struct err cerr;
    r->cgroup_required_ok = sbx_host_init(cfg, &cerr) == E_OK;
    r->cgroup = *sbx_cg_state();
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(r->kernel, sizeof(r->kernel), "%s %s", u.sysname, u.release);
    r->landlock_abi = sbx_fs_landlock_abi();
    const struct sock_fprog *prog;
    r->seccomp = sbx_seccomp_prog(&prog, NULL) == E_OK;
    struct statfs sf;
    if (statfs("/sys/fs/cgroup", &sf) == 0)
        r->cgroup_version = sf.f_type == CGROUP2_SUPER_MAGIC ? 2 : sf.f_type == TMPFS_MAGIC ? 1 : 0;
    const char *base = getenv("TMPDIR");
    char scratch[4096];
    snprintf(scratch, sizeof(scratch), "%s/kiln-doctor-XXXXXX", base && *base ? base : "/tmp");
    bool have_dir = mkdtemp(scratch) != NULL;
    r->all_ok = true;
    for (size_t i = 0; i < SBX_DOCTOR_LAYERS; i++) {
        struct sbx_doctor_layer *l = &r->layers[i];
        l->name = sbx_doctor_probes[i].name;
        l->bits = sbx_doctor_probes[i].bits;
        if (have_dir)
            sbx_doctor_probe(l, cfg, scratch);
        else
            snprintf(l->detail, sizeof(l->detail), "cannot create a scratch dir: %s",
                     strerror(errno));
        r->all_ok = r->all_ok && l->ok;
    }
    r->n_layers = SBX_DOCTOR_LAYERS;
    sbx_reap_lingering(); /* a probe that said DONE may still be exiting */
    if (have_dir)
        rmdir(scratch);
}

json_t *sbx_doctor_json(const struct sbx_doctor_report *r)
{
    json_t *layers = json_object();
    json_t *o = json_object();
    if (!layers || !o) {
        json_decref(layers);
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct sbx_doctor_layer *l = &r->layers[i];
        json_t *e = l->ok ? json_pack("{s:b}", "ok", 1)
                          : json_pack("{s:b, s:s}", "ok", 0, "detail", l->detail);
        json_object_set_new(layers, l->name, e);
    }
    json_object_set_new(o, "ok", json_boolean(r->all_ok));
    json_object_set_new(o, "kernel", json_string(r->kernel));
    json_object_set_new(o, "landlockAbi", json_integer(r->landlock_abi));
    json_object_set_new(o, "seccomp", json_boolean(r->seccomp));
    json_object_set_new(o, "cgroupVersion", json_integer(r->cgroup_version));
    const struct sbx_cg_state *cg = &r->cgroup;
    json_t *cgo = json_pack("{s:s, s:b, s:b, s:b}", "mode", config_cgroup_name(cg->mode), "inUse",
                            cg->usable, "memory", cg->memory, "pids", cg->pids);
    if (cgo && cg->usable)
        json_object_set_new(cgo, "dir", json_string(cg->base));
    if (cgo && cg->why[0])
        json_object_set_new(cgo, "detail", json_string(cg->why));
    json_object_set_new(o, "cgroup", cgo);
    json_object_set_new(o, "layers", layers);
    return o;
}

void sbx_doctor_text(const struct sbx_doctor_report *r, FILE *f)
{
    fprintf(f, "kernel:        %s\n", r->kernel);
    if (r->landlock_abi > 0)
        fprintf(f, "landlock ABI:  %d\n", r->landlock_abi);
    else
        fprintf(f, "landlock ABI:  unavailable\n");
    fprintf(f, "seccomp:       %s\n", r->seccomp ? "available" : "unavailable");
    const struct sbx_cg_state *cg = &r->cgroup;
    fprintf(f, "cgroups:       %s mounted at /sys/fs/cgroup\n",
            r->cgroup_version == 2   ? "v2"
            : r->cgroup_version == 1 ? "v1"
                                     : "unknown");
    if (cg->usable)
        fprintf(f, "  sandbox cgroups: in use, under %s (memory limit: %s, pids limit: %s)\n",
                cg->base, cg->memory ? "yes" : "no", cg->pids ? "yes" : "no");
    else
        fprintf(f, "  sandbox cgroups: not in use\n");
    if (cg->why[0])
        fprintf(f, "  (%s)\n", cg->why);
    if (!r->cgroup_required_ok)
        fprintf(f, "  config 'cgroup' requires them: kiln refuses to run code here\n");
    else if (!cg->memory || !cg->pids)
        fprintf(f, "  rlimits bound each sandbox process instead (optional layer)\n");
    fprintf(f, "\nsandbox layers:\n");
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct sbx_doctor_layer *l = &r->layers[i];
        fprintf(f, "  %-10s %s%s%s\n", l->name, l->ok ? "ok" : "FAILED", l->ok ? "" : ": ",
                l->ok ? "" : l->detail);
    }
    fprintf(f, "\n%s\n",
            r->all_ok ? "all sandbox layers work on this host"
                      : "some sandbox layers do not work: kiln refuses to run code here");
}
