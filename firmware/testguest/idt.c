/* A 32-entry IDT so that a CPU exception is reported as a FAIL line
 * instead of a silent triple fault. */
#include "tg.h"
#include "x86.h"

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} TG_PACKED;

struct tg_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern const uint64_t tg_isr_table[32];
static struct idt_gate idt[32] __attribute__((aligned(16)));

void tg_exception(struct tg_frame *f);

void idt_init(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (int i = 0; i < 32; i++) {
		uint64_t a = tg_isr_table[i];

		idt[i].off_lo = (uint16_t)a;
		idt[i].sel = cs;
		idt[i].ist = 0;
		idt[i].type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
		idt[i].off_mid = (uint16_t)(a >> 16);
		idt[i].off_hi = (uint32_t)(a >> 32);
		idt[i].reserved = 0;
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} TG_PACKED idtr = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void tg_exception(struct tg_frame *f)
{
	static int nested;

	if (nested++) /* faulted while reporting: give up quietly */
		cpu_halt_forever();
	tg_fail("exception", "vector=%lu error=%#lx rip=%#lx rsp=%#lx cr2=%#lx rax=%#lx rcx=%#lx",
		f->vector, f->error, f->rip, f->rsp, read_cr2(), f->rax, f->rcx);
	tg_done();
}
