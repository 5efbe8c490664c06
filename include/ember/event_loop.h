/* The VMM thread's epoll loop with subscribers (fd + handler). */
#ifndef EMBER_EVENT_LOOP_H
#define EMBER_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*el_handler_fn)(void *opaque, int fd, uint32_t events);

struct el_sub;

struct event_loop {
	int epfd;
	struct el_sub *subs; /* list of live subscriptions */
	struct el_sub *dead; /* removed during dispatch, freed after it */
	bool dispatching;
};

int el_init(struct event_loop *el);
void el_destroy(struct event_loop *el);
/* events: EPOLLIN/EPOLLOUT/...; -EEXIST if fd already added. */
int el_add(struct event_loop *el, int fd, uint32_t events, el_handler_fn fn, void *opaque);
int el_modify(struct event_loop *el, int fd, uint32_t events);
/* Safe to call from inside a handler (even for the fd being dispatched). */
int el_remove(struct event_loop *el, int fd);
/* Wait up to timeout_ms (-1 forever) and dispatch; returns number of events
 * dispatched or -errno (EINTR is swallowed and returns 0). */
int el_run_once(struct event_loop *el, int timeout_ms);

#endif
