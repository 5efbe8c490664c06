/* The boot path: kernel, initrd and command line into guest memory, and the
 * measured-boot hashes when asked for (a UKI always).
 *
 * Each file is read once, straight into guest memory at its load address:
 * its page-aligned part mapped from the file under a read lease (kimage.map,
 * gm_map_file), the rest copied; no heap copy on the way. The kernel is read whole
 * into memory only where the whole image is needed: a UKI (its PE
 * container), host-side decompression, a measured ELF vmlinux; the hash is
 * then of that one copy, the very bytes that are loaded. A measured bzImage
 * is hashed from what was loaded: its setup part as read (the header ember
 * used comes from that read), the protected-mode part from guest memory,
 * any bytes after it from the file. The initrd is always read into guest
 * memory directly; its hash is taken from there. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember/error.h"
#include "ember/loader.h"
#include "ember/log.h"
#include "ember/util.h"
#include "vm_priv.h"

#define KERNEL_MAX_BYTES (512ULL * MiB)
#define BZ_HEAD_MAX (128 * 1024)

/* What the guest boots with. */
struct boot_inputs {
	bool may_map;	      /* anonymous RAM, nothing writes it behind the VMM thread */
	int kfd;	      /* the kernel file */
	bool kfd_mapped;      /* guest RAM maps part of it: the VM keeps kfd (and its lease) */
	bool ifd_leased;      /* the initrd file is under a read lease */
	uint8_t *file;	      /* the kernel file read whole, or NULL (loaded with pread) */
	const uint8_t *fview; /* a UKI under a read lease: the file mapped read-only, */
	size_t fview_len;     /* parsed in place; its sections loaded from kfd */
	uint8_t *head;	      /* else, if measured: its first bytes (the bzImage setup part) */
	struct kimage kimg;   /* the kernel image: the file, or a UKI's .linux */
	struct uki_image uki; /* .ucode/.initrd point into file (UKI only) */
	int ifd;	      /* the initrd file, or -1 */
	uint64_t ifile_len;
	char *cmdline; /* before the virtio tokens */
	bool measure;
};

/* A read lease on fd (the file's owner, or CAP_LEASE): nobody opens the file
 * for writing or truncates it before ember has heard of it (SIGIO on the
 * signalfd, vm_file_lease_break) and let go. False if it cannot be had (a
 * writer exists, another owner, a file system without leases) or the file
 * is no longer size bytes: then the file is copied, not mapped. */
static bool take_lease(int fd, uint64_t size)
{
	struct stat st;

	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return false;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == size)
		return true;
	(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	return false;
}

/* Bytes guest RAM maps from files since fmaps[from]. */
static uint64_t mapped_since(const struct vm *vm, int from)
{
	uint64_t n = 0;

	for (int i = from; i < vm->mem.nfmaps; i++)
		n += vm->mem.fmaps[i].len;
	return n;
}

/* A file that guest RAM now maps keeps its fd and lease with the VM. An
 * unused lease goes when its fd is closed (boot_inputs_free, or the
 * measurement thread that still reads the file). */
static void keep_lease(struct vm *vm, int *fd, bool leased, bool mapped, int slot)
{
	if (!leased || *fd < 0 || !mapped)
		return;
	vm->lease_fds[slot] = *fd; /* 0: kernel, 1: initrd */
	*fd = -1;
}

static void boot_inputs_free(struct boot_inputs *in)
{
	if (in->fview)
		munmap((void *)in->fview, in->fview_len);
	if (in->kfd >= 0)
		close(in->kfd);
	if (in->ifd >= 0)
		close(in->ifd);
	free(in->file);
	free(in->head);
	free(in->cmdline);
}

static void log_uki_info(const struct uki_image *uki)
{
	if (uki->osrel_len) {
		const char *p = memmem(uki->osrel_sec, uki->osrel_len, "PRETTY_NAME=", 12);
		size_t n = 0;
		if (p) {
			p += 12;
			while (p + n < (const char *)uki->osrel_sec + uki->osrel_len &&
			       p[n] != '\n')
				n++;
		}
		log_info("UKI: os-release %.*s", (int)MIN(n, 200), p ? p : "(no PRETTY_NAME)");
	}
	if (uki->uname_len)
		log_info("UKI: kernel release %.*s", (int)MIN(uki->uname_len, 200),
			 (const char *)uki->uname_sec);
}

