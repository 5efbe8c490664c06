/* API server fairness (src/api/server.c) with short timeouts: a request
 * that never completes is closed at the request deadline, an idle
 * connection at the idle timeout, and a full table evicts the connection
 * silent for longest (after its grace period) for a newcomer. Every wait is
 * poll() on the client socket with a bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ember/api_server.h"
#include "ember/event_loop.h"

struct fixture {
	char dir[64];
	char path[96];
	struct event_loop el;
	struct api_server *srv;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void no_dispatch(void *opaque, struct api_request *req, struct api_response *resp)
{
	(void)opaque;
	(void)req;
	(void)resp;
	fail_msg("no request is meant to reach the VMM thread here");
}

static int start(void **state, unsigned request_ms, unsigned idle_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct api_server_opts o = {
	    .dispatch = no_dispatch,
	    .request_timeout_ms = request_ms,
	    .idle_timeout_ms = idle_ms,
	};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ember-api-unit.XXXXXX");
	if (!mkdtemp(f->dir) || el_init(&f->el) < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	o.socket_path = f->path;
	if (api_server_start(&o, &f->el, &f->srv) < 0)
		return -1;
	*state = f;
	return 0;
}

static int setup_short(void **state)
{
	return start(state, 300, 600);
}

static int setup_long(void **state)
{
	return start(state, 30000, 30000);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	api_server_stop(f->srv);
	el_destroy(&f->el);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(const struct fixture *f)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Wait up to timeout_ms for the server to close fd: true on EOF. */
static bool closed_within(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static void test_request_deadline(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	uint64_t t0 = now_ms();
	static const char part[] = "GET / HTTP/1.1\r\nHost: x";

	assert_int_equal(send(fd, part, sizeof(part) - 1, 0), sizeof(part) - 1);
	assert_true(closed_within(fd, 5000));
	assert_true(now_ms() - t0 >= 300);
	close(fd);
}

static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	uint64_t t0 = now_ms();

	assert_true(closed_within(fd, 5000));
	assert_true(now_ms() - t0 >= 600);
	close(fd);
}

static void test_full_table_evicts_oldest(void **state)
{
	struct fixture *f = *state;
	int fds[API_MAX_CLIENTS], extra;
	struct pollfd p[API_MAX_CLIENTS];

	for (int i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = client(f);
	/* the server has taken all of them once the oldest has had time */
	extra = client(f);
	/* the newcomer takes the place of the oldest, after its grace */
	assert_true(closed_within(fds[0], 5000));
	for (int i = 1; i < API_MAX_CLIENTS; i++)
		p[i - 1] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	assert_int_equal(poll(p, API_MAX_CLIENTS - 1, 0), 0);
	close(fds[0]);
	for (int i = 1; i < API_MAX_CLIENTS; i++)
		close(fds[i]);
	close(extra);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_request_deadline, setup_short, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_timeout, setup_short, teardown),
	    cmocka_unit_test_setup_teardown(test_full_table_evicts_oldest, setup_long, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
