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
#define LIM_STORE_META_BYTES 8192          /* one entry's metadata file */
#define LIM_STORE_LIST_ENTRIES 100000L     /* entries one store_list may return */
#define LIM_STORE_GC_INTERVAL_S 300L       /* opportunistic sweep at most this often */
#define LIM_STORE_STALE_S 3600L            /* unreadable metadata older than this is swept */
#define LIM_STORE_COPY_CHUNK (256 * 1024)  /* copy buffer */

/* Requests. */
#define LIM_REQUEST_BYTES (100L * 1000 * 1000) /* base64 of a 50 MB file fits */
#define LIM_FILE_NAME_LEN 255
#define LIM_INPUT_FILES 32
#define LIM_PACKAGES 64
#define LIM_CODE_BYTES (1L * 1000 * 1000)
#define LIM_JSON_DEPTH 64

/* executeCode (src/act_exec.c, sandbox/sbx_py.c). */
#define LIM_PACKAGE_NAME_LEN 100          /* one entry of `packages` */
#define LIM_TRACEBACK_BYTES (64L * 1024)  /* tail of a traceback kept */
#define LIM_RETURN_DEPTH 256              /* nesting of a returnValue */
#define LIM_RESULT_OVERHEAD (64L * 1024)  /* result channel beyond returnValue + traceback */

/* Fetching. */
#define LIM_URL_LEN 8192
#define LIM_REDIRECTS 5
#define LIM_FETCH_CONNECT_MS_DEFAULT 10000L
#define LIM_FETCH_TOTAL_MS_DEFAULT 30000L
#define LIM_FETCH_LOW_SPEED_BYTES 1024L /* abort below 1 KiB/s ... */
#define LIM_FETCH_LOW_SPEED_S 15L       /* ... sustained for 15 s */
#define LIM_ALLOWLIST_ENTRIES 256
#define LIM_FETCH_ADDRS 32         /* resolved addresses checked and pinned per host */
#define LIM_FETCH_HEADER_BYTES 1024 /* longest Content-Disposition / Location kept */

/* Config file. */
#define LIM_CONFIG_BYTES (1L * 1000 * 1000)

/* XLSX reading (operations/zipread.c, operations/rd_xlsx.c). */
#define LIM_XLSX_TOTAL_INFLATED (1024L * 1024 * 1024) /* all parts read, together */
#define LIM_XLSX_PART_INFLATED (512L * 1024 * 1024)   /* one part */
#define LIM_XLSX_RATIO_MAX 200L                       /* inflated:compressed ... */
#define LIM_XLSX_RATIO_MIN_BYTES (16L * 1024 * 1024)  /* ... checked past this size */
#define LIM_XLSX_ENTRIES 65536L                       /* zip entries */
#define LIM_XLSX_META_PART_BYTES (16L * 1024 * 1024)  /* rels, workbook, styles */
#define LIM_XLSX_SST_BYTES (256L * 1024 * 1024)       /* shared-string text */
#define LIM_XLSX_SST_COUNT (16L * 1024 * 1024)        /* shared strings */
#define LIM_XLSX_ROW_BYTES (64L * 1024 * 1024)        /* text of one row */
#define LIM_XLSX_SHEETS 4096L
#define LIM_XLSX_XFS 65536L      /* cellXfs entries */
#define LIM_XLSX_NUMFMTS 65536L  /* custom numFmts */
#define LIM_XLSX_MERGES 1000000L /* mergeCell ranges kept per sheet */
#define LIM_XLSX_MERGES_REPORTED 1000L
#define LIM_XLSX_MAX_COLS 16384L
#define LIM_XLSX_MAX_ROWS 1048576L
#define LIM_XLSX_PREVIEW_ROWS 5
#define LIM_XLSX_PREVIEW_CELL_BYTES 1000

/* Table reading (operations/table.h, rd_csv.c, rd_json.c) and analyze. */
#define LIM_CSV_FIELD_BYTES (16L * 1024 * 1024) /* one field, after decoding */
#define LIM_CSV_ROW_BYTES (64L * 1024 * 1024)   /* one record, all fields */
#define LIM_CSV_COLUMNS 16384L                  /* fields in one record */
#define LIM_CSV_SNIFF_BYTES (64L * 1024)        /* dialect/encoding sniff window */
#define LIM_CSV_READ_BLOCK (1L * 1024 * 1024)   /* read() size */
#define LIM_JSON_TABLE_BYTES (50L * 1000 * 1000) /* JSON tables are loaded whole */
#define LIM_TABLE_NOTE_ROWS 5                   /* row numbers listed per note */
#define LIM_ANALYZE_DISTINCT 1000000L           /* exact distinct values per column */
#define LIM_ANALYZE_DISTINCT_BYTES (48L * 1024 * 1024) /* all distinct-value sets */
#define LIM_ANALYZE_NUMBERS (12L * 1024 * 1024) /* numeric cells kept for quartiles */
#define LIM_ANALYZE_CORR_COLUMNS 64L            /* numeric columns in the correlation */
#define LIM_ANALYZE_TOPN 100L                   /* max "topN" option */
#define LIM_ANALYZE_REPORT_COLUMNS 512L         /* columns charted in reports */
