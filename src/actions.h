/*
 * actions: the handlers of the two SPEC §1 actions. Each gets a validated
 * struct action and fills result / files; see action.h.
 */
#pragma once

#include "action.h"

/* executeCode: Python in the sandbox. */
enum err_code act_execute_code(struct action *a, json_t **result, struct err *err);
/* processFile: a built-in C operation in the sandbox. */
enum err_code act_process_file(struct action *a, json_t **result, struct err *err);
