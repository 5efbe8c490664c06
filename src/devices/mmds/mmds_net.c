/* MMDS: ARP, IPv4 and a small server-side TCP for the guest (see
 * mmds_net.h). Wire formats are read and written byte by byte (network
 * order), never through packed structs over guest data. */
#include "ember/mmds_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ember/error.h"
#include "ember/mmds_http.h"
#include "ember/util.h"

#define ETH_HLEN_ 14
#define ET_IPV4 0x0800
#define ET_ARP 0x0806
#define IP_TCP 6
#define HTTP_PORT 80

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* A counter of Firecracker's "mmds" metrics group (metrics.h), kept in
 * s->st.m until the device publishes it. */
#define MMDS_INC(field) (s->st.m.field++)

#define RTO_MS 200
#define RTO_MAX_MS 3200

/* Locally administered, unicast (Firecracker's MMDS uses one of its own too). */
const uint8_t MMDS_MAC[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};

enum conn_state { C_FREE = 0, C_SYN_RCVD, C_OPEN };

struct conn {
	enum conn_state state;
	uint8_t peer_mac[6];
	uint32_t peer_ip;
	uint16_t peer_port;
	uint16_t mss;
	uint32_t iss, snd_una, snd_nxt, snd_wnd;
	uint32_t rcv_nxt;
	/* the response being sent: out[0] is sequence number out_seq */
	char *out;
	size_t out_len;
	uint32_t out_seq;
	bool close_after; /* FIN once out is sent */
	bool fin_sent;	  /* snd_nxt counts our FIN */
	bool peer_fin;
	bool need_ack;
	bool probe; /* zero window: send one byte past it */
	uint64_t rto_at;
	unsigned rto_ms, retries;
	uint64_t last_active;
	size_t rlen;
	size_t tried; /* rlen when the parser last wanted more */
	char rbuf[MMDS_HTTP_MAX_REQUEST];
};

struct ctl {
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port;
	uint32_t seq, ack;
	uint8_t flags;
};

struct mmds_net {
	struct mmds *store;
	uint32_t ip;
	bool arp_pending;
	uint8_t arp_mac[6];
	uint32_t arp_ip;
	struct ctl ctl[MMDS_NET_MAX_CTL];
	unsigned ctl_head, ctl_n;
	unsigned rr;	 /* round robin over connections */
	unsigned nconns; /* connections not C_FREE */
	uint32_t isn_seed;
	struct mmds_net_stats st;
	struct conn conns[MMDS_NET_MAX_CONNS];
};

/* ---- byte helpers ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP checksum over the pseudo header and seg[0..len). */
static uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
	uint8_t ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = IP_TCP;
	put16(ph + 10, (uint16_t)len);
	return csum_fold(csum_add(csum_add(0, ph, sizeof(ph)), seg, len));
}

/* a < b in sequence space */
static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- set-up ---- */

int mmds_net_create(struct mmds *store, uint32_t ipv4, struct mmds_net **out)
{
	struct mmds_net *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return err_set(ENOMEM, "MMDS: out of memory");
	s->store = store;
	s->ip = ipv4;
	random_bytes(&s->isn_seed, sizeof(s->isn_seed));
	*out = s;
	return 0;
}

static void conn_free(struct mmds_net *s, struct conn *c)
{
	free(c->out);
	memset(c, 0, sizeof(*c));
	s->nconns--;
	s->st.conns_closed++;
	MMDS_INC(connections_destroyed);
}

void mmds_net_destroy(struct mmds_net *s)
{
	if (!s)
		return;
	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++)
		free(s->conns[i].out);
	free(s);
}

void mmds_net_get_stats(const struct mmds_net *s, struct mmds_net_stats *out)
{
	*out = s->st;
}

int mmds_net_conns(const struct mmds_net *s)
{
	int n = 0;

	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++)
		n += s->conns[i].state != C_FREE;
	return n;
}

