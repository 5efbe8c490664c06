/* i8042 keyboard controller: command/status port 0x64, data port 0x60
 * (registered as one 5-port range at 0x60: offsets 0 and 4). Enough for
 * Linux's i8042/atkbd probe, CPU reset (command 0xFE or output port bit 0),
 * and Ctrl-Alt-Del injection. */
#include "ember/i8042.h"

#include <errno.h>
#include <string.h>

#include "ember/error.h"
#include "ember/metrics.h"

#define OFF_DATA 0
#define OFF_CMD 4

#define ST_OBF 0x01 /* output buffer full */
#define ST_SYS 0x04 /* system flag (self test passed) */
#define ST_CMD 0x08 /* last write was a command */
#define ST_AUX 0x20 /* output is from the aux port */

#define CMD_READ_CTRL 0x20
#define CMD_WRITE_CTRL 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_INPORT 0xc0
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_RESET 0xfe

#define CTRL_KBD_INT 0x01
#define CTRL_XLATE 0x40 /* controller translates set 2 to set 1 */
#define KBD_ACK 0xfa

/* Set-2 scancodes, as a PC keyboard sends them: Ctrl, Alt, Del (E0 71)... */
static const uint8_t ctrl_alt_del[] = {0x14, 0x11, 0xe0, 0x71};
/* ...and as the guest reads them when the controller translates (the
 * default control byte, kept by Linux): set 1. */
static const uint8_t ctrl_alt_del_xlate[] = {0x1d, 0x38, 0xe0, 0x53};

static void update_irq(struct i8042 *k)
{
	int level = (k->count > 0) && (k->ctrl_byte & CTRL_KBD_INT) && !(k->status & ST_AUX);

	if (k->irq)
		k->irq(k->irq_opaque, level);
}

static void push(struct i8042 *k, uint8_t v)
{
	if (k->count == sizeof(k->buf))
		return;
	k->buf[(k->head + k->count) % sizeof(k->buf)] = v;
	k->count++;
	k->status |= ST_OBF;
}

static uint8_t pop(struct i8042 *k)
{
	uint8_t v;

	if (!k->count)
		return 0;
	v = k->buf[k->head];
	k->head = (k->head + 1) % sizeof(k->buf);
	if (--k->count == 0)
		k->status &= (uint8_t)~(ST_OBF | ST_AUX);
	return v;
}

static void do_reset(struct i8042 *k)
{
	k->counters.reset_count++;
	if (k->reset)
		k->reset(k->reset_opaque);
}

static void write_cmd(struct i8042 *k, uint8_t v)
{
	k->status |= ST_CMD;
	k->cmd = 0;
	switch (v) {
	case CMD_READ_CTRL:
		push(k, k->ctrl_byte);
		break;
	case CMD_WRITE_CTRL:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		k->cmd = v; /* parameter follows on the data port */
		break;
	case CMD_SELF_TEST:
		k->status |= ST_SYS;
		push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		push(k, 0x00);
		break;
	case CMD_AUX_TEST:
		push(k, 0xff); /* no aux port */
		break;
	case CMD_AUX_DISABLE:
		k->ctrl_byte |= 0x20;
		break;
	case CMD_AUX_ENABLE:
		k->ctrl_byte &= (uint8_t)~0x20;
		break;
	case CMD_KBD_DISABLE:
		k->ctrl_byte |= 0x10;
		break;
	case CMD_KBD_ENABLE:
		k->ctrl_byte &= (uint8_t)~0x10;
		break;
	case CMD_READ_INPORT:
		push(k, 0x80);
		break;
	case CMD_READ_OUTPORT:
		push(k, k->outport);
		break;
	case CMD_PULSE_RESET:
		do_reset(k);
		break;
	default:
		break;
	}
}

