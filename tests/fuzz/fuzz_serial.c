/* libFuzzer: the 16550A serial port (serial.h) as the guest drives it --
 * any sequence of register writes and reads at COM1's eight offsets, with
 * host input pushed in between, output to /dev/null or discarded, with or
 * without the serial_out_path rate limiter -- and its snapshot state: a
 * save/restore round trip must give back the same state, and a restore of
 * arbitrary bytes is refused or leaves a state that works on.
 *
 * Input: one flags byte (bit 0: output to /dev/null, bit 1: a 16-byte
 * bucket refilled every ms), then 3-byte operations {op, offset, value}. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void irq(void *opaque, int level)
{
	(void)opaque;
	if (level != 0 && level != 1)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_bucket_cfg limit = {.present = true, .size = 16, .refill_time_ms = 1};
	struct serial s;
	struct serial_state a, b;
	int fd = -1;

	if (size < 1)
		return 0;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (data[0] & 1)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	serial_init(&s, fd, irq, NULL);
	if (data[0] & 2)
		serial_set_out_limit(&s, &limit);
	for (size_t i = 1; i + 3 <= size; i += 3) {
		uint8_t op = data[i], off = data[i + 1] & 7, v = data[i + 2], r;

		switch (op % 7) {
		case 0:
		case 1:
			serial_bus_ops.write(&s, off, &v, 1);
			break;
		case 2:
			serial_bus_ops.read(&s, off, &r, 1);
			break;
		case 3: { /* host input: the next v bytes of the input */
			size_t n = v < size - i - 3 ? v : size - i - 3;

			if (serial_push_input(&s, data + i + 3, n) > SERIAL_FIFO_LEN)
				__builtin_trap();
			if (serial_input_room(&s) > SERIAL_FIFO_LEN)
				__builtin_trap();
			break;
		}
		case 4:
			serial_publish_metrics(&s);
			break;
		case 5: /* snapshot round trip: the same state back */
			memset(&a, 0, sizeof(a));
			memset(&b, 0, sizeof(b));
			serial_save(&s, &a);
			if (serial_restore(&s, &a) != 0)
				__builtin_trap();
			serial_save(&s, &b);
			if (memcmp(&a, &b, sizeof(a)) != 0)
				__builtin_trap();
			break;
		case 6: /* a hostile snapshot: the next bytes as the state */
			if (size - i - 3 >= sizeof(a)) {
				memcpy(&a, data + i + 3, sizeof(a));
				(void)serial_restore(&s, &a);
				i += sizeof(a);
			}
			break;
		}
	}
	serial_destroy(&s);
	if (fd >= 0)
		close(fd);
	return 0;
}
