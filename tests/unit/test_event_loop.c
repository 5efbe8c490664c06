/* VMM event loop (event_loop.c): subscriptions, dispatch, and removing
 * subscriptions from inside handlers (ASan catches a use after free). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ember/event_loop.h"

struct sub {
	struct event_loop *el;
	int fd;
	int calls;
	uint32_t last_events;
	int last_fd;
	/* what the handler does */
	int remove_fd; /* el_remove() this fd (-1: nothing) */
	int remove_ret;
	bool drain;	   /* read the eventfd */
	struct sub *readd; /* el_add() this subscription again */
	int readd_ret;
};

static void handler(void *opaque, int fd, uint32_t events)
{
	struct sub *s = opaque;
	uint64_t v;

	s->calls++;
	s->last_fd = fd;
	s->last_events = events;
	if (s->drain)
		assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	if (s->remove_fd >= 0)
		s->remove_ret = el_remove(s->el, s->remove_fd);
	if (s->readd)
		s->readd_ret = el_add(s->el, s->readd->fd, EPOLLIN, handler, s->readd);
}

static int new_efd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	return fd;
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void test_add_dispatch_remove(void **state)
{
	struct event_loop el;
	struct sub a = {.el = &el, .remove_fd = -1, .drain = true};
	int p[2];

	(void)state;
	assert_int_equal(el_init(&el), 0);
	a.fd = new_efd();
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), 0);
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), -EEXIST);

	/* nothing ready: the timeout expires and nothing is dispatched */
	assert_int_equal(el_run_once(&el, 0), 0);
	assert_int_equal(el_run_once(&el, 20), 0);
	assert_int_equal(a.calls, 0);

	kick(a.fd);
	assert_int_equal(el_run_once(&el, 1000), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_fd, a.fd);
	assert_true(a.last_events & EPOLLIN);
	/* drained: level-triggered loop is quiet again */
	assert_int_equal(el_run_once(&el, 0), 0);

	assert_int_equal(el_remove(&el, a.fd), 0);
	assert_int_equal(el_remove(&el, a.fd), -ENOENT);
	kick(a.fd);
	assert_int_equal(el_run_once(&el, 0), 0);
	assert_int_equal(a.calls, 1);
	/* the fd can be added again after removal */
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), 0);
	assert_int_equal(el_run_once(&el, 1000), 1);
	assert_int_equal(a.calls, 2);

	/* fds epoll refuses leave nothing behind */
	assert_int_equal(el_add(&el, -1, EPOLLIN, handler, &a), -EBADF);
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	close(p[0]);
	assert_int_equal(el_add(&el, p[0], EPOLLIN, handler, &a), -EBADF);
	assert_int_equal(el_remove(&el, p[0]), -ENOENT);
	{
		int f = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		assert_true(f >= 0);
		assert_int_equal(el_add(&el, f, EPOLLIN, handler, &a), -EPERM);
		assert_int_equal(el_modify(&el, f, EPOLLIN), -ENOENT);
		close(f);
	}
	el_destroy(&el); /* frees the live subscription (LeakSanitizer checks) */
	assert_int_equal(el.epfd, -1);
	close(a.fd);
}

