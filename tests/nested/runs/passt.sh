# L1 side of the `passt` run (sourced by l1-init.sh): networking without root.
# As uid 1000 (nt, in group kvm, no capabilities) `ember run --net
# passt,forward=8022:22` starts passt itself; L2 gets its address from passt's
# DHCP (udhcpc), sends 16 MiB (nt.passt_mib= from NESTED_PASST_MIB; make
# test: 2) to a TCP service of L1 through passt (passt maps the gateway
# address to L1's loopback; the service greets first: Debian 12's passt resets
# a connection whose host side never sends a byte 24 s after the handshake,
# tests/nested/README.md), and as much sent to L1's port 8022
# arrive at L2's port 22. When L2 powers off, ember exits 0 and passt is gone.
# L2 side: tests/nested/l2/passt.sh.
run_passt() {
	step passt-setup
	passt_mib=$(sed -n 's/.*nt\.passt_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
	passt_mib=${passt_mib:-16}
	passt_uplink
	# an ordinary user with /dev/kvm through the kvm group
	grep -q '^kvm:' /etc/group || echo 'kvm:x:108:nt' >>/etc/group
	chgrp kvm /dev/kvm && chmod 660 /dev/kvm
	chmod 666 $EMBER_SECCOMP_REPORT
	con=/tmp/passt.con errf=/tmp/passt.err
	rm -f /tmp/passt.in /tmp/passt.nf /tmp/passt.out.bin
	: >$con
	: >$errf
	chown nt $con $errf
	mkfifo /tmp/passt.in /tmp/passt.nf
	chown nt /tmp/passt.in
	exec 8<>/tmp/passt.in
	# the L1 service L2 sends to (through passt: 10.0.2.2:7001 -> 127.0.0.1:7001)
	(nc -l -p 7001 0<>/tmp/passt.nf >/tmp/passt.out.bin) &
	passt_lpid=$!
	# the service speaks first, as SSH or SMTP servers do: L2 acknowledges
	# a byte from passt, which Debian 12's passt (0.0~git20230309) needs to
	# clear its ACK timer (README: known problems)
	echo "passt-svc ready" >/tmp/passt.nf
	step passt
	t0=$(up)
	show_console $con
	su -s /bin/sh nt -c "exec env PATH=/bin:/sbin:/usr/bin EMBER_SECCOMP_REPORT=$EMBER_SECCOMP_REPORT \
		timeout 600 ember run --kernel /l2/vmlinuz --initrd /l2/initrd --mem 256M --cpus 1 \
		--net passt,mac=06:00:0a:00:02:0f,forward=8022:22 \
		--cmdline '$L2_ARGS nt.run=passt nt.passt_mib=$passt_mib'" <&8 >$con 2>$errf &
	epid=$!
	if nt wait $con "NT-SYNC passt-boot" 300 >/dev/null; then
		id=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$(pidof ember)/status 2>/dev/null)
		pp=$(pidof passt)
		capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/$(pidof ember)/status 2>/dev/null)
		if [ "$id" = 1000 ] && [ "$capeff" = 0000000000000000 ] && [ -n "$pp" ]; then
			R PASS passt-boot "ember as uid $id (CapEff $capeff) started passt (pid $pp) and booted L2"
		else
			R FAIL passt-boot "ember uid '$id' CapEff '$capeff', passt pid '$pp'"
		fi
		echo "GO passt-boot" >&8
	fi
	if nt wait $con "NT-SYNC passt-out-done" 300 >/dev/null; then
		wait $passt_lpid
		got=$(sha256sum </tmp/passt.out.bin | cut -d' ' -f1) n=$(wc -c </tmp/passt.out.bin)
		rm -f /tmp/passt.out.bin
		want=$(nt gen 21 ${passt_mib}M | sha256sum | cut -d' ' -f1)
		if [ "$got" = "$want" ]; then
			R PASS passt-tcp-out "$passt_mib MiB from L2 to L1's TCP service through passt, sha256 matches"
		else
			R FAIL passt-tcp-out "L1 got $n bytes, sha256 $got, want $want"
		fi
		echo "GO passt-out-done" >&8
	fi
	if nt wait $con "NT-SYNC passt-in" 300 >/dev/null; then
		i=0 ts=$(up)
		until nt gen 22 ${passt_mib}M | nc 127.0.0.1 8022 2>/tmp/passt.nc.err; do
			i=$((i + 1))
			[ $i -lt 100 ] || break
			usleep 100000
		done
		echo "NT-L1: sent $passt_mib MiB to 127.0.0.1:8022 in $(echo "$(up) - $ts" | bc) s"
		echo "GO passt-in" >&8
	fi
	wait_until 300 gone $epid || kill $epid
	wait $epid
	rc=$?
	hide_console
	exec 8>&-
	kill $passt_lpid 2>/dev/null
	echo "NT-L1: passt run ended after $(echo "$(up) - $t0" | bc) s, ember exit $rc"
	diagnose $rc $errf $con
	results_from $con
	# passt saw its socket close and left with the VM
	if [ "$rc" = 0 ] && wait_until 10 passt_gone; then
		R PASS passt-exit "L2 powered off: ember exited 0, passt is gone"
	else
		R FAIL passt-exit "ember exit $rc, passt: '$(pidof passt)'"
	fi
}
passt_gone() { [ -z "$(pidof passt)" ]; }
retrying passt run_passt
