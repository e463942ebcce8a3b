/*
 * action: the state of one action (executeCode or processFile) while it runs.
 *
 * The router creates it, hands it to the handler, and turns what the handler
 * leaves in it into the SPEC §2 envelope. A handler fills `files` (FILE
 * objects of stored outputs) and may add fields to `error_extra` (stdout,
 * stderr, traceback...) that are merged into the error object on failure.
 * Not thread-safe; one per action.
 */
#pragma once

#include <jansson.h>
#include <limits.h>

#include "config.h"
#include "err.h"

struct store;

struct action {
    const struct config *cfg;
    const char *name;    /* "executeCode" | "processFile" */
    json_t *args;        /* borrowed; validated against the action's argument table */
    struct store *store; /* borrowed; may be NULL until opened by action_store() */
    bool own_store;
    char scratch[PATH_MAX]; /* "" until action_scratch() created it */
    json_t *files;          /* owned array of FILE objects */
    json_t *error_extra;    /* owned object; merged into the error object */
    double deadline_ms;     /* monotonic ms when the wall-clock limit is reached */
    long timeout_ms;        /* effective wall-time limit for this action */
};

/* Handler of one action: on success sets *result (a new reference). */
typedef enum err_code (*action_handler_fn)(struct action *a, json_t **result, struct err *err);

/* Opens the store if not yet open (borrowed result, owned by the action). */
enum err_code action_store(struct action *a, struct store **out, struct err *err);
/* Creates the scratch directory if not yet created and returns its path
 * (the adopted one, when there is one: see action_adopt_scratch). */
enum err_code action_scratch(struct action *a, const char **out, struct err *err);
/* A spare worker's scratch dir, made before its request: the next
 * action_scratch() of this process takes it instead of making one. */
void action_adopt_scratch(const char *path);
/* Remove the adopted scratch dir if no action took it. */
void action_adopted_release(void);
/* Milliseconds left before the action's deadline (never negative). */
long action_ms_left(const struct action *a);
/* Monotonic clock in milliseconds. */
double action_now_ms(void);
