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
#define LIM_STORE_META_BYTES 8192         /* one entry's metadata file */
#define LIM_STORE_LIST_ENTRIES 100000L    /* entries one store_list may return */
#define LIM_STORE_GC_INTERVAL_S 300L      /* opportunistic sweep at most this often */
#define LIM_STORE_STALE_S 3600L           /* unreadable metadata older than this is swept */
#define LIM_STORE_COPY_CHUNK (256 * 1024) /* copy buffer */

/* Requests. */
#define LIM_REQUEST_BYTES (100L * 1000 * 1000) /* base64 of a 50 MB file fits */
#define LIM_FILE_NAME_LEN 255
#define LIM_INPUT_FILES 32
#define LIM_PACKAGES 64
#define LIM_CODE_BYTES (1L * 1000 * 1000)
#define LIM_JSON_DEPTH 64

/* executeCode (src/act_exec.c, sandbox/sbx_py.c). */
#define LIM_PACKAGE_NAME_LEN 100         /* one entry of `packages` */
#define LIM_TRACEBACK_BYTES (64L * 1024) /* tail of a traceback kept */
#define LIM_RETURN_DEPTH 256             /* nesting of a returnValue */
#define LIM_RESULT_OVERHEAD (64L * 1024) /* result channel beyond returnValue + traceback */

/* Fetching. */
#define LIM_URL_LEN 8192
#define LIM_REDIRECTS 5
#define LIM_FETCH_CONNECT_MS_DEFAULT 10000L
#define LIM_FETCH_TOTAL_MS_DEFAULT 30000L
#define LIM_FETCH_LOW_SPEED_BYTES 1024L /* abort below 1 KiB/s ... */
#define LIM_FETCH_LOW_SPEED_S 15L       /* ... sustained for 15 s */
#define LIM_ALLOWLIST_ENTRIES 256
#define LIM_FETCH_ADDRS 32          /* resolved addresses checked and pinned per host */
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
/* operations/xmlscan.c: one tag, comment, PI or CDATA section held whole; element depth. */
#define LIM_XML_TOKEN_BYTES (8L * 1024 * 1024)
#define LIM_XML_DEPTH 4096L

/* Table reading (operations/table.h, rd_csv.c, rd_json.c) and analyze. */
#define LIM_CSV_FIELD_BYTES (16L * 1024 * 1024)        /* one field, after decoding */
#define LIM_CSV_ROW_BYTES (64L * 1024 * 1024)          /* one record, all fields */
#define LIM_CSV_COLUMNS 16384L                         /* fields in one record */
#define LIM_CSV_SNIFF_BYTES (64L * 1024)               /* dialect/encoding sniff window */
#define LIM_CSV_READ_BLOCK (1L * 1024 * 1024)          /* read() size */
#define LIM_JSON_TABLE_BYTES (50L * 1000 * 1000)       /* JSON tables are loaded whole */
#define LIM_TABLE_NOTE_ROWS 5                          /* row numbers listed per note */
#define LIM_ANALYZE_DISTINCT 1000000L                  /* exact distinct values per column */
#define LIM_ANALYZE_DISTINCT_BYTES (48L * 1024 * 1024) /* all distinct-value sets */
#define LIM_ANALYZE_NUMBERS (12L * 1024 * 1024)        /* numeric cells kept for quartiles */
#define LIM_ANALYZE_CORR_COLUMNS 64L                   /* numeric columns in the correlation */
#define LIM_ANALYZE_TOPN 100L                          /* max "topN" option */
#define LIM_ANALYZE_BATCHES 4L                         /* row batches in flight (threaded scan) */
#define LIM_ANALYZE_BATCH_ROWS 2048L                   /* rows per batch */
#define LIM_ANALYZE_BATCH_BYTES (1L << 20) /* cell bytes per batch (grows for one huge row) */
#define LIM_ANALYZE_THREAD_COLUMNS 512L    /* wider tables are scanned on one thread */
#define LIM_ANALYZE_REPORT_COLUMNS 512L    /* columns charted in reports */

