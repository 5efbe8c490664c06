/* The one-shot init's machine part for x86_64: raw system calls and the
 * entry point (firmware/oneshot-init/init.c includes it). */
#ifndef ONESHOT_SYS_H
#define ONESHOT_SYS_H

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* One byte to a device register (any store instruction will do). */
static void mmio_write8(volatile void *p, unsigned char v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(p) : "memory");
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call main_init\n"
	"	hlt\n");

#endif
