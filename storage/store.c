#include "store.h"

#include <stdlib.h>

#include "banned.h"

struct store {
    int dummy;
};

enum err_code store_open(const struct config *cfg, struct store **out, struct err *err)
{
    (void)cfg;
    (void)out;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

void store_free(struct store *s)
{
    free(s);
}

enum err_code store_put_file(struct store *s, const char *src_path, const char *name,
                             const char *mime, enum store_scope scope, const char *session,
                             struct store_meta *meta, struct err *err)
{
    (void)s, (void)src_path, (void)name, (void)mime, (void)scope, (void)session, (void)meta;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_stat(struct store *s, const char *id, struct store_meta *meta,
                         struct err *err)
{
    (void)s, (void)id, (void)meta;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_open_data(struct store *s, const char *id, struct store_meta *meta, int *fd,
                              struct err *err)
{
    (void)s, (void)id, (void)meta, (void)fd;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_copy_out(struct store *s, const char *id, const char *dst_path,
                             struct err *err)
{
    (void)s, (void)id, (void)dst_path;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_list(struct store *s, const char *session, struct store_meta **v, size_t *n,
                         struct err *err)
{
    (void)s, (void)session, (void)v, (void)n;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_rm(struct store *s, const char *id, struct err *err)
{
    (void)s, (void)id;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

enum err_code store_gc(struct store *s, size_t *removed, uint64_t *bytes, struct err *err)
{
    (void)s, (void)removed, (void)bytes;
    return err_set(err, E_INTERNAL, "the store is not yet available");
}

json_t *store_meta_json(const struct store_meta *meta)
{
    (void)meta;
    return json_object();
}

const char *store_root(const struct store *s)
{
    (void)s;
    return "";
}