/* A Unified Kernel Image: .linux is the kernel, .ucode + .initrd the initrd,
 * .cmdline the command line unless the user overrides it explicitly. */
static int open_uki(struct boot_inputs *in, const struct vm_config *cfg, const uint8_t *file,
		    size_t len)
{
	struct uki_image *uki = &in->uki;
	int r;

	if ((r = loader_parse_uki(file, len, uki)) < 0)
		return r;
	if (in->fview) { /* .linux loaded from the file, its setup part as read here */
		in->kimg = (struct kimage){.fd = in->kfd,
					   .off = (uint64_t)(uki->linux_sec - in->fview),
					   .len = uki->linux_len,
					   .head = uki->linux_sec,
					   .head_len = MIN(uki->linux_len, BZ_HEAD_MAX),
					   .map = true};
	} else {
		in->kimg = kimage_mem(uki->linux_sec, uki->linux_len);
	}
	log_uki_info(uki);
	if (uki->cmdline_len && !(cfg->boot.cmdline && cfg->boot.cmdline_override)) {
		size_t n = strnlen((const char *)uki->cmdline_sec, uki->cmdline_len);
		while (n && (uki->cmdline_sec[n - 1] == '\n' || uki->cmdline_sec[n - 1] == ' '))
			n--;
		if (cfg->boot.cmdline)
			log_warn(
			    "UKI: using the image's .cmdline; the given command line is ignored "
			    "(pass --cmdline-override / cmdline_override to replace it)");
		in->cmdline = strndup((const char *)uki->cmdline_sec, n);
		if (!in->cmdline)
			return err_set(ENOMEM, "out of memory");
	}
	return 0;
}

static int open_kernel(struct boot_inputs *in, const struct vm_config *cfg)
{
	const char *path = cfg->boot.kernel_path;
	uint8_t head[0x400];
	uint64_t size;
	size_t n;
	bool uki, whole;
	int r;

	if ((r = open_regular_file(path, KERNEL_MAX_BYTES, &in->kfd, &size)) < 0)
		return err_wrap(-r, "kernel");
	in->kimg = (struct kimage){.fd = in->kfd, .len = (size_t)size};
	n = MIN((size_t)size, sizeof(head));
	if (kimage_read(&in->kimg, 0, head, n) < 0)
		return err_set(EIO, "kernel %s: read failed", path);
	uki = loader_is_uki(head, n);
	in->measure = cfg->boot.measured_boot || uki;
	whole = uki || (cfg->boot.kernel_decompress && loader_is_bzimage(head, n)) ||
		(in->measure && !loader_is_bzimage(head, n));
	if (!whole && in->measure) {
		/* a bzImage's setup part is at most 128 KiB (setup_sects <= 255) */
		in->kimg.head_len = MIN((size_t)size, BZ_HEAD_MAX);
		in->head = malloc(in->kimg.head_len);
		if (!in->head)
			return err_set(ENOMEM, "out of memory");
		if (kimage_read(&in->kimg, 0, in->head, in->kimg.head_len) < 0)
			return err_set(EIO, "kernel %s: read failed", path);
		in->kimg.head = in->head;
	}
	if (!whole) {
		in->kimg.map = in->may_map && take_lease(in->kfd, size);
		return 0;
	}
	if (uki && loader_is_pe(head, n) && !cfg->boot.kernel_decompress && in->may_map &&
	    take_lease(in->kfd, size)) {
		/* A UKI straight from its file: the file cannot change while
		 * the lease holds, so it is parsed where it lies (a read-only
		 * mapping: only the headers and small sections are read) and
		 * .linux, .ucode and .initrd go from the file into guest RAM,
		 * hashed as loaded; no copy of the whole image on the heap
		 * (--kernel-decompress needs .linux whole: read below). */
		void *v = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, in->kfd, 0);

		if (v != MAP_FAILED) {
			in->fview = v;
			in->fview_len = (size_t)size;
			if ((r = open_uki(in, cfg, in->fview, in->fview_len)) < 0)
				return err_wrap(-r, "kernel %s", path);
			log_info("UKI: sections loaded from the file (read lease), not read whole");
			return 0;
		}
		(void)fcntl(in->kfd, F_SETLEASE, F_UNLCK);
	}
	if ((r = read_fd_whole(in->kfd, path, (size_t)size, true, &in->file)) < 0)
		return err_wrap(-r, "kernel");
	in->kimg = kimage_mem(in->file, (size_t)size);
	if (uki && loader_is_pe(in->file, (size_t)size) &&
	    (r = open_uki(in, cfg, in->file, (size_t)size)) < 0)
		return err_wrap(-r, "kernel %s", path);
	return 0;
}

