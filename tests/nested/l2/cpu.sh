# L2 side of the `cpu` run (sourced by l2-init.sh; L1 side: tests/nested/runs/cpu.sh):
# smt: true and cpu_template T2A on an AMD L1.
pass boot-cpu "user space at ${up}s of L2 uptime"
n=$(grep -c '^processor' /proc/cpuinfo)
if [ "$n" = 2 ]; then pass cpu-vcpus "L2 sees $n CPUs"; else fail cpu-vcpus "L2 sees $n CPUs"; fi
# smt: the two vCPUs are the two threads of one core
sib=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null)
cores=$(sed -n 's/^cpu cores[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
siblings=$(sed -n 's/^siblings[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
if [ "$sib" = "0-1" ] && [ "$siblings" = 2 ] && [ "$cores" = 1 ]; then
	pass smt-siblings "cpu0 thread siblings $sib, siblings $siblings, cpu cores $cores"
else
	fail smt-siblings "cpu0 thread siblings '$sib', siblings '$siblings', cpu cores '$cores'"
fi
# T2A: family 6, model 0x3f, stepping 2 (EPYC itself is family 23); SVM,
# SSE4A, misaligned SSE and MWAITX hidden (0x80000001 ECX)
fam=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
step=$(sed -n 's/^stepping[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
flags=" $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1) "
shown=""
for f in svm sse4a misalignsse mwaitx avx512f sha_ni; do
	case $flags in *" $f "*) shown="$shown $f" ;; esac
done
if [ "$fam" = 6 ] && [ "$model" = 63 ] && [ "$step" = 2 ] && [ -z "$shown" ]; then
	pass cpu-template-t2a "family $fam model $model stepping $step; no svm, sse4a, misalignsse, mwaitx, avx512f, sha_ni"
else
	fail cpu-template-t2a "family '$fam' model '$model' stepping '$step'; flags shown that T2A hides:${shown:- none}"
fi
echo "NT-L2: reboot -f"
reboot -f
