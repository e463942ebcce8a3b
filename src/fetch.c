#include "fetch.h"

#include "banned.h"

void fetch_global_init(void)
{
}

enum err_code fetch_url(const struct config *cfg, const char *url, int fd, size_t max_bytes,
                        long timeout_ms, struct fetch_info *info, struct err *err)
{
    (void)cfg;
    (void)url;
    (void)fd;
    (void)max_bytes;
    (void)timeout_ms;
    (void)info;
    return err_set(err, E_INTERNAL, "fetching is not yet available");
}