static int open_boot_inputs(struct boot_inputs *in, const struct vm_config *cfg, uint64_t mem_total,
			    bool may_map)
{
	int r;

	memset(in, 0, sizeof(*in));
	in->kfd = in->ifd = -1;
	in->may_map = may_map;
	if ((r = open_kernel(in, cfg)) < 0)
		return r;
	if (cfg->boot.initrd_path &&
	    (r = open_regular_file(cfg->boot.initrd_path, mem_total, &in->ifd, &in->ifile_len)) < 0)
		return err_wrap(-r, "initrd");
	if (!in->cmdline)
		in->cmdline =
		    strdup(cfg->boot.cmdline ? cfg->boot.cmdline : arch_layout.default_cmdline);
	return in->cmdline ? 0 : err_set(ENOMEM, "out of memory");
}

/* The initrd is the UKI's .ucode and .initrd, then the --initrd file, in one
 * range placed by the loader and written there directly. */
static int load_initrd(struct vm *vm, const struct vm_config *cfg, struct boot_inputs *in,
		       struct arch_boot *bs)
{
	const struct uki_image *u = &in->uki;
	uint64_t len = (uint64_t)u->ucode_len + u->initrd_len + in->ifile_len, gpa;
	struct kimage f = {.fd = in->ifd, .len = (size_t)in->ifile_len};
	int nf;
	const char *what = cfg->boot.initrd_path ? cfg->boot.initrd_path : "(from the UKI)";
	int r;

	if (len == 0)
		return 0; /* none, or an empty file: booted without one, as always */
	if ((r = loader_initrd_gpa(&vm->mem, &vm->kernel, (size_t)len, &gpa)) < 0)
		return err_wrap(-r, "initrd %s", what);
	f.map = in->ifd >= 0 && in->may_map && !u->ucode_len && !u->initrd_len &&
		take_lease(in->ifd, in->ifile_len);
	in->ifd_leased = f.map;
	nf = vm->mem.nfmaps;
	if (in->fview) { /* a UKI's sections from its file (under the kernel's lease) */
		struct kimage uc = {.fd = in->kfd, .len = u->ucode_len, .map = true};
		struct kimage rd = {.fd = in->kfd, .len = u->initrd_len, .map = true};

		uc.off = u->ucode_len ? (uint64_t)(u->ucode_sec - in->fview) : 0;
		rd.off = u->initrd_len ? (uint64_t)(u->initrd_sec - in->fview) : 0;
		if ((u->ucode_len && (r = kimage_load(&uc, &vm->mem, gpa, 0, u->ucode_len)) < 0) ||
		    (u->initrd_len &&
		     (r = kimage_load(&rd, &vm->mem, gpa + u->ucode_len, 0, u->initrd_len)) < 0))
			return err_set(-r, "initrd %s: loading %llu bytes at %#llx: %s", what,
				       (unsigned long long)len, (unsigned long long)gpa,
				       strerror(-r));
		if (vm->mem.nfmaps != nf)
			log_info("UKI initrd: %llu KiB mapped from the file into guest RAM",
				 (unsigned long long)(mapped_since(vm, nf) >> 10));
		in->kfd_mapped |= vm->mem.nfmaps != nf;
		nf = vm->mem.nfmaps;
	} else if ((u->ucode_len && (r = gm_fill(&vm->mem, gpa, u->ucode_sec, u->ucode_len)) < 0) ||
		   (u->initrd_len && (r = gm_fill(&vm->mem, gpa + u->ucode_len, u->initrd_sec,
						  u->initrd_len)) < 0)) {
		return err_set(-r, "initrd %s: loading %llu bytes at %#llx: %s", what,
			       (unsigned long long)len, (unsigned long long)gpa, strerror(-r));
	}
	if (in->ifile_len && (r = kimage_load(&f, &vm->mem, gpa + u->ucode_len + u->initrd_len, 0,
					      (size_t)in->ifile_len)) < 0)
		return err_set(-r, "initrd %s: loading %llu bytes at %#llx: %s", what,
			       (unsigned long long)len, (unsigned long long)gpa, strerror(-r));
	if (vm->mem.nfmaps != nf)
		log_info("initrd: %llu KiB mapped from the file into guest RAM (copy-on-write, "
			 "read lease)",
			 (unsigned long long)(mapped_since(vm, nf) >> 10));
	keep_lease(vm, &in->ifd, f.map, vm->mem.nfmaps != nf, 1);
	bs->initrd_gpa = gpa;
	bs->initrd_len = len;
	return 0;
}

