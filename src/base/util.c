#include "ember/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/libc_compat.h"

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = *s++;
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = KiB;
		end++;
		break;
	case 'm':
	case 'M':
		mult = MiB;
		end++;
		break;
	case 'g':
	case 'G':
		mult = GiB;
		end++;
		break;
	case 't':
	case 'T':
		mult = GiB * 1024;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && mult > 1)
		end++;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

int open_regular_file(const char *path, uint64_t max_len, int *fd, uint64_t *size)
{
	struct stat st;
	int f, e;

	/* Non-blocking: a FIFO given as a file is refused, never waited on. */
	f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (f < 0) {
		e = errno;
		return err_set(e, "%s: %s", path, strerror(e));
	}
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return err_set(EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max_len) {
		close(f);
		return err_set(EFBIG, "%s: too large (%lld bytes, limit %llu)", path,
			       (long long)st.st_size, (unsigned long long)max_len);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int read_fd_whole(int fd, const char *path, size_t size, bool populate, uint8_t **buf)
{
	uint8_t *p = malloc(size ? size : 1);
	size_t got = 0;

	if (!p)
		return err_set(ENOMEM, "%s: out of memory", path);
	if (populate && size >= (1 << 20)) { /* fault the buffer in at once (best effort) */
		uintptr_t a = ALIGN_UP((uintptr_t)p, 4096),
			  b = ALIGN_DOWN((uintptr_t)p + size, 4096);
		if (b > a)
			(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
	}
	while (got < size) {
		struct iovec iov = {.iov_base = p + got, .iov_len = size - got};
		ssize_t n = preadv(fd, &iov, 1, (off_t)got);
		int e;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			free(p);
			return err_set(e, "%s: read failed: %s", path,
				       n < 0 ? strerror(e) : "the file shrank");
		}
		got += (size_t)n;
	}
	*buf = p;
	return 0;
}

int read_whole_file(const char *path, size_t max_len, uint8_t **buf, size_t *len)
{
	uint64_t size;
	int fd, r;

	if ((r = open_regular_file(path, max_len, &fd, &size)) < 0)
		return r;
	r = read_fd_whole(fd, path, (size_t)size, false, buf);
	close(fd);
	if (r == 0)
		*len = (size_t)size;
	return r;
}

static uint64_t rnd_state;
static int rnd_seeded;

void random_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (__atomic_load_n(&rnd_seeded, __ATOMIC_ACQUIRE))
		return;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* no entropy yet (early boot) or no getrandom: still distinct */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed ^= (uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 16;
	}
	__atomic_store_n(&rnd_state, seed, __ATOMIC_RELAXED);
	__atomic_store_n(&rnd_seeded, 1, __ATOMIC_RELEASE);
}

void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	random_seed();
	while (len) {
		/* splitmix64: a Weyl sequence through a 64-bit mixer */
		uint64_t z =
		    __atomic_add_fetch(&rnd_state, 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
		size_t n = len < sizeof(z) ? len : sizeof(z);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(p, &z, n);
		p += n;
		len -= n;
	}
}

uint8_t checksum8(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)(0x100 - sum);
}

bool signal_is_stop(int signo)
{
	return signo == SIGINT || signo == SIGTERM || signo == SIGHUP || signo == SIGQUIT;
}

int process_signalfd(void)
{
	sigset_t sigs;
	int fd;

	static const int sig_list[] = {
	    SIGINT,    SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,   SIGUSR2, SIGALRM,
	    SIGVTALRM, SIGPROF, SIGIO,	SIGPWR,	 SIGSTKFLT, SIGXCPU, SIGXFSZ,
	};

	sigemptyset(&sigs);
	for (size_t i = 0; i < sizeof(sig_list) / sizeof(sig_list[0]); i++)
		sigaddset(&sigs, sig_list[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++) /* vCPU threads unblock the kick */
		sigaddset(&sigs, s);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}
