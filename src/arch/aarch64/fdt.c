/* The aarch64 guest's device tree, built with libfdt's sequential writer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "ember/aarch64.h"
#include "ember/error.h"

#define PH_GIC 1
#define PH_CLK 2

/* Stop at the first libfdt error; r keeps it. */
#define TRY(call)                                                                                  \
	do {                                                                                       \
		if (r == 0)                                                                        \
			r = (call);                                                                \
	} while (0)

static int prop_u64x2(void *f, const char *name, uint64_t a, uint64_t b)
{
	fdt64_t v[2] = {cpu_to_fdt64(a), cpu_to_fdt64(b)};

	return fdt_property(f, name, v, sizeof(v));
}

static int prop_irq(void *f, uint32_t type, uint32_t num, uint32_t flags)
{
	fdt32_t v[3] = {cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags)};

	return fdt_property(f, "interrupts", v, sizeof(v));
}

static int node_begin(void *f, const char *name, uint64_t addr)
{
	char n[64];

	snprintf(n, sizeof(n), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(f, n);
}

static int cpus(void *f, const struct a64_fdt_info *in)
{
	int r = 0;

	TRY(fdt_begin_node(f, "cpus"));
	TRY(fdt_property_u32(f, "#address-cells", 2));
	TRY(fdt_property_u32(f, "#size-cells", 0));
	for (int i = 0; i < in->ncpus; i++) {
		uint64_t mpidr = in->mpidr[i] & 0xff00ffffffULL;

		TRY(node_begin(f, "cpu", mpidr));
		TRY(fdt_property_string(f, "device_type", "cpu"));
		TRY(fdt_property_string(f, "compatible", "arm,arm-v8"));
		TRY(fdt_property_string(f, "enable-method", "psci"));
		TRY(fdt_property_u64(f, "reg", mpidr));
		TRY(fdt_end_node(f));
	}
	TRY(fdt_end_node(f));
	return r;
}

static int gic_timer_psci(void *f, const struct a64_fdt_info *in)
{
	static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
	fdt64_t reg[4] = {cpu_to_fdt64(A64_GICD_BASE), cpu_to_fdt64(A64_GICD_SIZE),
			  cpu_to_fdt64(A64_GICR_BASE(in->ncpus)),
			  cpu_to_fdt64((uint64_t)in->ncpus * A64_GICR_STRIDE)};
	const uint32_t ppis[4] = {A64_TIMER_PPI_S, A64_TIMER_PPI_NS, A64_TIMER_PPI_VIRT,
				  A64_TIMER_PPI_HYP};
	fdt32_t timer[12];
	int r = 0;

	TRY(node_begin(f, "intc", A64_GICD_BASE));
	TRY(fdt_property_string(f, "compatible", "arm,gic-v3"));
	TRY(fdt_property(f, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(f, "#interrupt-cells", 3));
	TRY(fdt_property_u32(f, "#address-cells", 2));
	TRY(fdt_property_u32(f, "#size-cells", 2));
	TRY(fdt_property(f, "ranges", NULL, 0));
	TRY(fdt_property(f, "reg", reg, sizeof(reg)));
	TRY(fdt_property_u32(f, "#redistributor-regions", 1));
	TRY(fdt_property_u32(f, "phandle", PH_GIC));
	TRY(fdt_end_node(f));

	for (int i = 0; i < 4; i++) {
		timer[i * 3] = cpu_to_fdt32(A64_GIC_PPI);
		timer[i * 3 + 1] = cpu_to_fdt32(ppis[i]);
		timer[i * 3 + 2] = cpu_to_fdt32(A64_IRQ_LEVEL_HIGH);
	}
	TRY(fdt_begin_node(f, "timer"));
	TRY(fdt_property_string(f, "compatible", "arm,armv8-timer"));
	TRY(fdt_property(f, "always-on", NULL, 0));
	TRY(fdt_property(f, "interrupts", timer, sizeof(timer)));
	TRY(fdt_end_node(f));

	TRY(fdt_begin_node(f, "psci"));
	TRY(fdt_property(f, "compatible", psci_compat, sizeof(psci_compat)));
	TRY(fdt_property_string(f, "method", "hvc"));
	TRY(fdt_end_node(f));
	return r;
}

static int devices(void *f, const struct a64_fdt_info *in)
{
	static const char rtc_compat[] = "arm,pl031\0arm,primecell";
	int r = 0;

	TRY(fdt_begin_node(f, "apb-pclk"));
	TRY(fdt_property_string(f, "compatible", "fixed-clock"));
	TRY(fdt_property_u32(f, "#clock-cells", 0));
	TRY(fdt_property_u32(f, "clock-frequency", 24000000));
	TRY(fdt_property_string(f, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_u32(f, "phandle", PH_CLK));
	TRY(fdt_end_node(f));

	TRY(node_begin(f, "uart", A64_SERIAL_ADDR));
	TRY(fdt_property_string(f, "compatible", "ns16550a"));
	TRY(prop_u64x2(f, "reg", A64_SERIAL_ADDR, A64_DEV_SIZE));
	TRY(fdt_property_u32(f, "clock-frequency", A64_SERIAL_CLOCK));
	TRY(prop_irq(f, A64_GIC_SPI, A64_SERIAL_SPI, A64_IRQ_LEVEL_HIGH));
	TRY(fdt_end_node(f));

	TRY(node_begin(f, "rtc", A64_RTC_ADDR));
	TRY(fdt_property(f, "compatible", rtc_compat, sizeof(rtc_compat)));
	TRY(prop_u64x2(f, "reg", A64_RTC_ADDR, A64_DEV_SIZE));
	TRY(prop_irq(f, A64_GIC_SPI, A64_RTC_SPI, A64_IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(f, "clocks", PH_CLK));
	TRY(fdt_property_string(f, "clock-names", "apb_pclk"));
	TRY(fdt_end_node(f));

	for (int i = 0; i < in->nvirtio; i++) {
		const struct arch_mmio_dev *d = &in->virtio[i];

		TRY(node_begin(f, "virtio_mmio", d->addr));
		TRY(fdt_property_string(f, "compatible", "virtio,mmio"));
		TRY(prop_u64x2(f, "reg", d->addr, d->size));
		TRY(prop_irq(f, A64_GIC_SPI, d->irq, A64_IRQ_EDGE_RISING));
		TRY(fdt_property(f, "dma-coherent", NULL, 0));
		TRY(fdt_end_node(f));
	}
	return r;
}

static int chosen(void *f, const struct a64_fdt_info *in)
{
	char path[64];
	int r = 0;

	snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)A64_SERIAL_ADDR);
	TRY(fdt_begin_node(f, "chosen"));
	TRY(fdt_property_string(f, "bootargs", in->cmdline ? in->cmdline : ""));
	TRY(fdt_property_string(f, "stdout-path", path));
	if (in->initrd_len) {
		TRY(fdt_property_u64(f, "linux,initrd-start", in->initrd_gpa));
		TRY(fdt_property_u64(f, "linux,initrd-end", in->initrd_gpa + in->initrd_len));
	}
	TRY(fdt_end_node(f));
	return r;
}

int a64_fdt_build(void *buf, size_t cap, const struct a64_fdt_info *in)
{
	int r = 0;

	if (cap > A64_FDT_MAX || in->ncpus < 1 || in->ncpus > A64_MAX_VCPUS || !in->mpidr)
		return err_set(EINVAL, "device tree: bad parameters");
	TRY(fdt_create(buf, (int)cap));
	TRY(fdt_finish_reservemap(buf));
	TRY(fdt_begin_node(buf, ""));
	TRY(fdt_property_string(buf, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_u32(buf, "#address-cells", 2));
	TRY(fdt_property_u32(buf, "#size-cells", 2));
	TRY(fdt_property_u32(buf, "interrupt-parent", PH_GIC));
	TRY(cpus(buf, in));
	TRY(node_begin(buf, "memory", in->ram_start));
	TRY(fdt_property_string(buf, "device_type", "memory"));
	TRY(prop_u64x2(buf, "reg", in->ram_start, in->ram_size));
	TRY(fdt_end_node(buf));
	TRY(gic_timer_psci(buf, in));
	TRY(devices(buf, in));
	TRY(chosen(buf, in));
	TRY(fdt_end_node(buf));
	TRY(fdt_finish(buf));
	if (r < 0)
		return err_set(r == -FDT_ERR_NOSPACE ? ENOSPC : EINVAL, "device tree: %s",
			       fdt_strerror(r));
	return 0;
}
