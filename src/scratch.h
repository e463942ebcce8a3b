/*
 * scratch: private per-action working directories.
 *
 * A scratch dir is created (mode 0700) under config.scratch_dir (default
 * /var/tmp/kiln-<uid>, mode 0711: the sandbox user must be able to reach the
 * dirs by path, but not list them), named after the owning pid so that a sweep can remove
 * the dirs of processes that were killed (scratch_sweep). Removal never
 * follows symlinks. Fork-safe: scratch_remove may run in any process.
 */
#pragma once

#include <stddef.h>

#include "config.h"
#include "err.h"

/* Create a fresh scratch dir; writes its absolute path into out. */
enum err_code scratch_new(const struct config *cfg, char *out, size_t out_len, struct err *err);
/* Remove a scratch dir and everything below it (no symlink following). */
void scratch_remove(const char *path);
/* Remove the scratch dirs whose owning process is gone; returns how many. */
size_t scratch_sweep(const struct config *cfg);
/* The parent directory of all scratch dirs (static buffer). */
const char *scratch_base(const struct config *cfg);
