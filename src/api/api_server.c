/* The API thread: Unix socket, clients multiplexed with poll(), requests
 * handed to the VMM thread through an eventfd mailbox. Fairness under abuse
 * (limits and timeouts: api_server.h): every client has a deadline the poll
 * timeout honours; a full table evicts a victim instead of refusing the
 * newcomer; running out of file descriptors evicts or backs off, never
 * spins. */
#include "ember/api_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ember/config_json.h"
#include "ember/error.h"
#include "ember/http.h"
#include "ember/log.h"

#define READ_CHUNK 4096

struct client {
	int fd;
	struct http_parser parser;
	uint8_t *pending; /* input not yet fed (only while output is blocked) */
	size_t pending_len;
	char *out;
	size_t out_len, out_off;
	bool close_after_write;
	bool dead;
	uint64_t last_ms;      /* accepted, or last byte read or written */
	uint64_t req_start_ms; /* first byte of the incomplete request; 0: none */
	uint64_t seq;	       /* accept order: breaks ties between equal times */
	uint64_t accepted_ms;
};

struct api_server {
	int listen_fd, stop_efd, to_vmm_efd, reply_efd;
	char *path;
	struct event_loop *el;
	api_dispatch_fn dispatch;
	void *opaque;
	int (*thread_init)(void *opaque);
	size_t max_body;
	unsigned request_timeout_ms, idle_timeout_ms;
	uint64_t accept_paused_until; /* EMFILE back-off: listen fd not polled */
	bool fd_starved;	      /* logged once per starvation episode */
	uint64_t accepted;	      /* clients accepted so far */
	pthread_t thread;
	bool thread_started;
	struct client *clients[API_MAX_CLIENTS];
	int nclients;
	uint8_t rbuf[READ_CHUNK];
	/* mailbox: one request in flight at a time */
	struct api_request *mb_req;
	struct api_response *mb_resp;
};

/* ---- VMM-thread side ---- */

static void mailbox_event(void *opaque, int fd, uint32_t events)
{
	struct api_server *s = opaque;
	struct api_request *req;
	uint64_t v, one = 1;

	(void)events;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	req = __atomic_load_n(&s->mb_req, __ATOMIC_ACQUIRE);
	if (!req)
		return;
	s->dispatch(s->opaque, req, s->mb_resp);
	__atomic_store_n(&s->mb_req, NULL, __ATOMIC_RELEASE);
	if (write(s->reply_efd, &one, sizeof(one)) != sizeof(one))
		log_error("api: cannot answer the API thread: %s", strerror(errno));
}

/* ---- API-thread side ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Post req to the VMM thread and wait for its answer. False if the server is
 * stopping. */
static bool post_to_vmm(struct api_server *s, struct api_request *req, struct api_response *resp)
{
	struct pollfd pfd[2] = {{.fd = s->reply_efd, .events = POLLIN},
				{.fd = s->stop_efd, .events = POLLIN}};
	uint64_t one = 1, v;

	s->mb_resp = resp;
	__atomic_store_n(&s->mb_req, req, __ATOMIC_RELEASE);
	if (write(s->to_vmm_efd, &one, sizeof(one)) != sizeof(one))
		return false;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		/* The reply first: a request answered just before shutdown (say,
		 * SendCtrlAltDel) still gets its response. */
		if (pfd[0].revents && read(s->reply_efd, &v, sizeof(v)) == sizeof(v) &&
		    !__atomic_load_n(&s->mb_req, __ATOMIC_ACQUIRE))
			return true;
		if (pfd[1].revents)
			return false;
	}
}

static void client_close(struct api_server *s, int i)
{
	struct client *c = s->clients[i];

	close(c->fd);
	http_parser_free(&c->parser);
	free(c->pending);
	free(c->out);
	free(c);
	s->clients[i] = s->clients[--s->nclients];
	s->clients[s->nclients] = NULL;
}

static int queue_bytes(struct client *c, const char *data, size_t len)
{
	char *n;

	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
	}
	n = realloc(c->out, c->out_len + len);
	if (!n)
		return -ENOMEM;
	memcpy(n + c->out_len, data, len);
	c->out = n;
	c->out_len += len;
	return 0;
}

static int queue_response(struct client *c, int status, const char *body, bool keep_alive)
{
	size_t blen = body ? strlen(body) : 0;
	size_t n = http_format_response(NULL, 0, status, body, blen, keep_alive);
	char *buf = malloc(n + 1);
	int r;

	if (!buf)
		return -ENOMEM;
	http_format_response(buf, n + 1, status, body, blen, keep_alive);
	r = queue_bytes(c, buf, n);
	free(buf);
	if (!keep_alive)
		c->close_after_write = true;
	return r;
}

