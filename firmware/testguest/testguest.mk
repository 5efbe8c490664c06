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

TG_BZ_ELF := $(BUILD)/firmware/testguest-bz.elf
TG_BZIMAGE := $(BUILD)/firmware/testguest.bzImage

testguest: $(TG_ELF) $(TG_BZIMAGE)

# The same guest as a bzImage (64-bit boot protocol), for UKI and bzImage
# loader tests: linked with its entry at 1 MiB + 0x200, wrapped by a tool.
$(BUILD)/firmware/testguest-bz.ld: $(TG_LDS)
	@mkdir -p $(dir $@)
	$(Q)sed 's|^\t/\* TG_ENTRY_PAD|\t. += 0x200; /* TG_ENTRY_PAD|' $< > $@
	$(Q)grep -q '+= 0x200' $@

$(TG_BZ_ELF): $(TG_OBJS) $(BUILD)/firmware/testguest-bz.ld $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(subst $(TG_LDS),$(BUILD)/firmware/testguest-bz.ld,$(TG_LDFLAGS)) -o $@ $(TG_OBJS)

$(TG_BZIMAGE): $(TG_BZ_ELF) tools/elf2bzimage.py
	@$(if $(Q),echo "  BZIMAGE $@")
	$(Q)python3 tools/elf2bzimage.py $< $@

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
