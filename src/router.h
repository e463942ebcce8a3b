/*
 * router: the one entry point for actions. Validates a request against the
 * action's argument table, runs the handler, and builds the SPEC §2 envelope.
 * This is one of the two places where struct err becomes JSON.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "action.h"
#include "config.h"

struct store;

/* Run one request given as JSON text. Returns the envelope (never NULL
 * unless out of memory). *ok says whether the action succeeded. */
json_t *route_text(const struct config *cfg, struct store *store, const char *text, size_t len,
                   bool *ok);
/* Same for a parsed request (borrowed). */
json_t *route_request(const struct config *cfg, struct store *store, json_t *req, bool *ok);
/* For a worker that answers before it cleans up: from now on,
 * route_request leaves its scratch dir (and a sandbox that said it was done
 * but may still be exiting) to route_cleanup(), which the worker calls once
 * the envelope is sent. */
void route_defer_cleanup(void);
void route_cleanup(void);
/* The error envelope for an action (action may be NULL). */
json_t *route_error_envelope(const char *action, const struct err *err, json_t *extra);

/* One argument of an action, for validation and for `kiln schema`. */
enum route_arg_type { RA_STRING, RA_INTEGER, RA_OBJECT, RA_ARRAY, RA_BOOLEAN };
struct route_arg {
    const char *name;
    enum route_arg_type type;
    bool required;
    const char *description;
};
struct route_action {
    const char *name;
    const char *description;
    const struct route_arg *args; /* terminated by a NULL name */
    action_handler_fn handler;
};
/* The sorted table of actions (terminated by a NULL name). */
const struct route_action *route_actions(void);