/* transform (operations/op_transform.c, expr.c, xval.c, wr_*.c). */
#define LIM_TRANSFORM_STEPS 64                          /* steps in one request */
#define LIM_TRANSFORM_ROWS_BYTES (768L * 1024 * 1024)   /* rows kept by sort/group/dedupe */
#define LIM_TRANSFORM_SCRATCH_BYTES (64L * 1024 * 1024) /* strings made for one row */
#define LIM_TRANSFORM_CACHE_BYTES (128L * 1024 * 1024)  /* input text kept from the first read */
#define LIM_TRANSFORM_PREVIEW_ROWS 5
#define LIM_TRANSFORM_NAME_LEN 100           /* output base name */
#define LIM_TRANSFORM_FORMAT_LEN 64          /* a date format string */
#define LIM_TRANSFORM_XLSX_WIDTH_ROWS 1000L  /* rows sampled for column widths */
#define LIM_TRANSFORM_XLSX_CELL_BYTES 32767L /* Excel keeps at most 32767 characters */
#define LIM_EXPR_BYTES 4096L                 /* one expression's text */
#define LIM_EXPR_NODES 1024L                 /* nodes of one compiled expression */
#define LIM_EXPR_DEPTH 64L                   /* nesting of one expression */
#define LIM_EXPR_ARGS 256L                   /* arguments of a call or items of an in-list */

/* kiln serve (src/srv_http.c) and kiln batch (src/cli_batch.c). */
#define LIM_SERVE_QUEUE_DEFAULT 64L    /* accepted requests waiting for a worker */
#define LIM_SERVE_WORKERS_MAX 1024L    /* --workers / --jobs upper bound */
#define LIM_SERVE_QUEUE_MAX 100000L    /* --queue upper bound */
#define LIM_SERVE_API_KEYS 64          /* API keys accepted at once */
#define LIM_SERVE_API_KEY_LEN 256      /* one API key */
#define LIM_SERVE_GC_INTERVAL_S 60L    /* TTL sweep period of a running server */
#define LIM_SERVE_KILL_GRACE_MS 15000L /* past wall + fetch time before a worker is killed */
#define LIM_SERVE_DRAIN_EXTRA_MS 5000L /* shutdown: time to send the last responses */
#define LIM_SERVE_CONN_TIMEOUT_S 120U  /* idle HTTP connection */
#define LIM_SERVE_CONNECTIONS 1024U    /* open HTTP connections */
#define LIM_SERVE_PATH_LOG 200         /* characters of a path kept for the access log */
#define LIM_SERVE_RETRY_AFTER_S 1      /* Retry-After of a 503 */
#define LIM_SERVE_DISCARD_BYTES (1L * 1024 * 1024)  /* chunked body read past the cap for a 413 */
#define LIM_BATCH_LINE_BYTES LIM_REQUEST_BYTES      /* one JSON Lines request */
#define LIM_BATCH_INPUTS 1000000L                   /* inputs of one batch run */
#define LIM_BATCH_OUTPUT_BYTES (256L * 1000 * 1000) /* one result line */

/* kiln mcp (src/srv_mcp.c). */
#define LIM_MCP_LINE_BYTES (LIM_REQUEST_BYTES + 1024L * 1024) /* one JSON-RPC message */
#define LIM_MCP_PROGRESS_MS 1000L                             /* period of progress notifications */
#define LIM_MCP_QUEUE 256L                                    /* tool calls waiting for a worker */
#define LIM_MCP_WORKERS_MAX 256L                              /* --workers upper bound */
#define LIM_MCP_LEAVE_WAIT_MS 5000L               /* at exit: answered workers still cleaning up */
#define LIM_MCP_IMAGES 4                          /* PNG outputs inlined as image content */
#define LIM_MCP_IMAGE_BYTES (1024L * 1024)        /* largest PNG inlined */
#define LIM_MCP_RESOURCES 1000L                   /* output files remembered for resources/list */
#define LIM_MCP_ENVELOPE_EXTRA (4L * 1024 * 1024) /* envelope beyond returnValue and stdio */
#define LIM_MCP_KILL_GRACE_MS 15000L      /* past wall + fetch time before a worker is killed */
#define LIM_MCP_STRAY_CHECK_MS 5000L      /* look for orphans this long after a kill */
#define LIM_MCP_KEEP_BYTES (1024L * 1024) /* input buffer kept between messages */
