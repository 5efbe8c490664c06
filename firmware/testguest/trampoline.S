/* Real-mode AP start-up code. check_smp.c copies it below 1 MiB and sends
 * INIT-SIPI-SIPI; each AP marks its CPUID initial APIC id in the bitmap,
 * counts itself in and halts. Only offsets within the blob are used. */
	.section .rodata, "a"
	.code16
	.balign 16
	.globl tg_tramp_start, tg_tramp_end, tg_tramp_count_off, tg_tramp_bitmap_off
tg_tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	movl $1, %eax
	xorl %ecx, %ecx
	cpuid
	shrl $24, %ebx
	lock btsl %ebx, (tramp_bitmap - tg_tramp_start)
	lock incl (tramp_count - tg_tramp_start)
1:	cli
	hlt
	jmp 1b
	.balign 4
tramp_count:
	.long 0
tramp_bitmap:
	.fill 8, 4, 0		/* 256 APIC ids */
tg_tramp_end:
	.code64
	.balign 4
tg_tramp_count_off:
	.long tramp_count - tg_tramp_start
tg_tramp_bitmap_off:
	.long tramp_bitmap - tg_tramp_start

	.section .note.GNU-stack, "", @progbits