bool mmds_net_wants(const struct mmds_net *s, const uint8_t *f, size_t len)
{
	uint16_t et;

	if (len < ETH_HLEN_ + 20)
		return false;
	et = get16(f + 12);
	if (et == ET_IPV4)
		return get32(f + ETH_HLEN_ + 16) == s->ip;
	if (et == ET_ARP && len >= ETH_HLEN_ + 28)
		return get32(f + ETH_HLEN_ + 24) == s->ip;
	return false;
}

/* ---- control answers (no connection) ---- */

static void ctl_push(struct mmds_net *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		     uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct ctl *c;

	if (s->ctl_n == MMDS_NET_MAX_CTL) {
		s->st.dropped++;
		MMDS_INC(tx_errors); /* an answer we cannot keep */
		return;
	}
	c = &s->ctl[(s->ctl_head + s->ctl_n++) % MMDS_NET_MAX_CTL];
	memcpy(c->mac, mac, 6);
	c->ip = ip;
	c->port = port;
	c->seq = seq;
	c->ack = ack;
	c->flags = flags;
}

/* RST for a segment nobody owns (RFC 793's reset generation). */
static void reset_for(struct mmds_net *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		      uint8_t flags, uint32_t seq, uint32_t ack, size_t dlen)
{
	if (flags & TH_RST)
		return;
	if (flags & TH_ACK)
		ctl_push(s, mac, ip, port, ack, 0, TH_RST);
	else
		ctl_push(s, mac, ip, port, 0,
			 seq + (uint32_t)dlen + !!(flags & TH_SYN) + !!(flags & TH_FIN),
			 TH_RST | TH_ACK);
}

/* ---- input ---- */

static void arp_input(struct mmds_net *s, const uint8_t *a, size_t len)
{
	if (len < 28 || get16(a) != 1 || get16(a + 2) != ET_IPV4 || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != 1 || (a[8] & 1)) {
		s->st.dropped++;
		MMDS_INC(rx_accepted_err);
		return;
	}
	MMDS_INC(rx_count);
	s->arp_pending = true;
	memcpy(s->arp_mac, a + 8, 6);
	s->arp_ip = get32(a + 14);
}

static struct conn *conn_find(struct mmds_net *s, uint32_t ip, uint16_t port)
{
	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->state != C_FREE && c->peer_ip == ip && c->peer_port == port)
			return c;
	}
	return NULL;
}

/* A free slot, else the half-open connection silent longest (a SYN flood
 * recycles its own slots), else the connection silent longest. */
static struct conn *conn_alloc(struct mmds_net *s)
{
	struct conn *old = NULL, *half = NULL;

	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->state == C_FREE)
			return c;
		if (!old || c->last_active < old->last_active)
			old = c;
		if (c->state == C_SYN_RCVD && (!half || c->last_active < half->last_active))
			half = c;
	}
	if (half)
		old = half;
	s->st.conns_evicted++;
	conn_free(s, old);
	return old;
}

/* Response bytes not sent yet. */
static bool unsent(const struct conn *c)
{
	return c->out && !c->fin_sent && c->snd_nxt - c->out_seq < c->out_len;
}

/* The timer runs while something is unacknowledged, or while a zero window
 * holds data back (then it sends a probe). */
static void arm_rto(struct conn *c, uint64_t now)
{
	if (c->snd_una == c->snd_nxt && !(unsent(c) && c->snd_wnd == 0)) {
		c->rto_at = 0;
		return;
	}
	if (!c->rto_at)
		c->rto_at = now + c->rto_ms;
}

/* The next response, if the previous one is all acknowledged. */
static void serve(struct mmds_net *s, struct conn *c)
{
	struct mmds_http_reply rep;
	int n;

	if (c->state != C_OPEN || c->close_after || c->out || c->rlen == 0)
		return;
	if (c->rlen == c->tried)
		return; /* nothing new since the parser asked for more */
	n = mmds_http_handle(s->store, c->rbuf, c->rlen, &rep);
	if (n <= 0) {
		c->tried = c->rlen;
		if (n < 0) { /* out of memory: give up on this connection */
			MMDS_INC(tx_errors);
			c->close_after = true;
		}
		return;
	}
	s->st.http_requests++;
	s->st.m.rx_no_token += rep.no_token;
	s->st.m.rx_invalid_token += rep.invalid_token;
	memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
	c->rlen -= (size_t)n;
	c->tried = 0;
	c->out = rep.data;
	c->out_len = rep.len;
	c->out_seq = c->snd_nxt;
	c->close_after = rep.close;
}

