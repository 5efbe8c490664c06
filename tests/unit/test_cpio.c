/* The newc cpio writer: every field as the kernel's initramfs unpacker
 * reads it (parsed back here), 4-byte alignment of names and data, the
 * trailer, deterministic output, errors that stick; and GNU cpio lists the
 * archive as written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/cpio.h"

struct entry {
	uint32_t ino, mode, nlink, size, rmaj, rmin, namesize;
	const char *name;
	const uint8_t *data;
};

static uint32_t hex8(const uint8_t *p)
{
	char b[9];

	memcpy(b, p, 8);
	b[8] = 0;
	return (uint32_t)strtoul(b, NULL, 16);
}

/* Parse the entry at *off (advancing it); 0 or -1 if malformed. */
static int next(const struct cpio *c, size_t *off, struct entry *e)
{
	const uint8_t *h = c->buf + *off;

	if (*off + 110 > c->len || memcmp(h, "070701", 6) != 0)
		return -1;
	e->ino = hex8(h + 6);
	e->mode = hex8(h + 14);
	e->nlink = hex8(h + 38);
	e->size = hex8(h + 54);
	e->rmaj = hex8(h + 78);
	e->rmin = hex8(h + 86);
	e->namesize = hex8(h + 94);
	assert_int_equal(hex8(h + 22), 0); /* uid */
	assert_int_equal(hex8(h + 30), 0); /* gid */
	assert_int_equal(hex8(h + 46), 0); /* mtime */
	e->name = (const char *)h + 110;
	assert_int_equal(strlen(e->name) + 1, e->namesize);
	*off += (110 + e->namesize + 3) & ~3UL;
	e->data = c->buf + *off;
	*off += (e->size + 3) & ~3UL;
	return *off <= c->len ? 0 : -1;
}

static void build(struct cpio *c)
{
	static const char data[] = "hello, initramfs\n";

	cpio_init(c);
	assert_int_equal(cpio_add_dir(c, "/dev", 0755), 0);
	assert_int_equal(cpio_add_chardev(c, "dev/console", 0600, 5, 1), 0);
	assert_int_equal(cpio_add_dir(c, "bin", 0755), 0);
	assert_int_equal(cpio_add_file(c, "/bin/hello", 0755, data, sizeof(data) - 1), 0);
	assert_int_equal(cpio_add_file(c, "empty", 0644, NULL, 0), 0);
	assert_int_equal(cpio_add_symlink(c, "bin/sh", "hello"), 0);
	assert_int_equal(cpio_finish(c), 0);
}

static void test_fields(void **state)
{
	struct cpio c;
	struct entry e;
	size_t off = 0;

	(void)state;
	build(&c);
	assert_int_equal(c.len % 4, 0);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "dev"); /* no leading '/' */
	assert_int_equal(e.mode, S_IFDIR | 0755);
	assert_int_equal(e.nlink, 2);
	assert_int_equal(e.ino, 1);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "dev/console");
	assert_int_equal(e.mode, S_IFCHR | 0600);
	assert_int_equal(e.rmaj, 5);
	assert_int_equal(e.rmin, 1);
	assert_int_equal(e.ino, 2);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "bin");
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "bin/hello");
	assert_int_equal(e.mode, S_IFREG | 0755);
	assert_int_equal(e.size, 17);
	assert_memory_equal(e.data, "hello, initramfs\n", 17);
	assert_int_equal((e.data - c.buf) % 4, 0);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "empty");
	assert_int_equal(e.size, 0);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "bin/sh");
	assert_int_equal(e.mode, S_IFLNK | 0777);
	assert_int_equal(e.size, 5);
	assert_memory_equal(e.data, "hello", 5);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_string_equal(e.name, "TRAILER!!!");
	assert_int_equal(off, c.len);
	cpio_free(&c);
}

static void test_deterministic(void **state)
{
	struct cpio a, b;

	(void)state;
	build(&a);
	build(&b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	cpio_free(&a);
	cpio_free(&b);
}

static void test_errors_stick(void **state)
{
	struct cpio c;

	(void)state;
	cpio_init(&c);
	assert_int_equal(cpio_add_dir(&c, "/", 0755), -EINVAL); /* empty name */
	assert_int_equal(cpio_add_file(&c, "ok", 0644, "x", 1), -EINVAL);
	assert_int_equal(cpio_finish(&c), -EINVAL);
	cpio_free(&c);
}

/* A large file makes the buffer grow several times. */
static void test_growth(void **state)
{
	size_t n = 3 * 1024 * 1024 + 5;
	uint8_t *big = malloc(n);
	struct cpio c;
	struct entry e;
	size_t off = 0;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7);
	cpio_init(&c);
	assert_int_equal(cpio_add_file(&c, "big", 0644, big, n), 0);
	assert_int_equal(cpio_finish(&c), 0);
	assert_int_equal(next(&c, &off, &e), 0);
	assert_int_equal(e.size, n);
	assert_memory_equal(e.data, big, n);
	cpio_free(&c);
	free(big);
}

/* GNU cpio (make setup installs it) reads the archive. */
static void test_gnu_cpio_reads_it(void **state)
{
	char path[] = "/tmp/ember-test-cpio-XXXXXX", cmd[256], out[1024] = "";
	struct cpio c;
	FILE *f;
	size_t n;
	int fd;

	(void)state;
	build(&c);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, c.buf, c.len), (ssize_t)c.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cpio --quiet -it < %s 2>&1", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	assert_int_equal(pclose(f), 0);
	unlink(path);
	assert_string_equal(out, "dev\ndev/console\nbin\nbin/hello\nempty\nbin/sh\n");
	cpio_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_errors_stick),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_gnu_cpio_reads_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
