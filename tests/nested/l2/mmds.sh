# L2 side of the `mmds` run (sourced by l2-init.sh; L1 side: tests/nested/runs/mmds.sh):
# the MMDS over eth0 from a real Linux TCP stack: busybox wget for the GETs
# (under `timeout`: Debian's busybox-static 1.35 wget segfaults with -T, on
# any host), busybox nc for the token PUT (busybox wget has no PUT). Booted
# twice: V2 (nt.run=mmds), then V1 (nt.mmds=v1 too).
M=169.254.169.254
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 && ip route add $M dev eth0 ||
	echo "NT-L2: mmds: ip link/addr/route on eth0 failed"
# mmds_http METHOD PATH [HEADER...]: one request, the whole response on stdout
mmds_http() {
	mm=$1 mp=$2
	shift 2
	{
		printf '%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n' "$mm" "$mp" "$M"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf '\r\n'
	} | nc -w 20 $M 80
}
mmds_body() { mmds_http "$@" | tr -d '\r' | sed '1,/^$/d'; }
# mmds_get PATH [WGET-ARGS...]: busybox wget with the session token
mmds_get() {
	mp=$1
	shift
	timeout 30 wget -q -O - --header "X-metadata-token: $tok" "$@" "http://$M$mp"
}

if grep -q 'nt\.mmds=v1' /proc/cmdline; then
	# V1: a GET needs no token, and one with a token (valid or not) is
	# served too, as Firecracker's V1
	pass boot-mmds-v1 "user space at ${up}s of L2 uptime (ember --no-api --config-file, V1)"
	v=$(timeout 30 wget -q -O - http://$M/latest/meta-data/instance-id 2>&1)
	if [ "$v" = i-nested ]; then
		pass mmds-v1-no-token "busybox wget without a token: instance-id '$v'"
	else
		fail mmds-v1-no-token "instance-id: '$v'"
	fi
	tok=$(mmds_body PUT /latest/api/token "X-metadata-token-ttl-seconds: 60")
	v=$(mmds_get /latest/meta-data/placement/availability-zone 2>&1)
	tok=bogus
	w=$(mmds_get /latest/meta-data/instance-id 2>&1)
	if [ "$v" = az-1 ] && [ "$w" = i-nested ]; then
		pass mmds-v1-token "a token from PUT /latest/api/token: '$v'; a wrong token: '$w'"
	else
		fail mmds-v1-token "with the token: '$v'; with a wrong one: '$w'"
	fi
	reboot -f
fi
pass boot-mmds "user space at ${up}s of L2 uptime"

if timeout 30 wget -q -O /tmp/mmds.out http://$M/latest/meta-data/instance-id 2>/tmp/mmds.err; then
	fail mmds-v2-no-token "a GET without a token got: $(head -c 80 /tmp/mmds.out)"
elif grep -q ' 401 ' /tmp/mmds.err; then
	pass mmds-v2-no-token "busybox wget without a token: $(tr '\n' ' ' </tmp/mmds.err)"
else
	fail mmds-v2-no-token "wget: $(tr '\n' ' ' </tmp/mmds.err)"
fi
tok=$(mmds_body PUT /latest/api/token "X-metadata-token-ttl-seconds: 60")
if [ ${#tok} -eq 48 ]; then
	pass mmds-v2-token "PUT /latest/api/token: a ${#tok}-character token"
else
	fail mmds-v2-token "token '$tok'"
fi
v=$(mmds_get /latest/meta-data/instance-id 2>&1)
if [ "$v" = i-nested ]; then
	pass mmds-v2-get "busybox wget with X-metadata-token: instance-id '$v'"
else
	fail mmds-v2-get "instance-id: '$v'"
fi
l=$(echo $(mmds_get /latest/meta-data/ 2>&1))
if [ "$l" = "instance-id placement/ big" ]; then
	pass mmds-imds-listing "IMDS listing of /latest/meta-data/: $l"
else
	fail mmds-imds-listing "listing: '$l'"
fi
j=$(mmds_get /latest/meta-data/placement --header "Accept: application/json" 2>&1)
if [ "$j" = '{"availability-zone":"az-1"}' ]; then
	pass mmds-json "Accept: application/json: $j"
else
	fail mmds-json "JSON: '$j'"
fi
want=$(nt gen 21 4K | od -An -tx1 | tr -d ' \n' | sha256sum | cut -d' ' -f1)
mmds_get /latest/meta-data/big >/tmp/mmds.big
got=$(sha256sum </tmp/mmds.big | cut -d' ' -f1)
n=$(wc -c </tmp/mmds.big)
if [ "$got" = "$want" ] && [ "$n" -eq 8192 ]; then
	pass mmds-8k "an 8 KiB value arrived intact ($n bytes, sha256 matches)"
else
	fail mmds-8k "$n bytes, sha256 $got, want $want"
fi
if ping -c 3 -W 5 172.16.0.1 >/tmp/mmds-p.out 2>&1; then
	pass mmds-tap-traffic "L1 over the TAP meanwhile: $(grep -o '[0-9]* packets received' /tmp/mmds-p.out)"
else
	fail mmds-tap-traffic "ping 172.16.0.1: $(tail -n 2 /tmp/mmds-p.out | tr '\n' ' ')"
fi
if sync_l1 mmds-patch 120; then
	v=$(mmds_get /latest/meta-data/rotated 2>&1)
	if [ "$v" = yes ]; then
		pass mmds-patch "PATCH /mmds while L2 runs: rotated '$v'"
	else
		fail mmds-patch "after PATCH /mmds: '$v'"
	fi
fi
reboot -f