static void conn_syn(struct mmds_net *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		     uint32_t seq, uint16_t win, const uint8_t *opt, size_t olen, uint64_t now)
{
	struct conn *c = conn_alloc(s);
	uint16_t mss = 536;

	for (size_t i = 0; i < olen;) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= olen || opt[i + 1] < 2 || i + opt[i + 1] > olen)
			break;
		if (opt[i] == 2 && opt[i + 1] == 4)
			mss = get16(opt + i + 2);
		i += opt[i + 1];
	}
	s->st.conns_opened++;
	MMDS_INC(connections_created);
	s->nconns++;
	c->state = C_SYN_RCVD;
	memcpy(c->peer_mac, mac, 6);
	c->peer_ip = ip;
	c->peer_port = port;
	c->mss = (uint16_t)MAX(64, MIN(mss, MMDS_NET_MSS));
	s->isn_seed = s->isn_seed * 1103515245u + 12345u + (uint32_t)now;
	c->iss = s->isn_seed ^ (uint32_t)(now * 2654435761u);
	c->snd_una = c->snd_nxt = c->iss; /* the SYN-ACK goes out next */
	c->snd_wnd = win;
	c->rcv_nxt = seq + 1;
	c->rto_ms = RTO_MS;
	c->last_active = now;
}

/* Our FIN was acknowledged and the peer's came: done. */
static bool conn_done(const struct conn *c)
{
	return c->fin_sent && c->snd_una == c->snd_nxt && c->peer_fin;
}