/* Write what we can; marks the client dead on error. */
static void flush_out(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)w;
		c->last_ms = now_ms();
	}
	c->out_off = c->out_len = 0;
	if (c->close_after_write)
		c->dead = true;
}

static bool out_pending(const struct client *c)
{
	return c->out_off < c->out_len;
}

/* Ordered by how readily a client is evicted: an idle one first. */
enum client_state { CLIENT_IDLE, CLIENT_READING, CLIENT_WRITING };

static enum client_state client_state(const struct client *c)
{
	if (out_pending(c) || c->pending)
		return CLIENT_WRITING;
	if (http_parser_busy(&c->parser))
		return CLIENT_READING;
	return CLIENT_IDLE;
}

/* When the client has had its time: a request must arrive whole within the
 * request timeout of its first byte, an answer must be taken within it
 * (counted from the last byte that went out), an idle keep-alive connection
 * lasts the idle timeout. */
static uint64_t client_deadline(const struct api_server *s, const struct client *c)
{
	switch (client_state(c)) {
	case CLIENT_WRITING:
		return c->last_ms + s->request_timeout_ms;
	case CLIENT_READING:
		return c->req_start_ms + s->request_timeout_ms;
	default:
		return c->last_ms + s->idle_timeout_ms;
	}
}

/* The client to drop for a newcomer: the idle one silent for longest, else
 * the incomplete request that started first, else the client that has not
 * taken its answer for longest; only among clients accepted before the
 * seq-th and at least API_EVICT_GRACE_MS ago (every client gets that long
 * to send its request). -1 when there is none. */
static int pick_victim(const struct api_server *s, uint64_t before_seq, uint64_t now)
{
	int best = -1;
	enum client_state best_st = CLIENT_IDLE;
	uint64_t best_t = 0, best_seq = 0;

	for (int i = 0; i < s->nclients; i++) {
		const struct client *c = s->clients[i];
		enum client_state st = client_state(c);
		uint64_t t = st == CLIENT_READING ? c->req_start_ms : c->last_ms;

		if (c->dead)
			return i;
		if (c->seq >= before_seq || now < c->accepted_ms + API_EVICT_GRACE_MS)
			continue;
		if (best < 0 || st < best_st ||
		    (st == best_st && (t < best_t || (t == best_t && c->seq < best_seq)))) {
			best = i;
			best_st = st;
			best_t = t;
			best_seq = c->seq;
		}
	}
	return best;
}

static void handle_request(struct api_server *s, struct client *c)
{
	const struct http_request *h = &c->parser.req;
	struct api_request req;
	struct api_response resp = {0};

	if (api_route(h, &req, &resp) == 0) {
		if (!post_to_vmm(s, &req, &resp)) {
			api_request_free(&req);
			api_response_free(&resp);
			c->dead = true;
			return;
		}
		api_request_free(&req);
	}
	if (!resp.status)
		api_response_fault(&resp, 500, "No response from the VMM.");
	if (queue_response(c, resp.status, resp.body, h->keep_alive) < 0)
		c->dead = true;
	api_response_free(&resp);
}

/* Feed data to the parser, answering every complete request. Stops (and
 * stashes the rest) when output backs up. */
static void consume(struct api_server *s, struct client *c, const uint8_t *data, size_t len)
{
	while (len && !c->dead && !c->close_after_write) {
		size_t used = 0;
		enum http_parse_result r = http_parser_feed(&c->parser, data, len, &used);

		data += used;
		len -= used;
		if (r == HTTP_PARSE_ERROR) {
			char *fault = cfgjson_fault(c->parser.err_msg);

			if (queue_response(c, c->parser.err_status, fault, false) < 0)
				c->dead = true;
			free(fault);
			log_warn("api: bad request: %s", c->parser.err_msg);
			break;
		}
		if (r == HTTP_PARSE_MORE) {
			if (http_parser_wants_continue(&c->parser)) {
				http_parser_continue_sent(&c->parser);
				if (queue_bytes(c, HTTP_CONTINUE_RESPONSE,
						sizeof(HTTP_CONTINUE_RESPONSE) - 1) < 0)
					c->dead = true;
			}
			break;
		}
		handle_request(s, c);
		http_parser_next(&c->parser);
		c->req_start_ms = 0;
		flush_out(c);
		if (out_pending(c))
			break;
	}
	if (len && !c->dead && !c->close_after_write) {
		uint8_t *p = malloc(len);

		if (!p) {
			c->dead = true;
			return;
		}
		memcpy(p, data, len);
		c->pending = p;
		c->pending_len = len;
	}
	flush_out(c);
	if (!http_parser_busy(&c->parser))
		c->req_start_ms = 0;
	else if (!c->req_start_ms)
		c->req_start_ms = now_ms();
}

