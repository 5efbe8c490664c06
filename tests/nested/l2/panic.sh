# L2 side of the `panic` run (sourced by l2-init.sh; L1 side: tests/nested/runs/panic.sh).
pass boot-panic "user space at ${up}s of L2 uptime; crashing the kernel (sysrq c)"
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
