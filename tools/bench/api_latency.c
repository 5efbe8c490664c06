/* API latency client for `make bench`: N sequential requests on one
 * keep-alive connection to ember's API socket, each timed from the first
 * byte sent to the last byte of the response (CLOCK_MONOTONIC).
 *
 *   api_latency [-c] SOCKET N METHOD PATH [BODY]
 *
 * -c: a new connection for every request, timed from connect() (what a new
 * client sees while others load the server; used under abuse).
 *
 * Prints one line: n=N status=S p50_us=.. p90_us=.. p99_us=.. max_us=..
 * mean_us=.. rps=.. (requests per second over the whole run). Exits 1 if a
 * response is not 2xx or the connection breaks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Read one response; returns its status or -1. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t len = 0, need = 0;
	char *hdr_end = NULL;
	int status = -1;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");

			if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
				return -1;
			need = (size_t)(hdr_end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			if (need >= cap)
				return -1;
		}
		if (hdr_end && len >= need)
			return len == need ? status : -1; /* nothing may follow */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static char req[65536], resp[65536];
	double *lat, t0, total;
	int fd, n, status = 0;
	size_t rlen;
	int per_conn = argc > 1 && strcmp(argv[1], "-c") == 0;

	if (per_conn) {
		argv++;
		argc--;
	}
	if (argc < 5 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: api_latency [-c] SOCKET N METHOD PATH [BODY]\n");
		return 2;
	}
	if (argc > 5)
		rlen = (size_t)snprintf(
		    req, sizeof(req),
		    "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		    argv[3], argv[4], strlen(argv[5]), argv[5]);
	else
		rlen = (size_t)snprintf(
		    req, sizeof(req),
		    "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
		    argv[3], argv[4]);
	if (rlen >= sizeof(req))
		return 2;
	lat = calloc((size_t)n, sizeof(*lat));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if (!lat || fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "api_latency: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	total = now_us();
	for (int i = 0; i < n; i++) {
		t0 = now_us();
		if (per_conn && i > 0) {
			close(fd);
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
				fprintf(stderr, "api_latency: connect: %s\n", strerror(errno));
				return 1;
			}
		}
		if (write(fd, req, rlen) != (ssize_t)rlen) {
			fprintf(stderr, "api_latency: write: %s\n", strerror(errno));
			return 1;
		}
		status = read_response(fd, resp, sizeof(resp));
		lat[i] = now_us() - t0;
		if (status < 200 || status > 299) {
			fprintf(stderr, "api_latency: request %d: status %d: %.200s\n", i, status,
				resp);
			return 1;
		}
	}
	total = now_us() - total;
	close(fd);
	{
		double sum = 0;

		for (int i = 0; i < n; i++)
			sum += lat[i];
		qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
		printf(
		    "n=%d status=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f "
		    "rps=%.0f\n",
		    n, status, lat[n / 2], lat[(int)(n * 0.90)], lat[(int)(n * 0.99)], lat[n - 1],
		    sum / n, n / (total / 1e6));
	}
	free(lat);
	return 0;
}
