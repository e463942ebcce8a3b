/* router internals, exposed for tests and fuzzing. */
#pragma once

#include <jansson.h>

#include "router.h"

/* Validate a parsed request: on success *ra is the action and *args its
 * (borrowed) arguments. *ra is set as soon as the action is known, so that
 * errors can name it. */
enum err_code route_check(json_t *req, const struct route_action **ra, json_t **args,
                          struct err *err);
