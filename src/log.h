/*
 * log: diagnostics on stderr (never stdout, which carries JSON).
 *
 * The level comes from KILN_LOG (error, warn, info, debug; default warn).
 * Messages never hold secrets, tokens or signed URLs. Thread-safe (one
 * write(2) per message); not async-signal-safe.
 */
#pragma once

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(void);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