/* A bzImage loaded from its file: the setup part as read (in->kimg.head), the
 * protected-mode part from guest memory, the rest (normally nothing) from
 * the file. */
static int measure_bzimage(struct vm *vm, const struct boot_inputs *in, char hex[MEASURE_HEX_LEN])
{
	size_t setup = 0, pm = 0, len = in->kimg.len, off;
	bool split = loader_bzimage_split(&vm->kernel, &setup, &pm) == 0;
	const uint8_t *loaded = split ? gm_slice(&vm->mem, vm->kernel.load_start, pm) : NULL;
	struct measure_stream *s;
	uint8_t buf[16384];
	int r;

	if (!split || setup > in->kimg.head_len || !loaded || setup > len || pm > len - setup)
		return err_set(EINVAL, "measured boot: the kernel is not the bzImage it was");
	if ((r = measure_begin(&s)) < 0)
		return r;
	if ((r = measure_add(s, in->kimg.head, setup)) < 0 || (r = measure_add(s, loaded, pm)) < 0)
		goto fail;
	for (off = setup + pm; off < len; off += sizeof(buf)) {
		size_t n = MIN(sizeof(buf), len - off);

		if (kimage_read(&in->kimg, off, buf, n) < 0) {
			r = err_set(EIO, "measured boot: reading the kernel failed");
			goto fail;
		}
		if ((r = measure_add(s, buf, n)) < 0)
			goto fail;
	}
	return measure_end(s, hex);
fail:
	measure_end(s, hex);
	return r;
}

/* SHA-256 of what was loaded: the kernel image as given (the one in-memory
 * copy that was loaded, or measure_bzimage), the initrd as it is in guest
 * memory, the final command line. */
static int measure(struct vm *vm, const struct boot_inputs *in, const struct arch_boot *bs,
		   const char *cmdline, size_t cmdlen)
{
	struct boot_measurements *m = &vm->measured;
	const void *initrd =
	    bs->initrd_len ? gm_slice(&vm->mem, bs->initrd_gpa, bs->initrd_len) : NULL;
	int r;

	if ((r = in->kimg.buf ? measure_sha256(in->kimg.buf, in->kimg.len, m->kernel)
			      : measure_bzimage(vm, in, m->kernel)) < 0 ||
	    (initrd && (r = measure_sha256(initrd, bs->initrd_len, m->initrd)) < 0) ||
	    (r = measure_sha256(cmdline, cmdlen, m->cmdline)) < 0)
		return r;
	log_info("measured boot: kernel sha256:%s initrd sha256:%s cmdline sha256:%s", m->kernel,
		 initrd ? m->initrd : "-", m->cmdline);
	return 0;
}

/* Measured boot off the path to the guest's first instruction: when the
 * kernel file (and the initrd file, if any) are under read leases, nothing
 * can change them from before ember first read them until the leases go,
 * so the files' own bytes are the bytes the guest was loaded with (mapped
 * pages are those very page-cache pages). A thread hashes them, read from
 * the files into one small buffer (not mapped: a fault on a file mapping
 * maps a whole large page-cache folio, up to 2 MiB of RSS), never from
 * guest memory (which the guest may already have changed), while the guest
 * boots; whoever needs the result (GET /, a lease break, vm_destroy) waits
 * for it (vm_measure_wait). */
#define MEASURE_CHUNK (64 * 1024)

/* One part of a file to hash. */
struct measure_part {
	int fd;
	uint64_t off, len;
};

