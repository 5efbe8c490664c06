/* One-shot runs whose stdin is not a terminal: ember's stdin to CMD over
 * virtio-vsock (oneshot_abi.h). The init connects to host port
 * ONESHOT_STDIN_PORT, which the vsock device turns into a connect to
 * "<uds_path>_<port>": ember listens there itself, takes the one
 * connection, copies its stdin into it (a pipe as it becomes readable; a
 * file or /dev/null, which epoll refuses, whenever the socket has room) and
 * shuts its sending side down at the end: the vsock device tells the guest
 * (SHUTDOWN), and CMD reads EOF. The socket's buffer and vsock's credit are
 * the flow control: nothing is dropped, nothing waits on a timer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "ember/oneshot_abi.h"
#include "vm_priv.h"

#define STDIN_BUF (64 * 1024)

struct oneshot_stdin {
	struct vm *vm;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, conn_fd;
	bool in_watched, out_watched; /* stdin / the stream in the event loop */
	bool in_pollable;	      /* stdin can be watched (not a file) */
	bool eof;		      /* stdin ended (or failed) */
	bool done;		      /* the stream is shut down (or the guest left) */
	int saved_flags;	      /* stdin's file status flags */
	size_t off, len;
	uint8_t buf[STDIN_BUF];
};

static void pump(struct oneshot_stdin *s);

static void in_event(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	pump(opaque);
}

static void out_event(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	pump(opaque);
}

/* Wait for stdin (want_in) or for room in the stream (!want_in). */
static void wait_for(struct oneshot_stdin *s, bool want_in)
{
	if (want_in && !s->in_watched && s->in_pollable) {
		if (el_add(s->vm->el, STDIN_FILENO, EPOLLIN, in_event, s) == 0)
			s->in_watched = true;
	} else if (!want_in && s->in_watched) {
		el_remove(s->vm->el, STDIN_FILENO);
		s->in_watched = false;
	}
	if (!want_in && !s->out_watched) {
		if (el_add(s->vm->el, s->conn_fd, EPOLLOUT, out_event, s) == 0)
			s->out_watched = true;
	} else if (want_in && s->out_watched) {
		el_remove(s->vm->el, s->conn_fd);
		s->out_watched = false;
	}
}

static void finish(struct oneshot_stdin *s)
{
	if (s->in_watched)
		el_remove(s->vm->el, STDIN_FILENO);
	if (s->out_watched)
		el_remove(s->vm->el, s->conn_fd);
	s->in_watched = s->out_watched = false;
	s->done = true;
}

static void pump(struct oneshot_stdin *s)
{
	while (!s->done) {
		ssize_t n;

		if (s->len == 0 && !s->eof) {
			n = read(STDIN_FILENO, s->buf, sizeof(s->buf));
			if (n > 0) {
				s->off = 0;
				s->len = (size_t)n;
			} else if (n == 0) {
				s->eof = true;
			} else if (errno == EAGAIN) {
				wait_for(s, true);
				return;
			} else if (errno != EINTR) {
				log_warn("one-shot: reading stdin: %s; the command sees its end",
					 strerror(errno));
				s->eof = true;
			}
			continue;
		}
		if (s->len) {
			n = send(s->conn_fd, s->buf + s->off, s->len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				s->off += (size_t)n;
				s->len -= (size_t)n;
			} else if (n < 0 && errno == EAGAIN) {
				wait_for(s, false);
				return;
			} else if (n < 0 && errno != EINTR) {
				/* the command closed its stdin: the rest is not wanted */
				finish(s);
			}
			continue;
		}
		/* stdin ended and all of it is in the stream */
		shutdown(s->conn_fd, SHUT_WR);
		finish(s);
	}
}

static void listen_event(void *opaque, int fd, uint32_t events)
{
	struct oneshot_stdin *s = opaque;
	int c;

	(void)events;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return; /* EAGAIN, or the connect went away: the next event says */
	/* one stream: the listener goes (a second connect is refused) */
	el_remove(s->vm->el, fd);
	close(fd);
	s->listen_fd = -1;
	unlink(s->path);
	s->conn_fd = c;
	pump(s);
}

int oneshot_stdin_open(struct vm *vm, const char *uds_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct oneshot_stdin *s;
	int r, n;

	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(ENOMEM, "out of memory");
	s->vm = vm;
	s->listen_fd = s->conn_fd = -1;
	s->saved_flags = -1;
	n = snprintf(s->path, sizeof(s->path), "%s_%u", uds_path, ONESHOT_STDIN_PORT);
	if (n < 0 || (size_t)n >= sizeof(s->path)) {
		free(s);
		return err_set(ENAMETOOLONG, "one-shot stdin: %s_%u: path too long", uds_path,
			       ONESHOT_STDIN_PORT);
	}
	memcpy(sa.sun_path, s->path, (size_t)n + 1);
	vm->oneshot_stdin = s;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return err_set(errno, "one-shot stdin: socket: %s", strerror(errno));
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno;
		close(s->listen_fd);
		s->listen_fd = -1;
		return err_set(r, "one-shot stdin: %s: %s", s->path, strerror(r));
	}
	if (listen(s->listen_fd, 1) < 0 ||
	    (r = el_add(vm->el, s->listen_fd, EPOLLIN, listen_event, s)) < 0)
		return err_set(errno, "one-shot stdin: listening on %s: %s", s->path,
			       strerror(errno));
	/* a pipe without blocking; a file or /dev/null (epoll refuses them)
	 * is read whenever the stream has room */
	s->saved_flags = fcntl(STDIN_FILENO, F_GETFL);
	if (s->saved_flags >= 0)
		fcntl(STDIN_FILENO, F_SETFL, s->saved_flags | O_NONBLOCK);
	r = el_add(vm->el, STDIN_FILENO, EPOLLIN, in_event, s);
	if (r == 0)
		el_remove(vm->el, STDIN_FILENO);
	s->in_pollable = r == 0;
	if (r < 0 && r != -EPERM)
		return err_set(-r, "one-shot stdin: watching stdin: %s", strerror(-r));
	return 0;
}

void oneshot_stdin_close(struct vm *vm)
{
	struct oneshot_stdin *s = vm->oneshot_stdin;

	if (!s)
		return;
	finish(s);
	if (s->listen_fd >= 0) {
		el_remove(vm->el, s->listen_fd);
		close(s->listen_fd);
		unlink(s->path);
	}
	if (s->conn_fd >= 0)
		close(s->conn_fd);
	if (s->saved_flags >= 0)
		fcntl(STDIN_FILENO, F_SETFL, s->saved_flags);
	free(s);
	vm->oneshot_stdin = NULL;
}
