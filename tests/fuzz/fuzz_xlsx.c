/*
 * libFuzzer entry: .xlsx packages (zipread.c, rd_xlsx.c, rd_xlsx_table.c)
 * from raw bytes. Mutated zips rarely inflate, so fuzz_xlsx_xml covers the
 * XML parsers behind a valid zip; this target covers the zip layer itself.
 */
#include <stdint.h>

#include "fz_util.h"
#include "fz_xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_xlsx_walk(fz_write(data, size));
    return 0;
}