static void tcp_input(struct mmds_net *s, const uint8_t *mac, uint32_t src, uint32_t dst,
		      const uint8_t *t, size_t len, bool csum_partial, uint64_t now)
{
	uint16_t sport, dport, win;
	uint32_t seq, ack;
	uint8_t flags;
	size_t off, dlen;
	const uint8_t *data;
	struct conn *c;

	if (len < 20 || (off = (size_t)(t[12] >> 4) * 4) < 20 || off > len) {
		s->st.dropped++;
		MMDS_INC(rx_accepted_err);
		return;
	}
	if (!csum_partial && tcp_csum(src, dst, t, len) != 0) {
		s->st.dropped++;
		MMDS_INC(rx_accepted_err);
		return;
	}
	MMDS_INC(rx_count);
	sport = get16(t);
	dport = get16(t + 2);
	seq = get32(t + 4);
	ack = get32(t + 8);
	flags = t[13];
	win = get16(t + 14);
	data = t + off;
	dlen = len - off;
	c = conn_find(s, src, sport);
	if (dport != HTTP_PORT) {
		MMDS_INC(rx_accepted_unusual);
		reset_for(s, mac, src, sport, flags, seq, ack, dlen);
		return;
	}
	if (!c) {
		if ((flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_SYN) {
			conn_syn(s, mac, src, sport, seq, win, t + 20, off - 20, now);
		} else {
			MMDS_INC(rx_accepted_unusual); /* a segment of no connection */
			reset_for(s, mac, src, sport, flags, seq, ack, dlen);
		}
		return;
	}
	c->last_active = now;
	if (flags & TH_RST) {
		/* Accepted when it is the next byte we expect (or, before the
		 * handshake completes, acknowledges our SYN). */
		if (seq == c->rcv_nxt || (c->state == C_SYN_RCVD && seq == c->rcv_nxt - 1) ||
		    (seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + MMDS_HTTP_MAX_REQUEST)))
			conn_free(s, c);
		return;
	}
	if (flags & TH_SYN) {
		if (c->state == C_SYN_RCVD && seq + 1 == c->rcv_nxt) {
			c->snd_nxt = c->iss; /* a repeated SYN: our SYN-ACK again */
			return;
		}
		c->need_ack = true; /* RFC 5961: a challenge ACK */
		return;
	}
	if (!(flags & TH_ACK))
		return;
	if (seq_lt(c->snd_nxt, ack)) {
		c->need_ack = true; /* acknowledges what we never sent */
		return;
	}
	if (seq_lt(c->snd_una, ack)) {
		c->snd_una = ack;
		c->retries = 0;
		c->rto_ms = RTO_MS;
		c->rto_at = 0;
		if (c->state == C_SYN_RCVD && seq_lt(c->iss, ack))
			c->state = C_OPEN;
	}
	if (c->state == C_SYN_RCVD)
		return; /* nothing before the handshake */
	c->snd_wnd = win;
	if (win)
		c->probe = false;
	if (c->out && seq_le(c->out_seq + (uint32_t)c->out_len, c->snd_una)) {
		free(c->out); /* the whole response was acknowledged */
		c->out = NULL;
		c->out_len = 0;
	}
	if (dlen || (flags & TH_FIN)) {
		if (seq != c->rcv_nxt) {
			MMDS_INC(rx_accepted_unusual);
			c->need_ack = true; /* out of order or old: ask again */
		} else {
			size_t take = MIN(dlen, sizeof(c->rbuf) - c->rlen);

			memcpy(c->rbuf + c->rlen, data, take);
			c->rlen += take;
			c->rcv_nxt += (uint32_t)take;
			if (take)
				c->need_ack = true;
			if ((flags & TH_FIN) && take == dlen && !c->peer_fin) {
				c->peer_fin = true;
				c->rcv_nxt++;
				c->need_ack = true;
			}
		}
	}
	serve(s, c);
	if (c->peer_fin && !c->out)
		c->close_after = true; /* nothing more will come: close our side */
	if (conn_done(c)) {
		/* The last ACK is a control answer: the state can go now. */
		if (c->need_ack)
			ctl_push(s, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt, c->rcv_nxt,
				 TH_ACK);
		conn_free(s, c);
		return;
	}
	arm_rto(c, now);
}

static void ipv4_input(struct mmds_net *s, const uint8_t *mac, const uint8_t *ip, size_t len,
		       bool csum_partial, uint64_t now)
{
	size_t ihl, tot;

	if (len < 20 || (ip[0] >> 4) != 4 || (ihl = (size_t)(ip[0] & 15) * 4) < 20 ||
	    (tot = get16(ip + 2)) < ihl || tot > len || csum_fold(csum_add(0, ip, ihl)) != 0) {
		s->st.dropped++;
		MMDS_INC(rx_accepted_err);
		return;
	}
	if ((get16(ip + 6) & 0x3fff) != 0 || ip[9] != IP_TCP) {
		s->st.dropped++; /* fragments, ICMP, UDP, ... */
		MMDS_INC(rx_accepted_unusual);
		return;
	}
	tcp_input(s, mac, get32(ip + 12), get32(ip + 16), ip + ihl, tot - ihl, csum_partial, now);
}

void mmds_net_input(struct mmds_net *s, const uint8_t *f, size_t len, bool csum_partial,
		    uint64_t now_ms)
{
	s->st.frames_in++;
	MMDS_INC(rx_accepted);
	if (!mmds_net_wants(s, f, len)) {
		s->st.dropped++;
		MMDS_INC(rx_bad_eth);
		return;
	}
	if (get16(f + 12) == ET_ARP)
		arp_input(s, f + ETH_HLEN_, len - ETH_HLEN_);
	else
		ipv4_input(s, f + 6, f + ETH_HLEN_, len - ETH_HLEN_, csum_partial, now_ms);
}

/* ---- output ---- */

