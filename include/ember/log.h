/* Leveled logger to stderr or a file/FIFO. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "Error", "Warning", "Info", "Debug" (Firecracker names, any case) or
 * "error"/"warn"/... ; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/* Send log lines to PATH (opened O_APPEND|O_NONBLOCK; a FIFO works). */
int log_open(const char *path);
/* Prefix for every line (the instance id). */
void log_set_id(const char *id);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
