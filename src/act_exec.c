#include "actions.h"

#include "banned.h"

enum err_code act_execute_code(struct action *a, json_t **result, struct err *err)
{
    (void)a;
    (void)result;
    return err_set(err, E_INTERNAL,
                   "executeCode is not yet available in this build (sandbox not implemented)");
}