static size_t build_arp(struct mmds_net *s, uint8_t *f)
{
	uint8_t *a = f + ETH_HLEN_;

	memcpy(f, s->arp_mac, 6);
	memcpy(f + 6, MMDS_MAC, 6);
	put16(f + 12, ET_ARP);
	put16(a, 1);
	put16(a + 2, ET_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, MMDS_MAC, 6);
	put32(a + 14, s->ip);
	memcpy(a + 18, s->arp_mac, 6);
	put32(a + 24, s->arp_ip);
	s->arp_pending = false;
	s->st.frames_out++;
	MMDS_INC(tx_count);
	return ETH_HLEN_ + 28;
}

static size_t build_tcp(struct mmds_net *s, uint8_t *f, const uint8_t *mac, uint32_t ip,
			uint16_t port, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
			const void *data, size_t dlen)
{
	uint8_t *iph = f + ETH_HLEN_, *t = iph + 20;
	size_t thl = (flags & TH_SYN) ? 24 : 20, tlen = thl + dlen;

	memcpy(f, mac, 6);
	memcpy(f + 6, MMDS_MAC, 6);
	put16(f + 12, ET_IPV4);
	iph[0] = 0x45;
	iph[1] = 0;
	put16(iph + 2, (uint16_t)(20 + tlen));
	put16(iph + 4, 0);
	put16(iph + 6, 0x4000); /* DF */
	iph[8] = 64;
	iph[9] = IP_TCP;
	put16(iph + 10, 0);
	put32(iph + 12, s->ip);
	put32(iph + 16, ip);
	put16(iph + 10, csum_fold(csum_add(0, iph, 20)));
	put16(t, HTTP_PORT);
	put16(t + 2, port);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	put16(t + 14, win);
	put16(t + 16, 0);
	put16(t + 18, 0);
	if (thl == 24) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, MMDS_NET_MSS);
	}
	if (dlen)
		memcpy(t + thl, data, dlen);
	put16(t + 16, tcp_csum(s->ip, ip, t, tlen));
	s->st.frames_out++;
	MMDS_INC(tx_count);
	return ETH_HLEN_ + 20 + tlen;
}

static uint16_t rcv_wnd(const struct conn *c)
{
	return (uint16_t)(sizeof(c->rbuf) - c->rlen);
}

/* The next segment of c, or 0. */
static size_t conn_output(struct mmds_net *s, struct conn *c, uint8_t *f, uint64_t now)
{
	uint32_t sent, inflight, wnd, avail;
	size_t n;

	if (c->state == C_SYN_RCVD) {
		if (c->snd_nxt != c->iss)
			return 0;
		c->snd_nxt = c->iss + 1;
		arm_rto(c, now);
		return build_tcp(s, f, c->peer_mac, c->peer_ip, c->peer_port, c->iss, c->rcv_nxt,
				 TH_SYN | TH_ACK, rcv_wnd(c), NULL, 0);
	}
	if (c->out && !c->fin_sent) {
		sent = c->snd_nxt - c->out_seq; /* bytes of out already sent */
		inflight = c->snd_nxt - c->snd_una;
		wnd = c->probe ? inflight + 1 : c->snd_wnd;
		if (sent < c->out_len && inflight < wnd) {
			avail = MIN((uint32_t)(c->out_len - sent), wnd - inflight);
			n = MIN((size_t)avail, (size_t)c->mss);
			c->snd_nxt += (uint32_t)n;
			c->need_ack = false;
			c->probe = false;
			arm_rto(c, now);
			return build_tcp(s, f, c->peer_mac, c->peer_ip, c->peer_port,
					 c->snd_nxt - (uint32_t)n, c->rcv_nxt, TH_ACK | TH_PSH,
					 rcv_wnd(c), c->out + sent, n);
		}
	}
	if (c->close_after && !c->fin_sent && (!c->out || c->snd_nxt - c->out_seq >= c->out_len)) {
		c->fin_sent = true;
		c->snd_nxt++;
		c->need_ack = false;
		arm_rto(c, now);
		return build_tcp(s, f, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt - 1,
				 c->rcv_nxt, TH_FIN | TH_ACK, rcv_wnd(c), NULL, 0);
	}
	if (c->need_ack) {
		c->need_ack = false;
		return build_tcp(s, f, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt,
				 c->rcv_nxt, TH_ACK, rcv_wnd(c), NULL, 0);
	}
	return 0;
}

