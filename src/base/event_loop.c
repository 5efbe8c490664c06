/* epoll loop with subscribers; removal during dispatch is deferred. */
#include "ember/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct el_sub {
	int fd;
	el_handler_fn fn;
	void *opaque;
	bool removed;
	struct el_sub *next;
};

int el_init(struct event_loop *el)
{
	el->subs = NULL;
	el->dead = NULL;
	el->dispatching = false;
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	return el->epfd < 0 ? -errno : 0;
}

static void free_list(struct el_sub *s)
{
	while (s) {
		struct el_sub *n = s->next;
		free(s);
		s = n;
	}
}

void el_destroy(struct event_loop *el)
{
	free_list(el->subs);
	free_list(el->dead);
	el->subs = el->dead = NULL;
	if (el->epfd >= 0)
		close(el->epfd);
	el->epfd = -1;
}

static struct el_sub *find(struct event_loop *el, int fd, struct el_sub ***link)
{
	for (struct el_sub **pp = &el->subs; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

int el_add(struct event_loop *el, int fd, uint32_t events, el_handler_fn fn, void *opaque)
{
	struct epoll_event ev = {.events = events};
	struct el_sub *s;

	if (find(el, fd, NULL))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct el_sub){.fd = fd, .fn = fn, .opaque = opaque, .next = el->subs};
	ev.data.ptr = s;
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(s);
		return -e;
	}
	el->subs = s;
	return 0;
}

int el_modify(struct event_loop *el, int fd, uint32_t events)
{
	struct el_sub *s = find(el, fd, NULL);
	struct epoll_event ev = {.events = events};

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	return epoll_ctl(el->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int el_remove(struct event_loop *el, int fd)
{
	struct el_sub **link, *s = find(el, fd, &link);

	if (!s)
		return -ENOENT;
	epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
	*link = s->next;
	if (el->dispatching) {
		s->removed = true;
		s->next = el->dead;
		el->dead = s;
	} else {
		free(s);
	}
	return 0;
}

int el_run_once(struct event_loop *el, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(el->epfd, evs, 32, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	el->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct el_sub *s = evs[i].data.ptr;
		if (!s->removed)
			s->fn(s->opaque, s->fd, evs[i].events);
	}
	el->dispatching = false;
	free_list(el->dead);
	el->dead = NULL;
	return n;
}
