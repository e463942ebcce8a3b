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
/*
 * In a spare worker, before its request: go once through what a call does
 * besides the sandbox (parse and check a request, open the store, read a
 * runner result, build and print an envelope) on made-up data. A worker
 * forked from a warm process copies each inherited page on its first write
 * to it: those copies, a millisecond or two in all, are then made while
 * nobody waits. Nothing is kept or written to disk.
 */
void act_exec_rehearse(const struct config *cfg);
/* processFile: a built-in C operation in the sandbox. */
enum err_code act_process_file(struct action *a, json_t **result, struct err *err);
