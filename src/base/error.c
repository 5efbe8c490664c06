#include "ember/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_LEN 512

static __thread char err_buf[ERR_LEN];

int err_set(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_wrap(int errnum, const char *fmt, ...)
{
	char old[ERR_LEN];
	va_list ap;
	int n;

	memcpy(old, err_buf, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(err_buf) - 2)
		return -errnum;
	err_buf[n++] = ':';
	err_buf[n++] = ' ';
	{
		const char *tail = old[0] ? old : strerror(errnum);
		size_t room = sizeof(err_buf) - (size_t)n - 1, tl = strlen(tail);

		if (tl > room)
			tl = room;
		memcpy(err_buf + n, tail, tl);
		err_buf[(size_t)n + tl] = '\0';
	}
	return -errnum;
}

const char *err_msg(void)
{
	return err_buf;
}

void err_clear(void)
{
	err_buf[0] = '\0';
}
