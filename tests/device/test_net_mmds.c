/* MMDS through virtio-net (harness driver, real TAP in a private network
 * namespace): the guest's ARP request and TCP segments to the MMDS address
 * are answered on the receive queue and never reach the TAP (a marker frame
 * sent after them is the first thing the host sees), an HTTP GET returns
 * the data store's value and a PATCH made meanwhile is seen, ember's
 * unacknowledged segment is sent again by the device's own timer, and
 * frames for other addresses still go to the TAP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ember/log.h"
#include "ember/metrics.h"
#include "ember/mmds.h"
#include "ember/mmds_net.h"
#include "lib/frames.h"
#include "net_fix.h"

#define MMDS_IP MMDS_DEFAULT_IPV4
#define GUEST_IP 0xa9fe0002u
#define F_SYN FR_SYN
#define F_ACK FR_ACK
#define F_PSH FR_PSH

struct fx {
	struct netfix f;
	struct mmds *store;
};

/* A guest TCP segment from the guest's MAC to the MMDS, port 80. */
static size_t tcp_frame(struct fx *x, uint8_t *f, uint16_t sport, uint32_t seq, uint32_t ack,
			uint8_t flags, const char *data)
{
	return fr_tcp(f, &(struct fr_tcp){.dst_mac = MMDS_MAC,
					  .src_mac = x->f.mac,
					  .src = GUEST_IP,
					  .dst = MMDS_IP,
					  .sport = sport,
					  .dport = 80,
					  .seq = seq,
					  .ack = ack,
					  .flags = flags,
					  .win = 65535,
					  .data = data,
					  .dlen = data ? strlen(data) : 0});
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	const char *doc = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-42\"}}}";

	assert_non_null(x);
	assert_int_equal(netfix_init(&x->f, NULL, NETFIX_ALL_FEATURES, VIRTIO_NET_QUEUE_SIZE), 0);
	assert_int_equal(mmds_create(MMDS_DEFAULT_SIZE_LIMIT, &x->store), 0);
	assert_int_equal(mmds_put(x->store, doc, strlen(doc)), 0);
	assert_int_equal(virtio_net_enable_mmds(x->f.net, x->store, MMDS_IP), 0);
	assert_int_equal(netfix_post_rx(&x->f, 64, 2048, false), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	netfix_fini(&x->f);
	mmds_destroy(x->store);
	free(x);
	return 0;
}

static void send_frame(struct fx *x, const uint8_t *fr, size_t len, bool partial_csum)
{
	struct virtio_net_hdr_v1 h = {0};

	if (partial_csum) { /* as Linux with CSUM: the device fills the checksum */
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = htole16(14 + 20);
		h.csum_offset = htole16(16);
	}
	assert_int_equal(netfix_tx(&x->f, &h, fr, len, NULL), 0);
}

/* The next frame on the receive queue (copied into buf); its length. */
static size_t recv_frame(struct fx *x, uint8_t *buf, size_t cap)
{
	uint16_t head;
	uint32_t used;
	uint8_t *p;

	assert_int_equal(netfix_rx_wait(&x->f, VDRV_WAIT_MS, &head, &used, &p), 0);
	assert_true(used > VIRTIO_NET_HDR_LEN && used - VIRTIO_NET_HDR_LEN <= cap);
	memcpy(buf, p + VIRTIO_NET_HDR_LEN, used - VIRTIO_NET_HDR_LEN);
	assert_true(netfix_recycle_rx(&x->f, head) >= 0);
	vdrv_kick(&x->f.d, VIRTIO_NET_RXQ);
	return used - VIRTIO_NET_HDR_LEN;
}

/* Nothing before the marker reached the TAP. */
static void only_marker_on_tap(struct fx *x)
{
	uint8_t m[64], got[2048];
	size_t len = netfix_frame(m, 64, x->f.mac, 77);
	int n;

	assert_int_equal(netfix_tx(&x->f, &(struct virtio_net_hdr_v1){0}, m, len, NULL), 0);
	n = netfix_host_recv(&x->f, NULL, got, sizeof(got), VDRV_WAIT_MS);
	assert_int_equal(n, (int)len);
	assert_memory_equal(got, m, len);
}

static void test_arp(void **state)
{
	struct fx *x = *state;
	uint8_t f[64] = {0}, r[2048];
	size_t n;

	fr_arp_request(f, x->f.mac, GUEST_IP, MMDS_IP);
	send_frame(x, f, 60, false); /* padded to the minimum, as a NIC would */
	n = recv_frame(x, r, sizeof(r));
	assert_int_equal(n, 42);
	assert_int_equal(fr_get16(r + 12), 0x0806);
	assert_int_equal(fr_get16(r + 20), 2);
	assert_memory_equal(r + 22, MMDS_MAC, 6);
	only_marker_on_tap(x);
}

/* Handshake, GET, the response; returns the response text. */
static void http_get(struct fx *x, uint16_t port, const char *req, bool partial, char *out,
		     size_t cap)
{
	uint8_t f[1600], r[2048];
	uint32_t g = 1000, s;
	size_t n, got = 0;

	send_frame(x, f, tcp_frame(x, f, port, g - 1, 0, F_SYN, NULL), partial);
	n = recv_frame(x, r, sizeof(r));
	assert_true(n >= 54);
	assert_int_equal(r[14 + 20 + 13], F_SYN | F_ACK);
	s = fr_get32(r + 14 + 20 + 4) + 1;
	send_frame(x, f, tcp_frame(x, f, port, g, s, F_ACK | F_PSH, req), partial);
	g += (uint32_t)strlen(req);
	while (!strstr(out, "\r\n\r\n") || got < 60) {
		n = recv_frame(x, r, sizeof(r));
		if (n <= 54)
			continue; /* the ACK of the request */
		assert_int_equal(fr_get32(r + 14 + 20 + 4), s);
		memcpy(out + got, r + 54, n - 54);
		got += n - 54;
		s += (uint32_t)(n - 54);
		out[got] = '\0';
		send_frame(x, f, tcp_frame(x, f, port, g, s, F_ACK, NULL), partial);
		assert_true(got < cap - 1600);
	}
}

static void test_get(void **state)
{
	struct fx *x = *state;
	char out[8192] = "";

	http_get(x, 33000, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", false, out,
		 sizeof(out));
	assert_non_null(strstr(out, "200 OK"));
	assert_non_null(strstr(out, "\r\n\r\nami-42"));
	/* a PATCH while the guest runs is seen by the next request */
	assert_int_equal(
	    mmds_patch(x->store, "{\"latest\":{\"meta-data\":{\"ami-id\":\"new\"}}}", 41), 0);
	out[0] = '\0';
	http_get(x, 33001, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", true, out, sizeof(out));
	assert_non_null(strstr(out, "\r\n\r\nnew"));
	only_marker_on_tap(x);
}

/* An unacknowledged SYN-ACK comes again from the device's timer. */
static void test_retransmit_timer(void **state)
{
	struct fx *x = *state;
	uint8_t f[128], r1[2048], r2[2048];
	size_t n1, n2;

	send_frame(x, f, tcp_frame(x, f, 33002, 5, 0, F_SYN, NULL), false);
	n1 = recv_frame(x, r1, sizeof(r1));
	n2 = recv_frame(x, r2, sizeof(r2)); /* ~200 ms later, the event loop's timerfd */
	assert_int_equal(n1, n2);
	assert_memory_equal(r1, r2, n1);
	assert_int_equal(r2[14 + 20 + 13], F_SYN | F_ACK);
}

/* The "mmds" metrics group of a metrics line: the value of one field. */
static double mmds_metric(cJSON *line, const char *field)
{
	cJSON *g = cJSON_GetObjectItem(line, "mmds"), *v = cJSON_GetObjectItem(g, field);

	assert_non_null(v);
	return v->valuedouble;
}

/* The metrics line after guest traffic: Firecracker's "mmds" group, every
 * field, counted on the device's real paths (frames in from the tx queue,
 * frames out into the guest's rx buffers). */
static void test_metrics(void **state)
{
	static const char *const fields[] = {
	    "rx_accepted",	"rx_accepted_err", "rx_accepted_unusual",   "rx_bad_eth",
	    "rx_invalid_token", "rx_no_token",	   "rx_count",		    "tx_bytes",
	    "tx_count",		"tx_errors",	   "tx_frames",		    "connections_created",
	    "connections_destroyed"};
	struct fx *x = *state;
	char out[8192] = "", *line;
	uint8_t f[128], other[128], got[2048];
	size_t n;
	cJSON *o;

	x->f.net->vdev.ops->publish_metrics(&x->f.net->vdev);
	free(metrics_serialize()); /* counters start from here */
	http_get(x, 33010, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n",
		 false, out, sizeof(out));
	out[0] = '\0';
	http_get(x, 33011,
		 "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: nope\r\n\r\n",
		 false, out, sizeof(out));
	assert_non_null(strstr(out, "\r\n\r\nami-42")); /* V1: served anyway */
	/* unusual: UDP to the MMDS; a frame for the TAP is not counted */
	n = tcp_frame(x, f, 33012, 1, 0, F_SYN, NULL);
	f[FR_IP + 9] = 17;
	fr_ipv4_csum(f);
	send_frame(x, f, n, false);
	memcpy(other, f, n);
	fr_put32(other + FR_IP + 16, 0xac100001);
	fr_ipv4_csum(other);
	send_frame(x, other, n, false);
	assert_int_equal(netfix_host_recv(&x->f, NULL, got, sizeof(got), VDRV_WAIT_MS), (int)n);
	assert_memory_equal(got, other, n);
	/* err: a bad IPv4 header checksum */
	n = tcp_frame(x, f, 33013, 1, 0, F_SYN, NULL);
	f[14 + 10] ^= 0x55;
	send_frame(x, f, n, false);
	only_marker_on_tap(x);

	/* what the VMM does before each metrics line (vm_publish_metrics) */
	x->f.net->vdev.ops->publish_metrics(&x->f.net->vdev);
	line = metrics_serialize();
	assert_non_null(line);
	o = cJSON_Parse(line);
	assert_non_null(o);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_true(mmds_metric(o, fields[i]) >= 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "mmds")), 13);
	/* two connections: SYN, request (+ACKs of the response); then UDP and
	 * the bad header */
	assert_true(mmds_metric(o, "rx_accepted") >= 6);
	assert_true(mmds_metric(o, "rx_count") >= 4);
	assert_int_equal(mmds_metric(o, "rx_accepted") - mmds_metric(o, "rx_count"), 2);
	assert_int_equal(mmds_metric(o, "rx_accepted_unusual"), 1);
	assert_int_equal(mmds_metric(o, "rx_accepted_err"), 1);
	assert_int_equal(mmds_metric(o, "rx_bad_eth"), 0);
	assert_int_equal(mmds_metric(o, "rx_no_token"), 1);
	assert_int_equal(mmds_metric(o, "rx_invalid_token"), 1);
	assert_int_equal(mmds_metric(o, "connections_created"), 2);
	assert_true(mmds_metric(o, "tx_frames") >= 4); /* 2 SYN-ACKs, 2 responses */
	assert_int_equal(mmds_metric(o, "tx_frames"), mmds_metric(o, "tx_count"));
	assert_true(mmds_metric(o, "tx_bytes") >= 54 * mmds_metric(o, "tx_frames"));
	assert_int_equal(mmds_metric(o, "tx_errors"), 0);
	cJSON_Delete(o);
	free(line);
	/* counters report what happened since the previous line */
	line = metrics_serialize();
	o = cJSON_Parse(line);
	assert_int_equal(mmds_metric(o, "rx_accepted"), 0);
	cJSON_Delete(o);
	free(line);
}

/* Frames to other addresses pass to the TAP unchanged. */
static void test_other_traffic(void **state)
{
	struct fx *x = *state;
	uint8_t f[1600], got[2048];
	size_t n = tcp_frame(x, f, 33003, 1, 0, F_SYN, NULL);
	int r;

	fr_put32(f + FR_IP + 16, 0xac100001); /* 172.16.0.1 */
	fr_ipv4_csum(f);
	send_frame(x, f, n, false);
	r = netfix_host_recv(&x->f, NULL, got, sizeof(got), VDRV_WAIT_MS);
	assert_int_equal(r, (int)n);
	assert_memory_equal(got, f, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_arp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retransmit_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_traffic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("virtio-net MMDS", tests, NULL, NULL);
}