struct measure_job {
	pthread_t thread;
	struct boot_measurements *out;
	struct measure_part kernel;    /* the kernel image (a UKI's .linux) */
	struct measure_part initrd[3]; /* a UKI's .ucode, .initrd, the initrd file */
	int fds[2];		       /* leased fds the job holds (closed at its end), or -1 */
	int r;
};

/* Add the parts to s through buf (MEASURE_CHUNK bytes). */
static int add_parts(struct measure_stream *s, const struct measure_part *p, int n, uint8_t *buf)
{
	for (int i = 0; i < n; i++) {
		for (uint64_t off = 0; off < p[i].len; off += MEASURE_CHUNK) {
			size_t len = (size_t)MIN((uint64_t)MEASURE_CHUNK, p[i].len - off);
			struct kimage f = {.fd = p[i].fd, .off = p[i].off, .len = (size_t)p[i].len};
			int r;

			if (kimage_read(&f, off, buf, len) < 0)
				return err_set(EIO, "measured boot: reading a leased file failed");
			if ((r = measure_add(s, buf, len)) < 0)
				return r;
		}
	}
	return 0;
}

static int hash_parts(const struct measure_part *p, int n, uint8_t *buf, char hex[MEASURE_HEX_LEN])
{
	struct measure_stream *s;
	int r;

	if ((r = measure_begin(&s)) < 0)
		return r;
	if ((r = add_parts(s, p, n, buf)) < 0) {
		measure_end(s, hex);
		return r;
	}
	return measure_end(s, hex);
}

static void *measure_thread(void *opaque)
{
	struct measure_job *j = opaque;
	bool initrd = j->initrd[0].len || j->initrd[1].len || j->initrd[2].len;
	uint8_t *buf = malloc(MEASURE_CHUNK);
	int r = buf ? 0 : -ENOMEM;

	/* Runs under the filter of the thread that made it (the VMM thread's
	 * boot filter: preadv, close, write are all it needs); no filter of
	 * its own, as none of the Firecracker thread kinds a user's
	 * --seccomp-filter file describes is this one. */
	if (r == 0)
		r = hash_parts(&j->kernel, 1, buf, j->out->kernel);
	if (r == 0 && initrd)
		r = hash_parts(j->initrd, 3, buf, j->out->initrd);
	free(buf);
	if (r < 0) {
		log_error("measured boot: %s", err_msg());
		memset(j->out, 0, sizeof(*j->out));
	} else {
		log_info("measured boot: kernel sha256:%s initrd sha256:%s cmdline sha256:%s",
			 j->out->kernel, initrd ? j->out->initrd : "-", j->out->cmdline);
	}
	j->r = r;
	for (int i = 0; i < 2; i++)
		if (j->fds[i] >= 0)
			close(j->fds[i]); /* its lease goes with it */
	return NULL;
}

/* Hash in a thread if the inputs are leased files (else -EAGAIN: hash now). */
static int measure_async(struct vm *vm, struct boot_inputs *in, const char *cmdline, size_t cmdlen)
{
	const struct uki_image *u = &in->uki;
	struct measure_job *j;
	int r, kfd = in->kfd >= 0 ? in->kfd : vm->lease_fds[0];
	int ifd = in->ifd >= 0 ? in->ifd : vm->lease_fds[1];

	if (in->kimg.buf || !in->kimg.map || (in->ifd >= 0 && !in->ifd_leased) ||
	    (in->ifile_len && ifd < 0) || kfd < 0)
		return -EAGAIN;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -EAGAIN;
	j->out = &vm->measured;
	/* a bzImage: the file from 0; a UKI: .linux, .ucode, .initrd in it */
	j->kernel = (struct measure_part){.fd = kfd, .off = in->kimg.off, .len = in->kimg.len};
	if (in->fview) {
		if (u->ucode_len)
			j->initrd[0] =
			    (struct measure_part){.fd = kfd,
						  .off = (uint64_t)(u->ucode_sec - in->fview),
						  .len = u->ucode_len};
		if (u->initrd_len)
			j->initrd[1] =
			    (struct measure_part){.fd = kfd,
						  .off = (uint64_t)(u->initrd_sec - in->fview),
						  .len = u->initrd_len};
	}
	if (in->ifile_len)
		j->initrd[2] = (struct measure_part){.fd = ifd, .off = 0, .len = in->ifile_len};
	if ((r = measure_sha256(cmdline, cmdlen, vm->measured.cmdline)) < 0) {
		free(j);
		return r;
	}
	/* the job owns the fds the VM does not keep (the VM's own outlive it:
	 * vm_measure_wait comes before they are closed) */
	j->fds[0] = in->kfd;
	j->fds[1] = in->ifd;
	if ((r = pthread_create(&j->thread, NULL, measure_thread, j)) != 0) {
		free(j);
		return -EAGAIN;
	}
	in->kfd = in->ifd = -1;
	vm->mjob = j;
	log_info("measured boot: hashing the leased kernel/initrd files while the guest boots");
	return 0;
}