static void client_readable(struct api_server *s, struct client *c)
{
	ssize_t n = recv(c->fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);

	if (n == 0) {
		c->dead = true; /* closed, possibly mid-request: nothing else to do */
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			c->dead = true;
		return;
	}
	c->last_ms = now_ms();
	consume(s, c, s->rbuf, (size_t)n);
}

static void client_writable(struct api_server *s, struct client *c)
{
	flush_out(c);
	if (!out_pending(c) && !c->dead && c->pending) {
		uint8_t *p = c->pending;
		size_t n = c->pending_len;

		c->pending = NULL;
		c->pending_len = 0;
		consume(s, c, p, n);
		free(p);
	}
}

/* Accept up to API_ACCEPT_BATCH newcomers (then the clients already in get
 * their turn). A full table evicts a victim for each newcomer. Out of file
 * descriptors, accept4 fails and the connection stays queued, so poll would
 * report it again at once: evict a client accepted before this batch to
 * free a descriptor (never one of this batch: it has not had its turn yet);
 * if there is none but this batch took someone, the next round goes on
 * after they had their turn; if the batch took nobody (the descriptors are
 * held elsewhere, or an eviction did not help: another thread took the
 * descriptor), stop polling the listener for API_ACCEPT_BACKOFF_MS. */
static void accept_clients(struct api_server *s)
{
	uint64_t batch = s->accepted;
	bool evicted_for_fd = false;

	for (int k = 0; k < API_ACCEPT_BATCH; k++) {
		int full_victim = -1, fd, v;
		struct client *c;

		/* A full table with every client still in its grace period: the
		 * newcomer waits in the listen backlog (accept_ready_at). */
		if (s->nclients == API_MAX_CLIENTS &&
		    (full_victim = pick_victim(s, UINT64_MAX, now_ms())) < 0)
			return;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			int e = errno;

			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			if ((e == EMFILE || e == ENFILE) && !evicted_for_fd &&
			    (v = pick_victim(s, batch, now_ms())) >= 0) {
				evicted_for_fd = true;
				client_close(s, v);
				continue;
			}
			if ((e == EMFILE || e == ENFILE) && !evicted_for_fd && s->accepted > batch)
				return;
			if (!s->fd_starved)
				log_warn("api: accept: %s; not accepting for %d ms at a time until "
					 "it works again",
					 strerror(e), API_ACCEPT_BACKOFF_MS);
			s->fd_starved = true;
			s->accept_paused_until = now_ms() + API_ACCEPT_BACKOFF_MS;
			return;
		}
		s->fd_starved = false;
		evicted_for_fd = false;
		if (full_victim >= 0 && s->nclients == API_MAX_CLIENTS)
			client_close(s, full_victim);
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_ms = c->accepted_ms = now_ms();
		c->seq = s->accepted++;
		http_parser_init(&c->parser);
		http_parser_set_max_body(&c->parser, s->max_body);
		s->clients[s->nclients++] = c;
	}
}

/* When the listener is to be polled again: after an EMFILE back-off, and
 * with a full table, once a client's grace period is over. */
static uint64_t accept_ready_at(const struct api_server *s)
{
	uint64_t t = s->accept_paused_until, first = UINT64_MAX;

	if (s->nclients < API_MAX_CLIENTS)
		return t;
	for (int i = 0; i < s->nclients; i++) {
		const struct client *c = s->clients[i];

		if (c->dead)
			return t;
		if (c->accepted_ms + API_EVICT_GRACE_MS < first)
			first = c->accepted_ms + API_EVICT_GRACE_MS;
	}
	return first > t ? first : t;
}

/* The poll timeout (ms, -1: none) until the first client deadline or the
 * listener's turn. */