static void write_data(struct i8042 *k, uint8_t v)
{
	k->status &= (uint8_t)~ST_CMD;
	switch (k->cmd) {
	case CMD_WRITE_CTRL:
		k->ctrl_byte = v;
		break;
	case CMD_WRITE_OUTPORT:
		k->outport = v;
		if (!(v & 0x01))
			do_reset(k); /* bit 0 low: CPU reset */
		break;
	case CMD_WRITE_KBD_OUT:
		push(k, v);
		break;
	case CMD_WRITE_AUX_OUT:
		push(k, v);
		k->status |= ST_AUX;
		break;
	case CMD_WRITE_AUX:
		break; /* no aux device: the byte is lost */
	default:
		/* a keyboard command: answer like a PS/2 keyboard */
		switch (v) {
		case 0xff: /* reset */
			push(k, KBD_ACK);
			push(k, 0xaa);
			break;
		case 0xf2: /* identify */
			push(k, KBD_ACK);
			push(k, 0xab);
			push(k, 0x83);
			break;
		case 0xee: /* echo */
			push(k, 0xee);
			break;
		default:
			push(k, KBD_ACK);
			break;
		}
		break;
	}
	k->cmd = 0;
}

static void i8042_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = 0;

	if (off == OFF_DATA) {
		if (!k->count)
			k->counters.missed_read_count++;
		v = pop(k);
		k->counters.read_count++;
	}
	else if (off == OFF_CMD)
		v = k->status;
	memset(data, 0, len);
	*(uint8_t *)data = v;
	if (off == OFF_DATA) {
		/* The controller hands out one byte at a time and interrupts
		 * for each: drop the line, then raise it again for the next
		 * byte. ISA IRQ 1 is edge-triggered; Linux's handler reads
		 * one byte per interrupt (a keyboard's 3-byte ID answer, the
		 * 4 bytes of Ctrl-Alt-Del). */
		if (k->irq)
			k->irq(k->irq_opaque, 0);
		update_irq(k);
	}
}

static void i8042_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	k->counters.write_count++;
	if (off == OFF_DATA)
		write_data(k, v);
	else if (off == OFF_CMD)
		write_cmd(k, v);
	update_irq(k);
}

const struct bus_ops i8042_bus_ops = {.read = i8042_read, .write = i8042_write};

void i8042_init(struct i8042 *k, void (*reset)(void *), void *reset_opaque,
		void (*irq)(void *, int), void *irq_opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->reset_opaque = reset_opaque;
	k->irq = irq;
	k->irq_opaque = irq_opaque;
	k->ctrl_byte = 0x47; /* kbd irq, system flag, translation */
	k->outport = 0x01;   /* CPU running */
	k->status = ST_SYS;
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	if (k->count + sizeof(ctrl_alt_del) > sizeof(k->buf)) {
		unsigned pending = k->count;

		pthread_mutex_unlock(&k->lock);
		return err_set(EBUSY,
			       "i8042: the guest has not read the keyboard buffer (%u of %zu "
			       "bytes pending); Ctrl-Alt-Del not sent",
			       pending, sizeof(k->buf));
	}
	for (size_t i = 0; i < sizeof(ctrl_alt_del); i++)
		push(k, (k->ctrl_byte & CTRL_XLATE) ? ctrl_alt_del_xlate[i] : ctrl_alt_del[i]);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void i8042_publish_metrics(struct i8042 *k)
{
	struct metrics_i8042 now;

	pthread_mutex_lock(&k->lock);
	now = k->counters;
	pthread_mutex_unlock(&k->lock);
#define K(f) METRIC_ADD(metrics.i8042.f, now.f - k->published.f);
	METRICS_I8042(K)
#undef K
	k->published = now;
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&k->lock);
	st->status = k->status;
	st->cmd = k->cmd;
	st->ctrl_byte = k->ctrl_byte;
	st->outport = k->outport;
	st->head = k->head;
	st->count = k->count;
	memcpy(st->buf, k->buf, sizeof(st->buf));
	pthread_mutex_unlock(&k->lock);
}

int i8042_restore(struct i8042 *k, const struct i8042_state *st)
{
	if (st->head >= sizeof(k->buf) || st->count > sizeof(k->buf))
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->status = st->status;
	k->cmd = st->cmd;
	k->ctrl_byte = st->ctrl_byte;
	k->outport = st->outport;
	k->head = st->head;
	k->count = st->count;
	memcpy(k->buf, st->buf, sizeof(k->buf));
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