void vm_measure_wait(struct vm *vm)
{
	struct measure_job *j = vm->mjob;

	if (!j)
		return;
	pthread_join(j->thread, NULL);
	vm->mjob = NULL;
	free(j);
}

static int load_kernel(struct vm *vm, const struct vm_config *cfg, const struct boot_inputs *in)
{
	int r;

	if (cfg->boot.kernel_decompress && in->kimg.buf &&
	    loader_is_bzimage(in->kimg.buf, in->kimg.len)) {
		r = loader_load_bzimage_decompressed(&vm->mem, in->kimg.buf, in->kimg.len,
						     &vm->kernel);
		if (r == 0)
			log_info(
			    "kernel: bzImage payload decompressed on the host, vmlinux entry %#llx",
			    (unsigned long long)vm->kernel.entry);
	} else {
		r = loader_load_image(&vm->mem, &in->kimg, &vm->kernel);
	}
	return r < 0 ? err_wrap(-r, "kernel %s", cfg->boot.kernel_path) : 0;
}

int vm_load_guest(struct vm *vm, const struct vm_config *cfg, struct arch_boot *bs)
{
	struct boot_inputs in;
	char *cmdline = NULL;
	size_t cmdlen;
	bool may_map = vm->mem.anon;
	int r, nf = vm->mem.nfmaps;

	memset(bs, 0, sizeof(*bs));
	memset(&vm->measured, 0, sizeof(vm->measured));
	bs->kernel = &vm->kernel;
	/* io_uring (a drive's io_engine "Async") writes guest RAM outside the
	 * VMM thread, which vm_file_lease_break could not stop: copy then */
	for (int i = 0; i < cfg->ndrives; i++)
		may_map = may_map && !cfg->drives[i].io_async;
	if ((r = open_boot_inputs(&in, cfg, vm->mem.total, may_map)) < 0 ||
	    (r = load_kernel(vm, cfg, &in)) < 0)
		goto out;
	if (vm->mem.nfmaps != nf)
		log_info("kernel: %llu KiB mapped from the file into guest RAM (copy-on-write, "
			 "read lease)",
			 (unsigned long long)(mapped_since(vm, nf) >> 10));
	in.kfd_mapped = vm->mem.nfmaps != nf;
	if ((r = load_initrd(vm, cfg, &in, bs)) < 0)
		goto out;
	keep_lease(vm, &in.kfd, in.kimg.map, in.kfd_mapped, 0);

	if ((r = vm_virtio_cmdline(vm, cfg, in.cmdline, &cmdline)) < 0)
		goto out;
	cmdlen = strlen(cmdline);
	if (cmdlen > arch_cmdline_max(&vm->kernel)) {
		r = err_set(E2BIG, "command line is %zu bytes, the kernel accepts at most %u",
			    cmdlen, arch_cmdline_max(&vm->kernel));
		goto out;
	}
	bs->cmdline_gpa = arch_cmdline_gpa();
	if (bs->cmdline_gpa && gm_write(&vm->mem, bs->cmdline_gpa, cmdline, cmdlen + 1) < 0) {
		r = err_set(EFAULT, "command line outside guest RAM");
		goto out;
	}
	bs->cmdline_len = (uint32_t)cmdlen;
	if (in.measure && (r = measure_async(vm, &in, cmdline, cmdlen)) == -EAGAIN)
		r = measure(vm, &in, bs, cmdline, cmdlen);
	bs->cmdline = cmdline; /* the VM's until vm_build has used it */
	vm->cmdline = cmdline;
	cmdline = NULL;
out:
	free(cmdline);
	boot_inputs_free(&in);
	return r;
}
