# ember — build, test, bench, run. `make help` lists the targets.
#
# Sources are picked up by directory: every src/**/*.c is part of the VMM
# library (build/libember.a) except src/api/main.c; every tests/unit/test_*.c
# and tests/device/test_*.c is one cmocka binary.

# ARCH=aarch64 cross-builds ember for arm64 hosts (Debian's
# gcc-aarch64-linux-gnu and the arm64 -dev packages, set up by
# tools/setup.sh --aarch64) into build-aarch64/: `make ARCH=aarch64`.
# Directories named after an architecture (src/arch/x86_64, src/vmm/aarch64,
# ...) are built only for it.
HOST_ARCH := $(shell uname -m)
ARCH     ?= $(HOST_ARCH)
ARCHES   := x86_64 aarch64
ifeq ($(filter $(ARCH),$(ARCHES)),)
$(error ARCH=$(ARCH): ember builds for $(ARCHES))
endif
ifneq ($(ARCH),$(HOST_ARCH))
CROSS    := $(ARCH)-linux-gnu-
CC       := $(CROSS)gcc
BUILD    ?= build-$(ARCH)
SETUP_FLAGS := --$(ARCH)
else
CC       ?= gcc
BUILD    ?= build
SETUP_FLAGS :=
endif
PREFIX   ?= /usr/local
SAN      ?=
V        ?=

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -Wformat=2 -Wmissing-prototypes -fno-strict-aliasing \
            -Iinclude -D_GNU_SOURCE -DEMBER_VERSION='"$(VERSION)"' -DEMBER_GIT_REV='"$(GIT_REV)"'
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
# The glibc link (tests, sanitizer builds, and ember where musl cannot be
# had: see "ember itself" below). Linked statically where Debian ships an
# archive (all but cJSON): fewer shared objects to map and relocate at
# start-up (measured: 2.2 -> 1.4 CPU ms to API-ready) and fewer files for
# `ember jail` to copy into the chroot.
# Order: the archives whose code runs at every start (libcap-ng's
# constructor, Nettle's SHA-256, libfdt, liburing, cJSON) right after
# ember's own code, those it runs only on request (libseccomp: the report
# mode; the decompressors: --kernel-decompress) after them, so that the code
# the start-up touches is in fewer page-cache folios of the binary (a fault
# maps the whole folio on this host's kernel; measured with the order below:
# text+rodata resident at the first KVM_RUN 1508 -> 1332 KiB, with the NSS
# stubs of src/api/static_nss.c).
ifeq ($(ARCH),x86_64)
HOT_LIBS  := -lcap-ng -lnettle -lfdt -luring
COLD_LIBS := -lseccomp -lz -llzma -llz4 -lzstd
else
# aarch64: no host-side decompression (that is the x86 bzImage loader's).
# Debian's libfdt-dev is not multi-arch: setup.sh unpacks the arm64 archive
# into $(BUILD)/sysroot (the headers are the host's, the same on every arch).
HOT_LIBS  := -lcap-ng -lnettle -lfdt -luring
COLD_LIBS := -lseccomp -lz
LDFLAGS  += -L$(BUILD)/sysroot/usr/lib/$(ARCH)-linux-gnu
endif
LDLIBS   := -Wl,-Bstatic $(HOT_LIBS) $(COLD_LIBS) -Wl,-Bdynamic -lcjson -lpthread
# ember itself is one static PIE, as Firecracker is one static binary: no
# ld.so, libc.so or libcjson.so to map and relocate at every start (measured:
# VMM RSS at the first KVM_RUN 2432 -> ~1500 KiB, 0.69x kvmtool's), ASLR kept
# (static-pie). cJSON, the one library Debian ships without an archive, is
# built from Debian's source of the installed version (tools/cjson-static.sh);
# where that cannot be done, ember is linked as before (dynamic libc and
# libcjson). The sanitizer build stays dynamic (ASan needs it), as do the
# tests, the fuzz targets (LDLIBS) and valgrind's copy (tests/ember-dynamic).
CJSON_A  := $(BUILD)/cjson/libcjson.a
STATIC_NSS := $(BUILD)/src/api/static_nss.o
ifeq ($(SAN),1)
EMBER_LINK = $(LDLIBS)
else
EMBER_LINK = $$(if [ -f $(CJSON_A) ]; then \
                 echo "-static-pie $(STATIC_NSS) $(HOT_LIBS) $(CJSON_A) $(COLD_LIBS) -lpthread"; \
               else echo "$(LDLIBS)"; fi)
