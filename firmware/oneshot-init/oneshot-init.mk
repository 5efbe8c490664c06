# The init of one-shot runs (firmware/oneshot-init/init.c), included by the
# top Makefile: a static freestanding Linux program for $(ARCH), built with its
# own flags (never the host CFLAGS: no sanitizers, no libc) and linked into
# libember.a as a blob (blob.S).
OSI_DIR  := firmware/oneshot-init
OSI_BIN  := $(BUILD)/firmware/oneshot-init
OSI_BLOB := $(BUILD)/firmware/oneshot-init-blob.o
OSI_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -Wmissing-prototypes -Iinclude \
              -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-strict-aliasing \
              -fno-asynchronous-unwind-tables -fno-builtin \
              -DONESHOT_SYS_H_FILE='"sys-$(ARCH).h"'
OSI_LDFLAGS := -nostdlib -static -Wl,--build-id=none -Wl,-z,noexecstack
ifeq ($(ARCH),x86_64)
OSI_CFLAGS += -fcf-protection=none
endif
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
OSI_CFLAGS += -fno-tree-loop-distribute-patterns
OSI_LDFLAGS += -no-pie
endif

# built for the machine ember is built for (make ARCH=aarch64: the cross
# compiler); the machine part is sys-$(ARCH).h
$(OSI_BIN): $(OSI_DIR)/init.c $(OSI_DIR)/sys-$(ARCH).h include/ember/oneshot_abi.h \
            $(OSI_DIR)/oneshot-init.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(OSI_CFLAGS) $(OSI_LDFLAGS) -o $@ $<

$(OSI_BLOB): $(OSI_DIR)/blob.S $(OSI_BIN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -c -DONESHOT_INIT_PATH='"$(OSI_BIN)"' -o $@ $<
