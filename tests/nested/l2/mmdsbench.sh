# L2 side of the `mmdsbench` run (L1 side: tests/nested/runs/mmdsbench.sh):
# sequential busybox wget GETs (a process and a TCP connection each) to the
# MMDS and to busybox httpd on L1 over the TAP, R rounds of N GETs each, the
# order alternating; per-round times, medians and the ratio of GETs/s. Compare only the ratio: each level runs 10-50x slower
# than hardware.
M=169.254.169.254
N=20 R=5
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 && ip route add $M dev eth0 ||
	echo "NT-L2: mmdsbench: ip link/addr/route on eth0 failed"
pass boot-mmdsbench "user space at ${up}s of L2 uptime"
now() { cut -d' ' -f1 /proc/uptime; }
# gets URL: N GETs, the elapsed seconds on stdout ("x" after a failed GET)
gets() {
	t0=$(now) i=0 bad=""
	while [ $i -lt $N ]; do
		[ "$(timeout 30 wget -q -O - "$1")" = i-nested ] || bad=x
		i=$((i + 1))
	done
	echo "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')$bad"
}
gets http://$M/latest/meta-data/instance-id >/dev/null # warm: ARP, caches
gets http://172.16.0.1:8080/id >/dev/null
m="" h="" r=1
while [ $r -le $R ]; do
	if [ $((r % 2)) = 1 ]; then
		a=$(gets http://$M/latest/meta-data/instance-id) b=$(gets http://172.16.0.1:8080/id)
	else
		b=$(gets http://172.16.0.1:8080/id) a=$(gets http://$M/latest/meta-data/instance-id)
	fi
	echo "NT-L2: mmds-bench round $r: $N GETs: MMDS ${a} s, httpd on L1 ${b} s"
	m="$m $a" h="$h $b" r=$((r + 1))
done
case "$m$h" in
*x*)
	fail mmdsbench-gets "a GET failed (rounds: MMDS$m; httpd$h)"
	;;
*)
	line=$(echo "$m|$h" | awk -F'|' -v n=$N '
		function med(s,   a, k, i, j, t) {
			k = split(s, a, " ")
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		{ mm = med($1); hh = med($2)
		  printf "MMDS %.1f GETs/s (median %.2f s per %d), httpd on L1 %.1f GETs/s (median %.2f s), ratio MMDS/httpd %.2f", n / mm, mm, n, n / hh, hh, hh / mm }')
	echo "NT-L2: mmds-bench: $line"
	pass mmdsbench-gets "$line"
	;;
esac
reboot -f
