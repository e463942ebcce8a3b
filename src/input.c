#include "input.h"

#include <string.h>

#include "banned.h"

enum err_code input_check_session(const char *s, struct err *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIM_SESSION_ID_LEN)
        return err_set(err, E_INVALID, "must be 1 to %d characters", LIM_SESSION_ID_LEN);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return err_set(err, E_INVALID, "may hold only letters, digits, '.', '_' and '-'");
    }
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return err_set(err, E_INVALID, "must not be '.' or '..'");
    return E_OK;
}
