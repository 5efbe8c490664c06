#!/usr/bin/env python3
# A stand-in for passt in the e2e tests: speaks passt's stream protocol (a
# 32-bit big-endian length before every Ethernet frame) and plays the host
# that firmware/testguest/check_virtio_net.c expects: it answers the ARP
# request for 172.16.0.1 and the UDP datagram to 172.16.0.1:5000 with
# "ember-host-pong". Every event is a line on stdout (or $PASST_PEER_LOG):
# "args ...", "READY", "arp_request src=MAC who_has=IP", "udp from=IP:PORT
# payload=...", "EOF" when ember's end closes (then it exits, as passt does).
#   passt_peer.py --listen PATH         a passt started by the user (-s PATH)
#   passt_peer.py [passt options] --fd N  as ember starts passt (EMBER_PASST);
#                                       -P FILE: its PID written there when set up
import os
import socket
import struct
import sys

HOST_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])
out = open(os.environ['PASST_PEER_LOG'], 'a') if os.environ.get('PASST_PEER_LOG') else sys.stdout


def say(line):
    out.write(line + '\n')
    out.flush()


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def answer(f):
    """The reply frame to f, or None."""
    if len(f) < 14:
        return None
    dst, src, etype = f[0:6], f[6:12], f[12:14]
    if etype == b'\x08\x06' and len(f) >= 42 and f[20:22] == b'\x00\x01':
        sha, spa, tpa = f[22:28], f[28:32], f[38:42]
        say('arp_request src=%s who_has=%s' % (':'.join('%02x' % b for b in src),
                                               '.'.join(str(b) for b in tpa)))
        arp = b'\x00\x01\x08\x00\x06\x04\x00\x02' + HOST_MAC + tpa + sha + spa
        return src + HOST_MAC + b'\x08\x06' + arp
    if etype == b'\x08\x00' and len(f) >= 42 and f[23] == 17:
        ihl = (f[14] & 15) * 4
        ip, udp = f[14:14 + ihl], f[14 + ihl:]
        sport, dport, ulen = struct.unpack('!HHH', udp[0:6])
        payload = udp[8:ulen]
        say('udp from=%s:%d payload=%s' % ('.'.join(str(b) for b in ip[12:16]), sport,
                                           payload.decode(errors='replace')))
        if dport != 5000:
            return None
        data = b'ember-host-pong'
        u = struct.pack('!HHHH', dport, sport, 8 + len(data), 0) + data
        h = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(u), 0, 0, 64, 17, 0,
                                  ip[16:20], ip[12:16]))
        struct.pack_into('!H', h, 10, csum(bytes(h)))
        return src + HOST_MAC + b'\x08\x00' + bytes(h) + u
    return None


def serve(s):
    buf = b''
    while True:
        d = s.recv(65536)
        if not d:
            say('EOF')
            return
        buf += d
        while len(buf) >= 4:
            n = struct.unpack('!I', buf[:4])[0]
            if len(buf) < 4 + n:
                break
            f, buf = buf[4:4 + n], buf[4 + n:]
            r = answer(f)
            if r:
                s.sendall(struct.pack('!I', len(r)) + r)


def main():
    args = sys.argv[1:]
    say('args ' + ' '.join(args))
    if '--listen' in args:
        path = args[args.index('--listen') + 1]
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        ls.listen(1)
        say('READY')
        s, _ = ls.accept()
    else:
        s = socket.socket(fileno=int(args[args.index('--fd') + 1]))
        if '-P' in args:
            with open(args[args.index('-P') + 1], 'w') as f:
                f.write('%d\n' % os.getpid())
        say('READY')
    serve(s)


main()
