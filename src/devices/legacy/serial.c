/* 16550A UART: enough of it for Linux's 8250 driver and early printk.
 * Transmit is immediate (THR always empty); receive has a 64-byte FIFO. */
#include "ember/serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ember/metrics.h"

/* register offsets */
#define R_DATA 0 /* RBR / THR / DLL */
#define R_IER 1  /* IER / DLM */
#define R_IIR 2  /* IIR (read) / FCR (write) */
#define R_LCR 3
#define R_MCR 4
#define R_LSR 5
#define R_MSR 6
#define R_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RCVR 0x02
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static void update_irq(struct serial *s)
{
	int level = ((s->ier & IER_RDI) && s->rx_count) || ((s->ier & IER_THRI) && s->thre_pending);

	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq)
			s->irq(s->irq_opaque, level);
	}
}

static uint8_t iir_value(struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

static uint8_t msr_value(const struct serial *s)
{
	if (s->mcr & MCR_LOOP) {
		/* loopback: modem outputs feed the modem inputs */
		return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
				 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
	}
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_FIFO_LEN)
		return;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_LEN] = c;
	s->rx_count++;
}

static void transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
		return;
	}
	s->tx_bytes++;
	if (s->out_fd >= 0 && s->out_limit.size &&
	    !tb_try_take(&s->out_limit, 1, rl_now_ns())) {
		s->counters.rate_limiter_dropped_bytes++;
		return;
	}
	if (s->out_fd >= 0) {
		ssize_t n;
		do {
			n = write(s->out_fd, &c, 1);
		} while (n < 0 && errno == EINTR);
		if (n != 1) {
			s->missed_writes++;
			s->counters.missed_write_count++;
		} else {
			s->counters.write_count++;
		}
	}
}

static void serial_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t v = 0;

	switch (off) {
	case R_DATA:
		if (s->lcr & LCR_DLAB) {
			v = s->dll;
		} else if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->counters.read_count++;
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_LEN;
			s->rx_count--;
			if (s->rx_count == 0 && s->rx_drained)
				s->rx_drained(s->rx_drained_opaque);
		}
		break;
	case R_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case R_IIR:
		v = iir_value(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thre_pending = 0;
		break;
	case R_LCR:
		v = s->lcr;
		break;
	case R_MCR:
		v = s->mcr;
		break;
	case R_LSR:
		v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
		break;
	case R_MSR:
		v = msr_value(s);
		break;
	case R_SCR:
		v = s->scr;
		break;
	}
	memset(data, 0, len);
	*(uint8_t *)data = v;
	update_irq(s);
}

static void serial_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	switch (off) {
	case R_DATA:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
		} else {
			transmit(s, v);
			s->thre_pending = 1;
		}
		break;
	case R_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			if (!(s->ier & IER_THRI) && (v & IER_THRI))
				s->thre_pending = 1; /* THR is empty: interrupt at once */
			s->ier = v & 0x0f;
		}
		break;
	case R_IIR:
		s->fcr = v & (FCR_ENABLE | 0xc0);
		if ((v & FCR_CLEAR_RCVR) && s->rx_count) {
			s->rx_count = 0;
			if (s->rx_drained) /* the host side may be waiting for room */
				s->rx_drained(s->rx_drained_opaque);
		}
		break;
	case R_LCR:
		s->lcr = v;
		break;
	case R_MCR:
		s->mcr = v & 0x1f;
		break;
	case R_SCR:
		s->scr = v;
		break;
	default: /* LSR, MSR: read-only */
		break;
	}
	update_irq(s);
}

const struct bus_ops serial_bus_ops = {.read = serial_read, .write = serial_write};

void serial_set_out_limit(struct serial *s, const struct token_bucket_cfg *cfg)
{
	pthread_mutex_lock(&s->lock);
	tb_init(&s->out_limit, cfg, rl_now_ns());
	pthread_mutex_unlock(&s->lock);
}

void serial_init(struct serial *s, int out_fd, void (*irq)(void *, int), void *irq_opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->irq_opaque = irq_opaque;
	s->iir = IIR_NONE;
	s->lcr = 0x03; /* 8N1 */
	s->mcr = 0x08; /* OUT2 */
	s->dll = 0x0c; /* 9600 baud */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial_input_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_FIFO_LEN - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return room;
}

size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_FIFO_LEN)
		rx_push(s, buf[n++]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_publish_metrics(struct serial *s)
{
	struct metrics_uart now;

	pthread_mutex_lock(&s->lock);
	now = s->counters;
	pthread_mutex_unlock(&s->lock);
#define U(f) METRIC_ADD(metrics.uart.f, now.f - s->published.f);
	METRICS_UART(U)
#undef U
	s->published = now;
}

void serial_save(struct serial *s, struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->ier = s->ier;
	st->iir = s->iir;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->lsr = s->lsr;
	st->msr = s->msr;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = (uint8_t)s->fcr;
	st->thre_pending = s->thre_pending ? 1 : 0;
	st->rx_head = s->rx_head;
	st->rx_count = s->rx_count;
	memcpy(st->rx, s->rx, sizeof(st->rx));
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *st)
{
	if (st->rx_head >= SERIAL_FIFO_LEN || st->rx_count > SERIAL_FIFO_LEN)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->iir = st->iir;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->lsr = st->lsr;
	s->msr = st->msr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr & (FCR_ENABLE | 0xc0);
	s->thre_pending = !!st->thre_pending;
	s->rx_head = st->rx_head;
	s->rx_count = st->rx_count;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	s->irq_level = 0;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