size_t mmds_net_output(struct mmds_net *s, uint8_t *f, size_t cap, uint64_t now_ms)
{
	if (cap < MMDS_NET_MAX_FRAME) {
		if (mmds_net_has_output(s))
			MMDS_INC(tx_errors);
		return 0;
	}
	if (s->arp_pending)
		return build_arp(s, f);
	if (s->ctl_n) {
		struct ctl c = s->ctl[s->ctl_head];

		s->ctl_head = (s->ctl_head + 1) % MMDS_NET_MAX_CTL;
		s->ctl_n--;
		return build_tcp(s, f, c.mac, c.ip, c.port, c.seq, c.ack, c.flags, 0, NULL, 0);
	}
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct conn *c = &s->conns[(s->rr + i) % MMDS_NET_MAX_CONNS];
		size_t n;

		if (c->state == C_FREE)
			continue;
		/* A response may be waiting for the previous one's ACK. */
		serve(s, c);
		if ((n = conn_output(s, c, f, now_ms))) {
			s->rr = (s->rr + i + 1) % MMDS_NET_MAX_CONNS;
			return n;
		}
	}
	return 0;
}

static bool conn_has_output(const struct conn *c)
{
	if (c->state == C_SYN_RCVD)
		return c->snd_nxt == c->iss;
	if (c->need_ack || (c->close_after && !c->fin_sent))
		return true;
	if (c->out && !c->fin_sent) {
		uint32_t sent = c->snd_nxt - c->out_seq, inflight = c->snd_nxt - c->snd_una;

		return sent < c->out_len && inflight < (c->probe ? inflight + 1 : c->snd_wnd);
	}
	/* a request waiting to be served */
	return c->rlen > 0 && !c->out && !c->close_after && c->rlen != c->tried;
}

bool mmds_net_idle(const struct mmds_net *s)
{
	return !s->arp_pending && !s->ctl_n && !s->nconns;
}

bool mmds_net_has_output(const struct mmds_net *s)
{
	if (s->arp_pending || s->ctl_n)
		return true;
	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++)
		if (s->conns[i].state != C_FREE && conn_has_output(&s->conns[i]))
			return true;
	return false;
}

uint64_t mmds_net_deadline(const struct mmds_net *s)
{
	uint64_t d = 0;

	if (!s->nconns)
		return 0;
	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		const struct conn *c = &s->conns[i];

		if (c->state != C_FREE && c->rto_at && (!d || c->rto_at < d))
			d = c->rto_at;
	}
	return d;
}

void mmds_net_timer(struct mmds_net *s, uint64_t now)
{
	for (int i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (c->state == C_FREE || !c->rto_at || c->rto_at > now)
			continue;
		c->rto_at = 0;
		if (c->snd_una == c->snd_nxt) {
			/* nothing in flight: a zero window to probe */
			c->probe = unsent(c) && c->snd_wnd == 0;
			continue;
		}
		if (++c->retries > MMDS_NET_MAX_RETRIES) {
			ctl_push(s, c->peer_mac, c->peer_ip, c->peer_port, c->snd_nxt, c->rcv_nxt,
				 TH_RST | TH_ACK);
			conn_free(s, c);
			continue;
		}
		s->st.retransmits++;
		/* Go back to the oldest unacknowledged byte. */
		if (c->state == C_SYN_RCVD) {
			c->snd_nxt = c->iss;
		} else {
			c->fin_sent = false; /* sent again after the data */
			c->snd_nxt = c->snd_una;
		}
		c->rto_ms = MIN(c->rto_ms * 2, RTO_MAX_MS);
		c->rto_at = now + c->rto_ms;
	}
}