static int poll_timeout(const struct api_server *s, uint64_t now)
{
	uint64_t next = UINT64_MAX, a = accept_ready_at(s);

	if (a > now)
		next = a;
	for (int i = 0; i < s->nclients; i++) {
		uint64_t d = client_deadline(s, s->clients[i]);

		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now >= INT32_MAX ? INT32_MAX : (int)(next - now) + 1;
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;
	struct pollfd pfd[2 + API_MAX_CLIENTS];
	sigset_t all;

	/* Firecracker's name for it (tools find threads by name). */
	pthread_setname_np(pthread_self(), "fc_api");
	log_set_thread_name("fc_api");
	/* Signals are the VMM thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (s->thread_init && s->thread_init(s->opaque) < 0) {
		log_error("api: thread set-up failed: %s", err_msg());
		return NULL;
	}
	for (;;) {
		int n = 2, nc = s->nclients;
		uint64_t now = now_ms();

		pfd[0] = (struct pollfd){.fd = s->stop_efd, .events = POLLIN};
		/* a negative fd is skipped by poll: the accept back-off */
		pfd[1] = (struct pollfd){
		    .fd = accept_ready_at(s) > now ? -1 : s->listen_fd,
		    .events = POLLIN,
		};
		for (int i = 0; i < nc; i++)
			pfd[n++] = (struct pollfd){
			    .fd = s->clients[i]->fd,
			    .events = (short)(out_pending(s->clients[i]) ? POLLOUT : POLLIN),
			};
		if (poll(pfd, (nfds_t)n, poll_timeout(s, now)) < 0) {
			if (errno == EINTR)
				continue;
			log_error("api: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[0].revents)
			break;
		for (int i = 0; i < nc; i++) {
			struct client *c = s->clients[i];
			short re = pfd[2 + i].revents;

			if (!re)
				continue;
			if (re & POLLOUT)
				client_writable(s, c);
			else if (re & (POLLIN | POLLHUP | POLLERR))
				client_readable(s, c);
			if (re & POLLNVAL)
				c->dead = true;
		}
		/* Time is up only for a client that had nothing for us in this
		 * round: bytes that waited while this thread was busy elsewhere
		 * (a long VMM request) are not the client's fault. */
		now = now_ms();
		for (int i = 0; i < nc; i++)
			if (!pfd[2 + i].revents && now >= client_deadline(s, s->clients[i]))
				s->clients[i]->dead = true;
		for (int i = s->nclients - 1; i >= 0; i--)
			if (s->clients[i]->dead)
				client_close(s, i);
		if (pfd[1].revents & POLLIN)
			accept_clients(s);
	}
	return NULL;
}

int api_server_start(const struct api_server_opts *opts, struct event_loop *el,
		     struct api_server **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct api_server *s;
	struct stat st;
	int r;

	*out = NULL;
	if (!opts->socket_path || !*opts->socket_path)
		return err_set(EINVAL, "--api-sock: a socket path is required");
	if (strlen(opts->socket_path) >= sizeof(sun.sun_path))
		return err_set(ENAMETOOLONG, "--api-sock %s: path too long (at most %zu bytes)",
			       opts->socket_path, sizeof(sun.sun_path) - 1);
	if (lstat(opts->socket_path, &st) == 0)
		return err_set(EEXIST, "--api-sock %s: the path already exists (remove it first)",
			       opts->socket_path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(ENOMEM, "out of memory");
	s->listen_fd = s->stop_efd = s->to_vmm_efd = s->reply_efd = -1;
	s->el = el;
	s->dispatch = opts->dispatch;
	s->opaque = opts->opaque;
	s->thread_init = opts->thread_init;
	s->max_body = opts->max_body ? opts->max_body : HTTP_MAX_BODY;
	s->request_timeout_ms =
	    opts->request_timeout_ms ? opts->request_timeout_ms : API_REQUEST_TIMEOUT_MS;
	s->idle_timeout_ms = opts->idle_timeout_ms ? opts->idle_timeout_ms : API_IDLE_TIMEOUT_MS;
	s->path = strdup(opts->socket_path);
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->to_vmm_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->reply_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!s->path || s->stop_efd < 0 || s->to_vmm_efd < 0 || s->reply_efd < 0 ||
	    s->listen_fd < 0) {
		r = err_set(errno ? errno : ENOMEM, "api socket set-up: %s", strerror(errno));
		goto fail;
	}
	memcpy(sun.sun_path, opts->socket_path, strlen(opts->socket_path));
	if (bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = err_set(errno, "--api-sock %s: bind: %s", opts->socket_path, strerror(errno));
		goto fail;
	}
	if (listen(s->listen_fd, 64) < 0) {
		r = err_set(errno, "--api-sock %s: listen: %s", opts->socket_path, strerror(errno));
		unlink(s->path);
		goto fail;
	}
	if ((r = el_add(el, s->to_vmm_efd, EPOLLIN, mailbox_event, s)) < 0) {
		r = err_set(-r, "api: event loop: %s", strerror(-r));
		unlink(s->path);
		goto fail;
	}
	if ((r = pthread_create(&s->thread, NULL, api_thread, s)) != 0) {
		el_remove(el, s->to_vmm_efd);
		unlink(s->path);
		r = err_set(r, "api: thread: %s", strerror(r));
		goto fail;
	}
	s->thread_started = true;
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	if (s->to_vmm_efd >= 0)
		close(s->to_vmm_efd);
	if (s->reply_efd >= 0)
		close(s->reply_efd);
	free(s->path);
	free(s);
	return r;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->stop_efd, &one, sizeof(one)) != sizeof(one))
			log_error("api: cannot stop the API thread");
		pthread_join(s->thread, NULL);
	}
	el_remove(s->el, s->to_vmm_efd);
	while (s->nclients)
		client_close(s, s->nclients - 1);
	close(s->listen_fd);
	close(s->stop_efd);
	close(s->to_vmm_efd);
	close(s->reply_efd);
	unlink(s->path);
	free(s->path);
	free(s);
}
