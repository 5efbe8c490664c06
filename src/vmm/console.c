/* Host side of the serial console: stdout/stdin in raw mode (restored on
 * every way out), a file, or nothing. Ctrl-A x quits, Ctrl-A Ctrl-A sends
 * Ctrl-A. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/log.h"
#include "vm_priv.h"

struct console {
	struct vm *vm;
	bool reading;    /* stdin is in the event loop */
	bool stdin_eof;
	bool escape;     /* Ctrl-A seen */
	int wake_efd;    /* serial FIFO drained: read stdin again */
};

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

static void restore_terminal(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void fatal_signal(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int raw_mode(void)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	struct termios tio;
	struct sigaction sa;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return 0;
	tio_saved = 1;
	atexit(restore_terminal);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	tio = saved_tio;
	cfmakeraw(&tio);
	tio.c_oflag |= OPOST | ONLCR; /* keep \n -> \r\n on output */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) < 0)
		return err_set(errno, "setting the terminal to raw mode: %s", strerror(errno));
	return 0;
}

static void stdin_ready(void *opaque, int fd, uint32_t events);

static void start_reading(struct console *c)
{
	if (c->reading || c->stdin_eof)
		return;
	if (el_add(c->vm->el, STDIN_FILENO, EPOLLIN, stdin_ready, c) == 0)
		c->reading = true;
}

static void stop_reading(struct console *c)
{
	if (!c->reading)
		return;
	el_remove(c->vm->el, STDIN_FILENO);
	c->reading = false;
}

static void stdin_ready(void *opaque, int fd, uint32_t events)
{
	struct console *c = opaque;
	uint8_t buf[SERIAL_FIFO_LEN], out[SERIAL_FIFO_LEN];
	size_t room = serial_input_room(&c->vm->serial), n = 0;
	ssize_t got;

	(void)events;
	if (room == 0) {
		stop_reading(c); /* resumed by the drained callback */
		return;
	}
	got = read(fd, buf, room);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		c->stdin_eof = true;
		stop_reading(c);
		return;
	}
	for (ssize_t i = 0; i < got; i++) {
		if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X') {
				log_info("console: Ctrl-A x, stopping the VM");
				vm_request_exit(c->vm, EMBER_EXIT_OK);
				return;
			}
			if (buf[i] != 0x01)
				out[n++] = 0x01;
			out[n++] = buf[i];
		} else if (buf[i] == 0x01 && tio_saved) {
			c->escape = true;
		} else {
			out[n++] = buf[i];
		}
	}
	if (n)
		serial_push_input(&c->vm->serial, out, n);
}

static void fifo_drained(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;

	if (write(c->wake_efd, &one, sizeof(one)) < 0) {
		/* counter saturated: a wake-up is pending anyway */
	}
}

static void wake_ready(void *opaque, int fd, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
	start_reading(c);
}

int console_open(struct vm *vm, const struct console_cfg *cfg, bool read_stdin, int *out_fd)
{
	struct console *c;
	int r, fd;

	*out_fd = -1;
	if (cfg->kind == CONSOLE_NONE)
		return 0;
	if (cfg->kind == CONSOLE_FILE) {
		/* Never blocking: the vCPU thread writes it. A FIFO without a
		 * reader is opened read-write (as the log does) so that the
		 * open succeeds and a full pipe drops bytes instead. */
		fd = open(cfg->path,
			  O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
			      (cfg->append ? O_APPEND : O_TRUNC),
			  0644);
		if (fd < 0 && errno == ENXIO)
			fd = open(cfg->path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return err_set(errno, "console file %s: %s", cfg->path, strerror(errno));
		vm->serial_out_fd = fd;
		*out_fd = fd;
		return 0;
	}
	*out_fd = STDOUT_FILENO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(ENOMEM, "out of memory");
	c->vm = vm;
	c->stdin_eof = !read_stdin; /* never read */
	c->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_efd < 0) {
		free(c);
		return err_set(errno, "eventfd: %s", strerror(errno));
	}
	vm->console = c;
	if ((r = raw_mode()) < 0)
		return r;
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	vm->serial.rx_drained = fifo_drained;
	vm->serial.rx_drained_opaque = c;
	el_add(vm->el, c->wake_efd, EPOLLIN, wake_ready, c);
	start_reading(c);
	return 0;
}

void console_close(struct vm *vm)
{
	struct console *c = vm->console;

	if (c) {
		stop_reading(c);
		el_remove(vm->el, c->wake_efd);
		close(c->wake_efd);
		free(c);
		vm->console = NULL;
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) & ~O_NONBLOCK);
	}
	restore_terminal();
	if (vm->serial_out_fd >= 0) {
		close(vm->serial_out_fd);
		vm->serial_out_fd = -1;
	}
}
