# L1 side of the `cpu` run (sourced by l1-init.sh): what the guest's CPU looks
# like with machine-config smt and a static CPU template. L1 is QEMU's EPYC
# (AuthenticAMD), so of Firecracker's static templates only T2A applies here
# (the Intel ones are refused on AMD: checked too). --config-file, 2 vCPUs,
# smt: true, cpu_template "T2A"; L2 (tests/nested/l2/cpu.sh) checks
# /proc/cpuinfo and the topology, then reboots.
run_cpu() {
	step cpu
	con=/tmp/cpu.con
	errf=/tmp/cpu.err
	: >$con
	cat >/tmp/cpu.json <<-EOF2
	{
	  "boot-source": {"kernel_image_path": "/l2/vmlinuz", "initrd_path": "/l2/initrd",
	                  "boot_args": "$L2_ARGS nt.run=cpu"},
	  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": true,
	                     "cpu_template": "T2A"}
	}
	EOF2
	t0=$(up)
	show_console $con
	timeout 300 ember --no-api --config-file /tmp/cpu.json </dev/null >$con 2>$errf
	rc=$?
	hide_console
	echo "NT-L1: cpu run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc $errf $con
	results_from $con
}
retrying cpu run_cpu
exit_ok cpu-exit $rc $con "reboot: Restarting system"
# an Intel template on this AMD L1: refused before anything starts
sed 's/"T2A"/"T2"/' /tmp/cpu.json >/tmp/cpu-t2.json
if timeout 30 ember --no-api --config-file /tmp/cpu-t2.json </dev/null >/dev/null 2>/tmp/cpu-t2.err; then
	R FAIL cpu-template-vendor "cpu_template T2 booted on AMD"
elif grep -q "T2 is a template for Intel CPUs" /tmp/cpu-t2.err; then
	R PASS cpu-template-vendor "$(tail -n 1 /tmp/cpu-t2.err)"
else
	R FAIL cpu-template-vendor "$(tail -n 1 /tmp/cpu-t2.err)"
fi
