/* A newc ("070701") cpio archive built in memory: what the kernel unpacks
 * as an initramfs. Deterministic (mtime 0, uid/gid 0, inode numbers in
 * order of addition): the same files give the same bytes, so an archive
 * can be cached by its inputs. Names are stored without a leading '/';
 * parent directories are the caller's (add them first). No compression. */
#ifndef EMBER_CPIO_H
#define EMBER_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cpio {
	uint8_t *buf;
	size_t len, cap;
	uint32_t ino;
	int err; /* first error (-ENOMEM, -EINVAL); later adds do nothing */
};

void cpio_init(struct cpio *c);
void cpio_free(struct cpio *c);
/* Each returns 0 or -errno (also kept in c->err). mode: permission bits. */
int cpio_add_dir(struct cpio *c, const char *name, mode_t mode);
int cpio_add_file(struct cpio *c, const char *name, mode_t mode, const void *data, size_t len);
int cpio_add_symlink(struct cpio *c, const char *name, const char *target);
/* A character device node (e.g. dev/console 5:1). */
int cpio_add_chardev(struct cpio *c, const char *name, mode_t mode, unsigned major, unsigned minor);
/* The trailer; then c->buf/c->len is the archive. */
int cpio_finish(struct cpio *c);

#endif
