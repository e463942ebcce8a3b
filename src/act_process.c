#include "actions.h"

#include "banned.h"

enum err_code act_process_file(struct action *a, json_t **result, struct err *err)
{
    (void)a;
    (void)result;
    return err_set(err, E_INTERNAL,
                   "processFile is not yet available in this build (operations not implemented)");
}
