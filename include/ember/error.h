/* Error reporting: functions return 0 or -errno; the place that detects an
 * error records one line of context with err_set(), the place that handles it
 * prints err_msg(). The message is per thread. */
#ifndef EMBER_ERROR_H
#define EMBER_ERROR_H

/* Record a message for the current thread and return -errnum. */
int err_set(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("loading kernel: ...");
 * returns -errnum. */
int err_wrap(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" if none). */
const char *err_msg(void);
void err_clear(void);

#endif
