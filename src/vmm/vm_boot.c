/* The boot path: kernel, initrd and command line into guest memory, and the
 * measured-boot hashes when asked for (a UKI always).
 *
 * Each file is read once, straight into guest memory at its load address
 * (sendfile from the page cache into the guest-RAM memfd: one copy, pages
 * never zeroed first): no heap copy on the way. The kernel is read whole
 * into memory only where the whole image is needed: a UKI (its PE
 * container), host-side decompression, a measured ELF vmlinux; the hash is
 * then of that one copy, the very bytes that are loaded. A measured bzImage
 * is hashed from what was loaded: its setup part as read (the header ember
 * used comes from that read), the protected-mode part from guest memory,
 * any bytes after it from the file. The initrd is always read into guest
 * memory directly; its hash is taken from there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
	int kfd;	      /* the kernel file */
	uint8_t *file;	      /* the kernel file read whole, or NULL (loaded with pread) */
	uint8_t *head;	      /* else, if measured: its first bytes (the bzImage setup part) */
	struct kimage kimg;   /* the kernel image: the file, or a UKI's .linux */
	struct uki_image uki; /* .ucode/.initrd point into file (UKI only) */
	int ifd;	      /* the initrd file, or -1 */
	uint64_t ifile_len;
	char *cmdline; /* before the virtio tokens */
	bool measure;
};

static void boot_inputs_free(struct boot_inputs *in)
{
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
static int open_uki(struct boot_inputs *in, const struct vm_config *cfg)
{
	struct uki_image *uki = &in->uki;
	int r;

	if ((r = loader_parse_uki(in->file, in->kimg.len, uki)) < 0)
		return r;
	in->kimg = kimage_mem(uki->linux_sec, uki->linux_len);
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
	if (!whole)
		return 0;
	if ((r = read_fd_whole(in->kfd, path, (size_t)size, true, &in->file)) < 0)
		return err_wrap(-r, "kernel");
	in->kimg = kimage_mem(in->file, (size_t)size);
	if (uki && loader_is_pe(in->file, (size_t)size) && (r = open_uki(in, cfg)) < 0)
		return err_wrap(-r, "kernel %s", path);
	return 0;
}

static int open_boot_inputs(struct boot_inputs *in, const struct vm_config *cfg, uint64_t mem_total)
{
	int r;

	memset(in, 0, sizeof(*in));
	in->kfd = in->ifd = -1;
	if ((r = open_kernel(in, cfg)) < 0)
		return r;
	if (cfg->boot.initrd_path &&
	    (r = open_regular_file(cfg->boot.initrd_path, mem_total, &in->ifd, &in->ifile_len)) < 0)
		return err_wrap(-r, "initrd");
	if (!in->cmdline)
		in->cmdline = strdup(cfg->boot.cmdline ? cfg->boot.cmdline : arch_layout.default_cmdline);
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
	const char *what = cfg->boot.initrd_path ? cfg->boot.initrd_path : "(from the UKI)";
	int r;

	if (len == 0)
		return 0; /* none, or an empty file: booted without one, as always */
	if ((r = loader_initrd_gpa(&vm->mem, &vm->kernel, (size_t)len, &gpa)) < 0)
		return err_wrap(-r, "initrd %s", what);
	if ((u->ucode_len && (r = gm_fill(&vm->mem, gpa, u->ucode_sec, u->ucode_len)) < 0) ||
	    (u->initrd_len &&
	     (r = gm_fill(&vm->mem, gpa + u->ucode_len, u->initrd_sec, u->initrd_len)) < 0) ||
	    (in->ifile_len && (r = kimage_load(&f, &vm->mem, gpa + u->ucode_len + u->initrd_len, 0,
					       (size_t)in->ifile_len)) < 0))
		return err_set(-r, "initrd %s: loading %llu bytes at %#llx: %s", what,
			       (unsigned long long)len, (unsigned long long)gpa, strerror(-r));
	bs->initrd_gpa = gpa;
	bs->initrd_len = len;
	return 0;
}

/* A bzImage loaded from its file: the setup part as read (in->head), the
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
	if ((r = measure_add(s, in->head, setup)) < 0 || (r = measure_add(s, loaded, pm)) < 0)
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
	int r;

	memset(bs, 0, sizeof(*bs));
	memset(&vm->measured, 0, sizeof(vm->measured));
	bs->kernel = &vm->kernel;
	if ((r = open_boot_inputs(&in, cfg, vm->mem.total)) < 0 ||
	    (r = load_kernel(vm, cfg, &in)) < 0)
		goto out;
	if ((r = load_initrd(vm, cfg, &in, bs)) < 0)
		goto out;

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
	if (in.measure)
		r = measure(vm, &in, bs, cmdline, cmdlen);
	bs->cmdline = cmdline; /* the VM's until vm_build has used it */
	vm->cmdline = cmdline;
	cmdline = NULL;
out:
	free(cmdline);
	boot_inputs_free(&in);
	return r;
}