static void test_modify(void **state)
{
	struct event_loop el;
	struct sub a = {.el = &el, .remove_fd = -1};
	int p[2];

	(void)state;
	assert_int_equal(el_init(&el), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	a.fd = p[1];
	/* the write end of an empty pipe is writable at once, never readable */
	assert_int_equal(el_add(&el, p[1], EPOLLIN, handler, &a), 0);
	assert_int_equal(el_run_once(&el, 0), 0);
	assert_int_equal(el_modify(&el, p[1], EPOLLOUT), 0);
	assert_int_equal(el_run_once(&el, 1000), 1);
	assert_int_equal(a.calls, 1);
	assert_true(a.last_events & EPOLLOUT);
	assert_int_equal(el_modify(&el, p[1], 0), 0);
	assert_int_equal(el_run_once(&el, 0), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(el_modify(&el, p[0], EPOLLIN), -ENOENT);
	el_destroy(&el);
	close(p[0]);
	close(p[1]);
}

static void test_remove_self_in_handler(void **state)
{
	struct event_loop el;
	struct sub a = {.el = &el};

	(void)state;
	assert_int_equal(el_init(&el), 0);
	a.fd = new_efd();
	a.remove_fd = a.fd;
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), 0);
	kick(a.fd);
	assert_int_equal(el_run_once(&el, 1000), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.remove_ret, 0);
	/* still readable (not drained) but no longer subscribed */
	a.remove_fd = -1;
	assert_int_equal(el_run_once(&el, 0), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(el_remove(&el, a.fd), -ENOENT);
	el_destroy(&el);
	close(a.fd);
}

static void test_remove_other_in_handler(void **state)
{
	struct event_loop el;
	struct sub a = {.el = &el}, b = {.el = &el};

	(void)state;
	assert_int_equal(el_init(&el), 0);
	a.fd = new_efd();
	b.fd = new_efd();
	a.remove_fd = b.fd;
	b.remove_fd = a.fd;
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), 0);
	assert_int_equal(el_add(&el, b.fd, EPOLLIN, handler, &b), 0);
	kick(a.fd);
	kick(b.fd);
	/* both are ready in the same epoll_wait; whichever runs first removes
	 * the other, whose pending event must then be skipped */
	assert_int_equal(el_run_once(&el, 1000), 2);
	assert_int_equal(a.calls + b.calls, 1);
	if (a.calls)
		assert_int_equal(a.remove_ret, 0);
	else
		assert_int_equal(b.remove_ret, 0);
	/* the survivor is still subscribed and still ready */
	a.remove_fd = b.remove_fd = -1;
	assert_int_equal(el_run_once(&el, 1000), 1);
	assert_int_equal(a.calls + b.calls, 2);
	assert_true(a.calls == 2 || b.calls == 2);
	el_destroy(&el);
	close(a.fd);
	close(b.fd);
}

static void test_remove_and_readd_in_handler(void **state)
{
	struct event_loop el;
	struct sub a = {.el = &el}, b = {.el = &el, .remove_fd = -1},
		   b2 = {.el = &el, .remove_fd = -1};
	int b_calls;

	(void)state;
	assert_int_equal(el_init(&el), 0);
	a.fd = new_efd();
	b.fd = b2.fd = new_efd();
	/* a's handler replaces b.fd's subscription (b) with a new one (b2) */
	a.remove_fd = b.fd;
	a.readd = &b2;
	assert_int_equal(el_add(&el, a.fd, EPOLLIN, handler, &a), 0);
	assert_int_equal(el_add(&el, b.fd, EPOLLIN, handler, &b), 0);
	kick(a.fd);
	kick(b.fd);
	assert_int_equal(el_run_once(&el, 1000), 2);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.remove_ret, 0);
	assert_int_equal(a.readd_ret, 0);
	/* b ran only if its event came before a's; b2's subscription is newer
	 * than this batch */
	assert_true(b.calls <= 1);
	assert_int_equal(b2.calls, 0);
	b_calls = b.calls;

	a.remove_fd = -1;
	a.readd = NULL;
	a.drain = true;
	b2.drain = true;
	assert_true(el_run_once(&el, 1000) >= 1);
	/* b.fd now dispatches to the new subscription only */
	assert_int_equal(b.calls, b_calls);
	assert_int_equal(b2.calls, 1);
	assert_int_equal(b2.last_fd, b.fd);
	el_destroy(&el);
	close(a.fd);
	close(b.fd);
}

static void test_many(void **state)
{
	enum { N = 40 }; /* more than one epoll_wait batch (32) */
	struct event_loop el;
	struct sub s[N];
	int total = 0, calls = 0;

	(void)state;
	assert_int_equal(el_init(&el), 0);
	for (int i = 0; i < N; i++) {
		s[i] = (struct sub){.el = &el, .remove_fd = -1, .drain = true};
		s[i].fd = new_efd();
		assert_int_equal(el_add(&el, s[i].fd, EPOLLIN, handler, &s[i]), 0);
		kick(s[i].fd);
	}
	for (int round = 0; round < 4 && total < N; round++) {
		int n = el_run_once(&el, 1000);
		assert_true(n > 0 && n <= 32);
		total += n;
	}
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(s[i].calls, 1);
		calls += s[i].calls;
	}
	assert_int_equal(calls, N);
	/* remove half outside dispatch, destroy frees the rest */
	for (int i = 0; i < N; i += 2)
		assert_int_equal(el_remove(&el, s[i].fd), 0);
	el_destroy(&el);
	for (int i = 0; i < N; i++)
		close(s[i].fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_dispatch_remove),
	    cmocka_unit_test(test_modify),
	    cmocka_unit_test(test_remove_self_in_handler),
	    cmocka_unit_test(test_remove_other_in_handler),
	    cmocka_unit_test(test_remove_and_readd_in_handler),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
