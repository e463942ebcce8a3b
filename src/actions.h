/*
 * actions: the handlers of the two SPEC §1 actions. Each gets a validated
 * struct action and fills result / files; see action.h.
 */
#pragma once

#include "action.h"

/* executeCode: Python in the sandbox. */
enum err_code act_execute_code(struct action *a, json_t **result, struct err *err);
/*
 * In a warm spare worker, before its request: make the scratch dir the
 * next action adopts and a ready sandbox for executeCode in it (rehearsed;
 * see sbx_ready_prepare). What is not used is discarded by the action or
 * by act_exec_unprepare().
 */
enum err_code act_exec_prepare(const struct config *cfg, struct err *err);
void act_exec_unprepare(void);
/* processFile: a built-in C operation in the sandbox. */
enum err_code act_process_file(struct action *a, json_t **result, struct err *err);