endif

OTHER_ARCHES := $(filter-out $(ARCH),$(ARCHES))
LIB_SRCS := $(filter-out src/api/main.c src/api/static_nss.c,$(shell find src -name '*.c' \
              $(foreach a,$(OTHER_ARCHES),-not -path '*/$(a)/*') | sort))
# + the built-in seccomp filters, compiled to BPF at build time (seccomp.h)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/seccomp_bpf.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
DEV_SRCS := $(sort $(wildcard tests/device/test_*.c))
DEV_BINS := $(DEV_SRCS:tests/device/%.c=$(BUILD)/tests/device/%)
DEV_HELPERS := $(filter-out $(DEV_SRCS),$(wildcard tests/device/*.c))
DEV_HELPER_OBJS := $(DEV_HELPERS:%.c=$(BUILD)/%.o)
EMBER    := $(BUILD)/ember
UFFD_HANDLER := $(BUILD)/tools/uffd_handler
SETUP_STAMP := $(BUILD)/.setup-done

Q := $(if $(V),,@)

.PHONY: all cross-aarch64 nested-aarch64 setup test check-layers unit device e2e e2e-linux check-asan run bench install install-files clean help fuzz format testguest

ifeq ($(ARCH),x86_64)
all: $(EMBER) testguest $(UFFD_HANDLER)
else
all: $(EMBER) $(UFFD_HANDLER) $(BUILD)/tools/seccomp_gen
endif

help:
	@echo "make            build $(EMBER) and the test guest"
	@echo "make run        set up, build and boot a Linux microVM with the console attached"
	@echo "make test       set up, build and run every test (unit, device, e2e, short Linux boot)"
	@echo "make ARCH=aarch64  cross-build ember for arm64 hosts into build-aarch64/"
	@echo "make check-layers  no #include goes up a layer (tools/check-layers.sh)"
	@echo "make unit       cmocka unit tests only;  make unit T=test_memory  one test binary"
	@echo "make device     guest-less device harness tests"
	@echo "make e2e        boot the test guest under KVM"
	@echo "make e2e-linux  boot Linux guests and check what the kernel prints"
	@echo "make nested     Linux user space under ember under QEMU's emulated KVM (tests/nested)"
	@echo "make nested-aarch64  the same for ember-aarch64 under qemu-system-aarch64"
	@echo "make check-asan the same tests in an ASan+UBSan build (build-asan/)"
	@echo "make bench      benchmarks (boot time, RSS, device throughput, API latency)"
	@echo "make fuzz       libFuzzer targets (FUZZ_SECONDS=N each)"
	@echo "make install    install ember into PREFIX ($(PREFIX)), with firecracker and jailer symlinks"
	@echo "make clean      remove build directories"

# ---- set-up: install the Debian packages the build, tests and run need ----
setup: $(SETUP_STAMP)
$(SETUP_STAMP): tools/setup.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)tools/setup.sh $(SETUP_FLAGS) $(if $(SETUP_FLAGS),$(BUILD)/sysroot)
	$(Q)touch $@

# ---- the VMM ----
$(BUILD)/%.o: %.c | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

include firmware/oneshot-init/oneshot-init.mk
$(BUILD)/libember.a: $(LIB_OBJS) $(OSI_BLOB)
	$(Q)rm -f $@ && ar rcs $@ $^

# The built-in seccomp filters: tools/seccomp_gen compiles the tables of
# seccomp_filters.c with libseccomp into C (a build product, not committed);
# at run time ember only installs them. Same flags as ember (sanitizer extras).
SECCOMP_GEN_OBJS := $(BUILD)/src/vmm/security/seccomp_tables.o $(BUILD)/src/vmm/security/seccomp_filters.o \
		    $(BUILD)/src/base/error.o
$(BUILD)/tools/seccomp_gen: tools/seccomp_gen.c $(SECCOMP_GEN_OBJS) | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(SECCOMP_GEN_OBJS) \
		-Wl,-Bstatic -lseccomp -Wl,-Bdynamic

ifeq ($(ARCH),$(HOST_ARCH))
SECCOMP_GEN_RUN := $(BUILD)/tools/seccomp_gen
else
# A cross build runs a generator built for the build host, with the
# target's tables (seccomp_arch.h): the target's programs at build time too.
# The target's own generator ($(BUILD)/tools/seccomp_gen) is built as well:
# the arm64 nested run checks that it prints the same file on arm64.
HOST_CC ?= gcc
SECCOMP_GEN_RUN := $(BUILD)/host/tools/seccomp_gen
SECCOMP_GEN_HOST_OBJS := $(SECCOMP_GEN_OBJS:$(BUILD)/%=$(BUILD)/host/%)
$(BUILD)/host/%.o: %.c | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(CFLAGS) -DEMBER_SECCOMP_TABLES_$(shell echo $(ARCH) | tr a-z A-Z) \
		-MMD -MP -c $< -o $@
$(SECCOMP_GEN_RUN): $(BUILD)/host/tools/seccomp_gen.o $(SECCOMP_GEN_HOST_OBJS)
	$(Q)$(HOST_CC) -o $@ $^ -Wl,-Bstatic -lseccomp -Wl,-Bdynamic
endif
$(BUILD)/gen/seccomp_bpf.c: $(SECCOMP_GEN_RUN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/seccomp_bpf.o: $(BUILD)/gen/seccomp_bpf.c
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Reference page-fault handler for snapshot loads with the Uffd backend.
$(UFFD_HANDLER): tools/uffd_handler.c | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/cjson/.done: tools/cjson-static.sh | $(SETUP_STAMP)
	$(Q)$(if $(filter 1,$(SAN)),,tools/cjson-static.sh $(BUILD)/cjson $(CC))
	$(Q)mkdir -p $(dir $@) && touch $@

# ---- ember itself: a static PIE on musl ----
# glibc's own start-up runs ~100 CPUID instructions (CPU features, then
# cache sizes, for its string functions) before main(): where CPUID traps
# to a hypervisor, as on this host, that is 0.72-0.87 ms of CPU for an
# empty static program against 0.04-0.06 ms for the same program on musl
# (perf task-clock), more than ember's own start-up. So ember, as Firecracker, is
# linked statically against musl (Debian's musl-tools), with the libraries
# it uses built for musl from Debian's sources of the installed versions
# (tools/musl-libs.sh: pinned checksums, cached in ~/.cache/ember). The
# same sources keep building with glibc: the unit and device tests, the
# sanitizer and fuzz builds and valgrind's copy (tests/ember-dynamic) use
# it, and ember falls back to the glibc static PIE below where musl cannot
# be had (no musl-gcc, no network for the sources, a cross build). The
# seccomp tables list both libcs' forms of a call (seccomp_tables.c).
MUSL := $(BUILD)/musl
MUSL_OK :=
ifeq ($(ARCH)-$(HOST_ARCH)-$(SAN),x86_64-x86_64-)
MUSL_SKIP_GOALS := clean help format check-layers setup
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(MUSL_SKIP_GOALS),$(MAKECMDGOALS)),all),)
-include $(MUSL)/libs.mk
endif
$(MUSL)/libs.mk: tools/musl-libs.sh tools/cjson-static.sh | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)tools/musl-libs.sh $(MUSL)
	$(Q)echo "MUSL_OK := $$(test -f $(MUSL)/.ok && echo 1)" >$@
endif

ifeq ($(MUSL_OK),1)
MUSL_CC   := gcc -specs=$(MUSL)/static-pie.specs
MUSL_OBJS := $(patsubst $(BUILD)/%,$(MUSL)/obj/%,$(BUILD)/src/api/main.o $(LIB_OBJS)) $(OSI_BLOB)
# the order of the glibc link below: what runs at every start first
MUSL_LIBS := -L$(MUSL)/lib -lcap-ng -lnettle -luring -lcjson -lseccomp -lz -llzma -llz4 -lzstd
$(MUSL)/obj/%.o: %.c $(MUSL)/libs.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (musl)")
	$(Q)$(MUSL_CC) $(CFLAGS) -isystem $(MUSL)/include -MMD -MP -c $< -o $@
$(MUSL)/obj/gen/seccomp_bpf.o: $(BUILD)/gen/seccomp_bpf.c
	@mkdir -p $(dir $@)
	$(Q)$(MUSL_CC) $(CFLAGS) -isystem $(MUSL)/include -c $< -o $@

$(EMBER): $(MUSL_OBJS)
	@$(if $(Q),echo "  LD      $@ (musl)")
	$(Q)$(MUSL_CC) $(LDFLAGS) -static-pie -o $@ $^ $(MUSL_LIBS)

# make bench's copy of ember with tools/bench/kvm_run_shim.c linked in
# (ld --wrap=ioctl), since a static binary ignores LD_PRELOAD.
$(BUILD)/bench/ember-kvmrun: tools/bench/kvm_run_shim.c $(MUSL_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(MUSL_CC) $(CFLAGS) -isystem $(MUSL)/include -DKVM_RUN_SHIM_WRAP -c -o $@.o $<
	$(Q)$(MUSL_CC) $(LDFLAGS) -static-pie -Wl,--wrap=ioctl -o $@ $(MUSL_OBJS) $@.o $(MUSL_LIBS)
else
$(EMBER): $(BUILD)/src/api/main.o $(BUILD)/libember.a $(BUILD)/cjson/.done $(STATIC_NSS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter-out %/.done $(STATIC_NSS),$^) $(EMBER_LINK)

# make bench's copy of a static ember with tools/bench/kvm_run_shim.c linked
# in (ld --wrap=ioctl), since a static binary ignores LD_PRELOAD; none when
# ember is dynamic (the bench preloads the shim into it).
$(BUILD)/bench/ember-kvmrun: tools/bench/kvm_run_shim.c $(EMBER)
	@mkdir -p $(dir $@)
	$(Q)if [ "$(SAN)" != 1 ] && [ -f $(CJSON_A) ]; then \
		$(CC) $(CFLAGS) -DKVM_RUN_SHIM_WRAP -c -o $@.o $< && \
		$(CC) $(LDFLAGS) -Wl,--wrap=ioctl -o $@ $(BUILD)/src/api/main.o $@.o \
			$(BUILD)/libember.a $(EMBER_LINK) 2>/dev/null; \
	else rm -f $@; fi
endif

# The same objects linked dynamically, for valgrind (test_valgrind.sh):
# valgrind cannot put its malloc into a static binary.
$(BUILD)/tests/ember-dynamic: $(BUILD)/src/api/main.o $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ----
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(filter %.o,$^) \
		$(BUILD)/libember.a $(LDLIBS) -lcmocka

# The aarch64 machine's pure parts (layout, Image loader, device tree) are
# unit-tested on any host: built for the host next to its own arch.
A64_PURE_OBJS := $(BUILD)/src/arch/aarch64/fdt.o $(BUILD)/src/arch/aarch64/image.o
ifneq ($(ARCH),aarch64)
$(BUILD)/tests/unit/test_aarch64: $(A64_PURE_OBJS)
endif

$(BUILD)/tests/device/%: tests/device/%.c $(DEV_HELPER_OBJS) $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(DEV_HELPER_OBJS) $(BUILD)/libember.a $(LDLIBS) -lcmocka

$(BUILD)/tests/device/%.o: tests/device/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP -c $< -o $@

# virtio-blk device-model benchmark (tools/bench/run.sh builds and runs it)
BLK_BENCH_OBJS := $(BUILD)/tests/device/vdriver.o $(BUILD)/tests/device/blkfix.o
$(BUILD)/bench/blk_bench: tools/bench/blk_bench.c $(BLK_BENCH_OBJS) $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(BLK_BENCH_OBJS) $(BUILD)/libember.a $(LDLIBS)

# virtio-net through a TAP vs the raw TAP (tools/bench/net_bench.sh builds and runs it)
NET_BENCH_OBJS := $(BUILD)/tests/device/vdriver.o $(BUILD)/tests/device/net_fix.o
$(BUILD)/bench/net_bench: tools/bench/net_bench.c $(NET_BENCH_OBJS) $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(NET_BENCH_OBJS) $(BUILD)/libember.a $(LDLIBS)

# virtio-vsock through a Unix socket vs a socketpair (tools/bench/vsock_bench.sh builds and runs it)
VSOCK_BENCH_OBJS := $(BUILD)/tests/device/vdriver.o $(BUILD)/tests/device/vsock_fix.o
$(BUILD)/bench/vsock_bench: tools/bench/vsock_bench.c $(VSOCK_BENCH_OBJS) $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(VSOCK_BENCH_OBJS) $(BUILD)/libember.a $(LDLIBS)

# virtio-mem plug/unplug and virtio-pmem flushes (tools/bench/devmem_bench.sh builds and runs it)
$(BUILD)/bench/devmem_bench: tools/bench/devmem_bench.c $(BUILD)/tests/device/vdriver.o $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/tests/device/vdriver.o $(BUILD)/libember.a $(LDLIBS)

include firmware/testguest/testguest.mk

check-layers:
	$(Q)tools/check-layers.sh

T ?=
unit: $(UNIT_BINS)
	$(Q)tests/run-cmocka.sh $(BUILD)/tests/unit $(T)

device: $(DEV_BINS)
	$(Q)tests/run-cmocka.sh $(BUILD)/tests/device $(T)

e2e: $(EMBER) testguest $(BUILD)/tests/ember-dynamic
	$(Q)BUILD=$(BUILD) tests/e2e/run.sh $(T)

e2e-linux: $(EMBER)
	$(Q)BUILD=$(BUILD) tests/e2e/linux.sh full

e2e-linux-short: $(EMBER)
	$(Q)BUILD=$(BUILD) tests/e2e/linux.sh short

# Real Linux (L2) under ember under kvm-amd in an L1 that QEMU emulates (TCG):
# NESTED_ONLY=RUN,RUN picks runs (tests/nested/runs/RUN.sh); tests/nested/README.md
# make test runs the runs that have been stable (tests/nested/README.md has
# the measurements); add a new run here once it is.
NESTED_TEST_RUNS ?= main,elf,uki,fpr,panic,jail,oneshot,mmds,cpu,huge,devices,passt,devcli,snapshot
# ... and, in an L1 of its own after the arm64 runs, the one that needs the
# kernel make test builds in the background (see test:)
NESTED_TEST_LATE ?= minimal
.PHONY: nested
nested: setup $(EMBER)
	$(Q)BUILD=$(BUILD) NESTED_ONLY=$(NESTED_ONLY) NESTED_PASST_MIB=$(NESTED_PASST_MIB) tools/nested/run.sh

# The other architecture, cross-built (CI builds both): make ARCH=aarch64.
cross-aarch64:
	$(Q)$(MAKE) --no-print-directory ARCH=aarch64 BUILD=build-aarch64 all

# ember-aarch64 boots arm64 Linux inside qemu-system-aarch64 (TCG, EL2):
# tests/nested/README.md, "aarch64".
nested-aarch64: cross-aarch64
	$(Q)BUILD_A64=build-aarch64 tools/nested/run-aarch64.sh

# The nested `minimal` run needs ember's own kernel (tools/build-guest-kernel.sh,
# ~13 min of one CPU cold, and CI is always cold): `make test` builds it in the
# background at nice 19 from its first step on, and runs `minimal` last, in an
# L1 of its own (~15 s more than within the others), so that the build
# overlaps every step before it: on an idle 2-core host the earlier steps take
# ~7 min, the other nested ones ~11 min with QEMU on one CPU and the build on
# the other. tools/nested/run.sh waits for it (and fails with its log if it
# failed), and it is killed if make test ends first.
test: setup
	$(Q)tools/build-guest-kernel.sh --while $(MAKE) --no-print-directory test-steps
	@echo "make test: all passed"

.PHONY: test-steps
test-steps:
	$(Q)$(MAKE) --no-print-directory check-layers
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory cross-aarch64
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory device
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory e2e-linux-short
	$(Q)$(MAKE) --no-print-directory nested NESTED_ONLY=$(NESTED_TEST_RUNS) NESTED_PASST_MIB=2
	$(Q)$(MAKE) --no-print-directory nested-aarch64 NESTED_A64_FULL=0
	$(Q)$(MAKE) --no-print-directory nested NESTED_ONLY=$(NESTED_TEST_LATE)

check-asan: setup
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all unit device e2e

run: setup $(EMBER)
	$(Q)BUILD=$(BUILD) tools/run-linux.sh

bench: setup $(EMBER) $(BUILD)/bench/ember-kvmrun testguest
	$(Q)BUILD=$(BUILD) tools/bench/run.sh

fuzz: setup
	$(Q)BUILD=build-fuzz tests/fuzz/run.sh $(FUZZ_SECONDS)

install: $(EMBER)
	$(Q)$(MAKE) --no-print-directory install-files

# Copies only (the e2e test installs the binary under test with it):
# ember, and the names Firecracker's tools run, which ember answers to.
install-files:
	install -D -m 0755 $(EMBER) $(DESTDIR)$(PREFIX)/bin/ember
	ln -sf ember $(DESTDIR)$(PREFIX)/bin/firecracker
	ln -sf ember $(DESTDIR)$(PREFIX)/bin/jailer

format:
	clang-format -i $$(find src include tests firmware -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz build-aarch64

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
