/* A tiny AML (ACPI Machine Language) byte writer, enough for a DSDT that
 * declares devices with _HID/_UID/_CRS (ACPI spec chapter 20 encoding and
 * chapter 6.4 resource descriptors).
 *
 * The writer appends to a caller-supplied buffer. Objects with a PkgLength
 * (Scope, Device, Buffer) are opened with *_begin() and closed with
 * aml_end(); the PkgLength is encoded in its shortest form when the object is
 * closed. Errors are sticky: after the first overflow (-ENOSPC) or misuse
 * (-EINVAL) every call is a no-op and aml_finish() returns the error. */
#ifndef EMBER_AML_H
#define EMBER_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	int depth;
	struct {
		size_t start; /* offset of the reserved header */
		int kind;
	} open[AML_MAX_DEPTH];
};

/* Largest value a PkgLength can encode (2^28 - 1). */
#define AML_PKGLEN_MAX 0x0fffffffU

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Bytes written (valid once every object is closed), or a negative errno. */
long aml_finish(struct aml *a);

/* Encode a PkgLength for a package whose total length (including the
 * PkgLength bytes themselves) is body + returned length. Writes 1-4 bytes
 * into out; returns the count, or -E2BIG if it cannot be encoded. */
int aml_pkglen_encode(uint32_t body, uint8_t out[4]);

void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* A NameString: optional leading '\\' or '^'s, then 4-char NameSegs
 * separated by '.' ("\\_SB_.COM1"); segments shorter than 4 are padded with
 * '_'. */
void aml_namestring(struct aml *a, const char *path);
/* Smallest integer encoding: ZeroOp, OneOp, ByteConst, WordConst,
 * DWordConst or QWordConst. */
void aml_integer(struct aml *a, uint64_t v);
/* String: StringPrefix, ASCII chars, NUL. */
void aml_string(struct aml *a, const char *s);
/* EISAID("PNP0501") as a compressed DWordConst. */
void aml_eisaid(struct aml *a, const char *id);
/* Name (NAME, ...): emits NameOp and the name; the caller emits the value. */
void aml_name(struct aml *a, const char *name);

void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *name);
/* Buffer whose size is the number of bytes written before aml_end(). */
void aml_buffer_begin(struct aml *a);
/* Package (n) { ... }: the caller writes the n elements, then aml_end(). */
void aml_package_begin(struct aml *a, uint8_t nelems);
/* Method (NAME, nargs, NotSerialized) { ... }, nargs 0-7. */
void aml_method_begin(struct aml *a, const char *name, int nargs);
/* If (predicate) { ... }: the caller writes the predicate, then the body. */
void aml_if_begin(struct aml *a);
void aml_end(struct aml *a);

/* Expressions: the operands follow as further calls. */
void aml_lequal(struct aml *a);	    /* LEqual (operand, operand) */
void aml_arg(struct aml *a, int n); /* Arg0-Arg6 */
/* Notify (path, value) */
void aml_notify(struct aml *a, const char *path, uint64_t value);

/* ResourceTemplate () { ... }: a Buffer ending with an End Tag. */
void aml_rt_begin(struct aml *a);
void aml_rt_end(struct aml *a);
/* IO (Decode16, min, max, align, len) */
void aml_rt_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () {irq}, irq 0-15 */
void aml_rt_irq_noflags(struct aml *a, unsigned int irq);
/* Memory32Fixed (ReadWrite|ReadOnly, base, size) */
void aml_rt_mem32_fixed(struct aml *a, int writable, uint32_t base, uint32_t size);

/* Extended Interrupt descriptor flags. */
#define AML_IRQ_CONSUMER 0x01
#define AML_IRQ_EDGE 0x02
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_SHARED 0x08
#define AML_IRQ_WAKE 0x10
/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} with
 * flags = AML_IRQ_CONSUMER | AML_IRQ_EDGE. */
void aml_rt_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi);

#endif
