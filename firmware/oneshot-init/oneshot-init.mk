# The init of one-shot runs (firmware/oneshot-init/init.c), included by the
# top Makefile: a static freestanding x86_64 Linux program, built with its
# own flags (never the host CFLAGS: no sanitizers, no libc) and linked into
# libember.a as a blob (blob.S).
OSI_DIR  := firmware/oneshot-init
OSI_BIN  := $(BUILD)/firmware/oneshot-init
OSI_BLOB := $(BUILD)/firmware/oneshot-init-blob.o
OSI_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -Wmissing-prototypes -Iinclude \
              -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-strict-aliasing \
              -fcf-protection=none -fno-asynchronous-unwind-tables -fno-builtin
OSI_LDFLAGS := -nostdlib -static -Wl,--build-id=none -Wl,-z,noexecstack
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
OSI_CFLAGS += -fno-tree-loop-distribute-patterns
OSI_LDFLAGS += -no-pie
endif

ifeq ($(ARCH),x86_64)
$(OSI_BIN): $(OSI_DIR)/init.c include/ember/oneshot_abi.h $(OSI_DIR)/oneshot-init.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(OSI_CFLAGS) $(OSI_LDFLAGS) -o $@ $<
else
# x86_64 code (port I/O): other machines refuse one-shot runs (vm.c), and
# the blob is empty there.
$(OSI_BIN): $(OSI_DIR)/oneshot-init.mk
	@mkdir -p $(dir $@)
	$(Q): >$@
endif

$(OSI_BLOB): $(OSI_DIR)/blob.S $(OSI_BIN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -c -DONESHOT_INIT_PATH='"$(OSI_BIN)"' -o $@ $<
