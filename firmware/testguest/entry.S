/* Entry from ember in 64-bit long mode (identity-mapped, interrupts off,
 * RSI = zero page, no stack), and the exception stubs. */

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	/* Boot-time marker: ember logs the first write of 123 to port 0x3f0. */
	movb $123, %al
	movw $0x3f0, %dx
	outb %al, %dx
	/* Record what we were handed before touching anything else. */
	movq %rsi, tg_entry+0(%rip)
	movq %rsp, tg_entry+16(%rip)
	leaq tg_stack_top(%rip), %rsp
	pushfq
	popq %rax
	movq %rax, tg_entry+8(%rip)
	movw %cs, tg_entry+24(%rip)
	movw %ds, tg_entry+26(%rip)
	movw %es, tg_entry+28(%rip)
	movw %ss, tg_entry+30(%rip)
	movw %fs, tg_entry+32(%rip)
	movw %gs, tg_entry+34(%rip)
	/* Clear .bss (the stack lives past it). */
	cld
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	xorl %ebp, %ebp
	movq tg_entry+0(%rip), %rdi
	call tg_main
1:	cli
	hlt
	jmp 1b

/* Exception stubs: push a dummy error code where the CPU pushes none, then
 * the vector, then the general registers; tg_exception(frame) never returns
 * (it reports and resets the machine). */
.macro ISR vec
isr\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
.endm

	.text
	ISR 0
	ISR 1
	ISR 2
	ISR 3
	ISR 4
	ISR 5
	ISR 6
	ISR 7
	ISR 8
	ISR 9
	ISR 10
	ISR 11
	ISR 12
	ISR 13
	ISR 14
	ISR 15
	ISR 16
	ISR 17
	ISR 18
	ISR 19
	ISR 20
	ISR 21
	ISR 22
	ISR 23
	ISR 24
	ISR 25
	ISR 26
	ISR 27
	ISR 28
	ISR 29
	ISR 30
	ISR 31

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	andq $-16, %rsp
	call tg_exception
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.balign 8
	.globl tg_isr_table
tg_isr_table:
	.quad isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7
	.quad isr8, isr9, isr10, isr11, isr12, isr13, isr14, isr15
	.quad isr16, isr17, isr18, isr19, isr20, isr21, isr22, isr23
	.quad isr24, isr25, isr26, isr27, isr28, isr29, isr30, isr31

	.section .note.GNU-stack, "", @progbits
