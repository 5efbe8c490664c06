/* Leveled logger to stderr or a file/FIFO. Logging never blocks: a line
 * that does not fit (a full pipe nobody reads) is dropped and counted
 * (log.c explains how stderr is made non-blocking without affecting the
 * processes that share it). */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "Error", "Warning", "Info", "Debug", "Trace", "Off" (Firecracker
 * names, any case) or "error"/"warn"/... ; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/* Send log lines to PATH (opened O_APPEND|O_NONBLOCK; a FIFO works). */
int log_open(const char *path);
/* Lines dropped (the destination was full, or took part of the line) /
 * writes that failed otherwise, since the previous call; for the metrics'
 * logger.missed_log_count / log_fails. */
uint64_t log_take_missed(void);
uint64_t log_take_failed(void);
/* Once at start-up, before any thread exists: stderr a pipe, FIFO, terminal
 * or socket gets a non-blocking open file description of ember's own
 * (log.c). */
void log_private_stderr(void);
/* True when log lines go to a non-blocking descriptor of ember's own. */
bool log_nonblocking(void);
/* Prefix for every line (the instance id). */
void log_set_id(const char *id);
/* The calling thread's name in its lines (default "main"). */
void log_set_thread_name(const char *name);
/* Firecracker's logger options: show the level / the file:line of origin in
 * each line; only log lines whose source file path contains module (NULL:
 * all). */
void log_set_format(bool show_level, bool show_origin);
int log_set_module(const char *module);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_msg_at(enum log_level lvl, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(...) log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
