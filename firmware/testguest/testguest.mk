# The freestanding x86_64 test guest (included by the top Makefile).
# Built with its own flags: never the host CFLAGS (no sanitizers).

TG_DIR   := firmware/testguest
TG_ELF   := $(BUILD)/firmware/testguest.elf
TG_SRCS  := $(sort $(wildcard $(TG_DIR)/*.c) $(wildcard $(TG_DIR)/*.S))
TG_OBJS  := $(TG_SRCS:$(TG_DIR)/%=$(BUILD)/firmware/testguest/%.tg.o)
TG_LDS   := $(TG_DIR)/testguest.ld
TG_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
             -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-strict-aliasing \
             -mgeneral-regs-only -mno-red-zone -mcmodel=small -fcf-protection=none \
             -fno-asynchronous-unwind-tables -fno-omit-frame-pointer
TG_LDFLAGS := -nostdlib -static -Wl,-T,$(TG_LDS) -Wl,--build-id=none \
              -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
TG_CLANG := $(findstring clang,$(shell $(CC) --version 2>/dev/null))
ifeq ($(TG_CLANG),)
# gcc turns byte loops into memset/memcpy calls (our own memset included)
TG_CFLAGS += -fno-tree-loop-distribute-patterns -Wa,--fatal-warnings
TG_LDFLAGS += -no-pie
endif

testguest: $(TG_ELF)

$(TG_ELF): $(TG_OBJS) $(TG_LDS) $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(TG_LDFLAGS) -o $@ $(TG_OBJS)

$(BUILD)/firmware/testguest/%.c.tg.o: $(TG_DIR)/%.c $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(TG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/firmware/testguest/%.S.tg.o: $(TG_DIR)/%.S $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(TG_CFLAGS) -MMD -MP -c $< -o $@
