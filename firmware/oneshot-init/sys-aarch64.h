/* The one-shot init's machine part for aarch64: raw system calls and the
 * entry point (firmware/oneshot-init/init.c includes it). */
#ifndef ONESHOT_SYS_H
#define ONESHOT_SYS_H

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

/* One byte to a device register: a plain strb (no writeback), so the
 * hypervisor gets a data abort with a valid syndrome to emulate. */
static void mmio_write8(volatile void *p, unsigned char v)
{
	__asm__ volatile("strb %w0, [%1]" : : "r"(v), "r"(p) : "memory");
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mov x29, #0\n"
	"	mov x30, #0\n"
	"	bl main_init\n"
	"1:	b 1b\n");

#endif
