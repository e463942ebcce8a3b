#pragma once
/* UTF-8 encoding of one code point. */
#include <stddef.h>
#include <stdint.h>

/* Write cp (at most U+10FFFF) as UTF-8 at o (room for 4 bytes); the byte count. */
size_t utf8_put(char *o, uint32_t cp);
