/* The libc work that must happen before any seccomp filter is installed:
 * everything glibc (2.36, Debian 12) would otherwise do lazily, on first use,
 * with a syscall that some filter forbids. Called by seccomp_setup() on the
 * main thread before any other thread exists. Each item names the glibc
 * path and what it would have cost under a filter.
 *
 * Paths checked and left alone (no syscall outside the filters):
 *  - strerror(): the locale is never set (ember calls no setlocale), so the
 *    message lookup (__dcgettext) returns the C string without opening a
 *    catalogue; unknown numbers are formatted into a malloc'ed TLS buffer.
 *  - gmtime_r(): the RTC does its own civil-date arithmetic (vCPU threads).
 *  - abort()/assert(): tgkill(SIGABRT) and writes, in every filter.
 *  - thread creation (vCPU threads, under the "vmm boot" filter): mmap,
 *    mprotect (guard page), clone3, set_robust_list, rseq; thread exit:
 *    madvise(MADV_DONTNEED) of the stack, futex wake of the joiner, exit.
 *  - exit() on the VMM thread: atexit handlers (the terminal restored with
 *    TCSETS), stdio flush (write), exit_group: all in the "vmm" filter.
 *  - pthread_sigmask/sigaction in vcpu.c happen before the vcpu filter.
 * Sanitizer builds bring their own allocator (mallopt is a no-op there).
 *
 * musl 1.2.3 (the release binary, Makefile) has less to prepare: no malloc
 * arenas or tunables (mallocng: brk/mmap, munmap and madvise(MADV_FREE) on
 * free), qsort (smoothsort) and strerror make no syscall, abort() and
 * pthread_kill() use tkill, threads are made with clone and leave with
 * exit (munmap of the stack first when detached), stdio writes with writev;
 * the filters list those forms too (seccomp_tables.c). The time zone and
 * the random seed below are needed the same way. */
#include <stdlib.h> /* first: defines __GLIBC__ under glibc */
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>

#include "ember/seccomp.h"
#include "ember/util.h"

/* malloc tunables, fixed at start-up so that the allocator behaves the same
 * whatever a client sends (mallopt also turns off glibc's dynamic mmap
 * threshold, which moves with the size of the last freed mmap'ed chunk). */
#define MALLOC_MMAP_THRESHOLD (256 * 1024)  /* larger blocks: mmap/munmap/mremap */
#define MALLOC_TRIM_THRESHOLD (1024 * 1024) /* free top of heap above this: brk down */
#define MALLOC_TOP_PAD (256 * 1024)	    /* slack kept on each brk up or down */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void seccomp_prepare_libc(void)
{
	/* 1. One malloc arena, the main (brk) one, for every thread.
	 * Without this each thread that allocates gets its own arena, a 64 MiB
	 * mmap'ed "heap". Freeing into such an arena (_int_free -> heap_trim,
	 * when the free top exceeds the trim threshold) shrinks it with
	 * shrink_heap(), whose first call reads /proc/sys/vm/overcommit_memory
	 * (check_may_shrink_heap: openat + read + close, once per process) to
	 * choose between mmap(PROT_NONE) and madvise: openat is not in the api
	 * or vcpu filter. An API client triggers it with a few 50 KB bodies
	 * (issue 19), a thread's exit triggers it while its tcache is freed.
	 * Past 8 arenas (arena_test) arena_get2() also asks
	 * __get_nprocs_sched() (sched_getaffinity) how many arenas to allow.
	 * The main arena grows and trims with brk (every filter) and falls back
	 * to mmap; big blocks are mmap'ed: munmap/mremap, no PROT_EXEC.
	 * ember's threads allocate little after start-up (requests on the API
	 * and VMM threads, nothing per guest exit on vCPU threads), so one
	 * arena's lock costs nothing measurable. */
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD);
	mallopt(M_TOP_PAD, MALLOC_TOP_PAD);
#endif

	/* 2. The time zone: the first localtime/mktime/strftime("%Z") loads
	 * /etc/localtime (openat). tzset() now loads it once; localtime_r()
	 * never re-checks it afterwards. (localtime() and mktime() re-stat the
	 * file on every call: ember uses neither.) */
	tzset();

	/* 3. qsort() (the ELF and UKI loaders sort segments on the VMM thread,
	 * under the "vmm boot" filter): for arrays of 1 KiB or more glibc's
	 * msort asks sysconf(_SC_PHYS_PAGES) once, i.e. sysinfo(), which no
	 * filter allows. Sort 1 KiB now so that the answer is cached. */
	{
		int v[256];

		for (size_t i = 0; i < ARRAY_SIZE(v); i++)
			v[i] = (int)(ARRAY_SIZE(v) - i);
		qsort(v, ARRAY_SIZE(v), sizeof(v[0]), cmp_int);
	}

	/* 4. Random bytes (a network interface without guest_mac gets a random
	 * MAC at InstanceStart, on the VMM thread): the generator is seeded
	 * with getrandom() now, which no filter allows (util.h). */
	random_seed();
}
