/* The API server: a Unix socket listener on its own thread. It accepts
 * several clients at once (poll), parses HTTP/1.1 with keep-alive and
 * pipelining, routes each request (src/api/api_routes.c) and posts the typed
 * request to the VMM thread through an eventfd mailbox, then waits for the
 * reply. Clients that connect and say nothing, or vanish mid-request, cost
 * a file descriptor and never reach the VMM thread.
 *
 * Fairness (docs/ARCHITECTURE.md, "API server limits"): at most
 * API_MAX_CLIENTS connections; when the table is full a newcomer is still
 * accepted and the idle connection silent for longest is closed (else the
 * incomplete request that started first, else the client slowest to take
 * its answer), but no client before API_EVICT_GRACE_MS: until then
 * newcomers wait in the listen backlog. A request must be complete within the request timeout of
 * its first byte and its answer taken within it; an idle keep-alive connection is closed after the
 * idle timeout. Out of file descriptors, a client is evicted to make room, or the listener rests
 * API_ACCEPT_BACKOFF_MS. */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <stddef.h>

#include "ember/api_routes.h"
#include "ember/event_loop.h"

#define API_MAX_CLIENTS 64
#define API_REQUEST_TIMEOUT_MS 5000 /* head + body, and taking the answer */
#define API_IDLE_TIMEOUT_MS 60000   /* keep-alive connection with nothing to do */
#define API_ACCEPT_BACKOFF_MS 100   /* accept4 failed with EMFILE/ENFILE/... */
#define API_ACCEPT_BATCH 16	    /* newcomers per poll round */
#define API_EVICT_GRACE_MS 100	    /* a new client is not evicted before this */

/* Runs on the VMM thread (from the event loop) for each routed request. */
typedef void (*api_dispatch_fn)(void *opaque, struct api_request *req, struct api_response *resp);

struct api_server;

struct api_server_opts {
	const char *socket_path;
	size_t max_body;	     /* 0: HTTP_MAX_BODY */
	unsigned request_timeout_ms; /* 0: API_REQUEST_TIMEOUT_MS */
	unsigned idle_timeout_ms;    /* 0: API_IDLE_TIMEOUT_MS */
	api_dispatch_fn dispatch;
	void *opaque;
	/* Called on the API thread before it accepts the first client (e.g. to
	 * install its seccomp filter); a negative return stops the server. */
	int (*thread_init)(void *opaque);
};

/* Binds and listens (the socket path must not exist: -EEXIST with a clear
 * message), registers the mailbox on el and starts the thread. */
int api_server_start(const struct api_server_opts *opts, struct event_loop *el,
		     struct api_server **out);
/* Stops the thread, closes every client, removes the socket file. */
void api_server_stop(struct api_server *s);

#endif
