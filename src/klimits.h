/*
 * klimits: every size, count and time cap of kiln as one named constant.
 * Runtime-configurable limits (SPEC §3) have their defaults here and their
 * current values in struct config (config.h).
 */
#pragma once

/* SPEC §3 defaults (operator may change them through config). */
#define LIM_WALL_MS_DEFAULT 60000L
#define LIM_INPUT_BYTES_DEFAULT (50L * 1000 * 1000)
#define LIM_OUTPUT_BYTES_DEFAULT (50L * 1000 * 1000)
#define LIM_MEMORY_BYTES_DEFAULT (1024L * 1024 * 1024)
#define LIM_STDIO_BYTES_DEFAULT (1000L * 1000)
#define LIM_RETURN_BYTES_DEFAULT (10L * 1000 * 1000)
#define LIM_PROCS_DEFAULT 64L

/* Storage. */
#define LIM_TTL_TEMPORARY_S_DEFAULT 600L
#define LIM_TTL_SESSION_S_DEFAULT 86400L
#define LIM_SESSION_QUOTA_BYTES_DEFAULT (500L * 1000 * 1000)
#define LIM_SESSION_QUOTA_FILES_DEFAULT 1000L
#define LIM_ACTION_OUTPUT_FILES 1000
#define LIM_STORE_ID_BYTES 16 /* 128 bits of randomness */
#define LIM_SESSION_ID_LEN 128

/* Requests. */
#define LIM_REQUEST_BYTES (100L * 1000 * 1000) /* base64 of a 50 MB file fits */
#define LIM_FILE_NAME_LEN 255
#define LIM_INPUT_FILES 32
#define LIM_PACKAGES 64
#define LIM_CODE_BYTES (1L * 1000 * 1000)
#define LIM_JSON_DEPTH 64

/* Fetching. */
#define LIM_URL_LEN 8192
#define LIM_REDIRECTS 5
#define LIM_FETCH_CONNECT_MS_DEFAULT 10000L
#define LIM_FETCH_TOTAL_MS_DEFAULT 30000L
#define LIM_FETCH_LOW_SPEED_BYTES 1024L /* abort below 1 KiB/s ... */
#define LIM_FETCH_LOW_SPEED_S 15L       /* ... sustained for 15 s */
#define LIM_ALLOWLIST_ENTRIES 256

/* Config file. */
#define LIM_CONFIG_BYTES (1L * 1000 * 1000)
