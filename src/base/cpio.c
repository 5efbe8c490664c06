/* newc cpio writer (see cpio.h). */
#include "ember/cpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HDR_LEN 110
/* The newc format stores sizes in 8 hex digits. */
#define MAX_FIELD 0xffffffffULL

void cpio_init(struct cpio *c)
{
	memset(c, 0, sizeof(*c));
}

void cpio_free(struct cpio *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static int reserve(struct cpio *c, size_t more)
{
	size_t cap = c->cap ? c->cap : 64 * 1024;
	uint8_t *nb;

	if (more > SIZE_MAX - c->len)
		return -ENOMEM;
	while (cap < c->len + more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	if (cap == c->cap)
		return 0;
	nb = realloc(c->buf, cap);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

static void pad4(struct cpio *c)
{
	while (c->len % 4)
		c->buf[c->len++] = 0;
}

/* One entry: header, name (NUL-terminated), pad, data, pad. */
static int add(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t len,
	       unsigned rmaj, unsigned rmin)
{
	size_t nlen;
	int r;

	if (c->err)
		return c->err;
	while (name[0] == '/')
		name++;
	nlen = strlen(name) + 1;
	if (nlen == 1 || nlen > 4096 || len > MAX_FIELD)
		return c->err = -EINVAL;
	if ((r = reserve(c, HDR_LEN + nlen + 3 + len + 3)) < 0)
		return c->err = r;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	snprintf((char *)c->buf + c->len, HDR_LEN + 1,
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", ++c->ino, mode, 0,
		 0, S_ISDIR(mode) ? 2 : 1, 0, (unsigned)len, 0, 0, rmaj, rmin, nlen, 0);
	c->len += HDR_LEN;
	memcpy(c->buf + c->len, name, nlen);
	c->len += nlen;
	pad4(c);
	if (len)
		memcpy(c->buf + c->len, data, len);
	c->len += len;
	pad4(c);
	return 0;
}

int cpio_add_dir(struct cpio *c, const char *name, mode_t mode)
{
	return add(c, name, S_IFDIR | (mode & 07777), NULL, 0, 0, 0);
}

int cpio_add_file(struct cpio *c, const char *name, mode_t mode, const void *data, size_t len)
{
	return add(c, name, S_IFREG | (mode & 07777), data, len, 0, 0);
}

int cpio_add_symlink(struct cpio *c, const char *name, const char *target)
{
	return add(c, name, S_IFLNK | 0777, target, strlen(target), 0, 0);
}

int cpio_add_chardev(struct cpio *c, const char *name, mode_t mode, unsigned major, unsigned minor)
{
	return add(c, name, S_IFCHR | (mode & 07777), NULL, 0, major, minor);
}

int cpio_finish(struct cpio *c)
{
	return add(c, "TRAILER!!!", 0, NULL, 0, 0, 0);
}
