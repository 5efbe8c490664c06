#!/usr/bin/env python3
# Regenerates the seed corpora of the virtio, virtqueue and seccomp fuzz
# targets: tests/fuzz/gen_fuzz_seeds.py tests/fuzz/corpus
# Device seeds are programs for tests/fuzz/fuzz_virtio.c (see fuzz_virtio.h):
# a set-up byte, a feature mask, then opcodes with their arguments.
import json
import os
import struct
import sys

root = sys.argv[1]


def w(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


(MMIO_WRITE, MMIO_READ, MEM_WRITE, DESC, POST, AVAIL_IDX, KICK, POLL, EVENT, CHAIN, HOST,
 RESETUP, ACK, CONFIG_READ) = range(14)
ALL = 0xffffffffffffffff


def prog(ops, qsize_sel=1, setup=True, mask=ALL, mode_extra=0):
    mode = (1 if setup else 0) | (qsize_sel << 1) | mode_extra
    return bytes([mode]) + struct.pack('<Q', mask) + b''.join(ops)


def chain(q, bufs, indirect=False):
    """bufs: list of (len, write, payload-for-readable)."""
    shape = (len(bufs) - 1) | (0x80 if indirect else 0)
    body = b''
    for i, (ln, wr, data) in enumerate(bufs):
        if wr:
            shape |= 1 << (2 + i)
        body += struct.pack('<H', ln)
        if not wr:
            body += data.ljust(ln, b'\0')[:ln]
    return bytes([CHAIN, q, shape]) + body


def kick(q):
    return bytes([KICK, q])


def host(*args):
    return bytes([HOST]) + bytes(args)


# ---- virtio-blk ----
def blk_hdr(t, sector):
    return struct.pack('<IIQ', t, 0, sector)


blk_read = chain(0, [(16, False, blk_hdr(0, 0)), (512, True, b''), (1, True, b'')])
blk_write = chain(0, [(16, False, blk_hdr(1, 8)), (1024, False, b'\xa5' * 1024), (1, True, b'')])
blk_flush = chain(0, [(16, False, blk_hdr(4, 0)), (1, True, b'')])
blk_getid = chain(0, [(16, False, blk_hdr(8, 0)), (20, True, b''), (1, True, b'')])
blk_bad = chain(0, [(16, False, blk_hdr(0x55, 1 << 40)), (1, True, b'')], indirect=True)
w('fuzz_virtio_blk', 'read', prog([blk_read, kick(0)]))
w('fuzz_virtio_blk', 'write-read', prog([blk_write, kick(0), blk_read, kick(0)]))
w('fuzz_virtio_blk', 'flush-getid', prog([blk_flush, blk_getid, kick(0)]))
w('fuzz_virtio_blk', 'indirect-bad', prog([blk_bad, kick(0), bytes([ACK])]))
w('fuzz_virtio_blk', 'swap-throttle', prog([host(0), host(1, 2), blk_read, blk_read, blk_read,
                                            kick(0), bytes([CONFIG_READ, 0, 8])]))
w('fuzz_virtio_blk', 'raw-desc', prog([bytes([DESC, 0]) + struct.pack('<HB', 0, 0) +
                                       struct.pack('<H', 0) + struct.pack('<H', 16) +
                                       bytes([1]) + struct.pack('<H', 0),
                                       bytes([POST, 0]) + struct.pack('<H', 0), kick(0)]))
w('fuzz_virtio_blk', 'no-setup', prog([bytes([MMIO_READ]) + struct.pack('<H', 0) + b'\2'],
                                      setup=False))

# ---- virtio-balloon (queues: 0 inflate, 1 deflate, 2 stats, 3 hinting, 4 reporting
# when all are negotiated; hinting is always offered) ----
# ---- virtio-rng (queue 0: requests, device-writable buffers) ----
w('fuzz_virtio_rng', 'fill', prog([chain(0, [(64, True, b'')]), kick(0)]))
w('fuzz_virtio_rng', 'split-indirect',
  prog([chain(0, [(100, True, b''), (28, True, b'')], indirect=True), kick(0), bytes([ACK])]))
w('fuzz_virtio_rng', 'read-only', prog([chain(0, [(16, False, b'x' * 16)]), kick(0)]))
w('fuzz_virtio_rng', 'throttled', bytes([0x81]) + prog([chain(0, [(200, True, b'')]),
                                                       chain(0, [(200, True, b'')]), kick(0),
                                                       bytes([POLL])])[1:])

# ---- virtio-pmem (queue 0: 4-byte type, 4-byte answer) ----
w('fuzz_virtio_pmem', 'flush', prog([chain(0, [(4, False, struct.pack('<I', 0)), (4, True, b'')]),
                                     kick(0)]))
w('fuzz_virtio_pmem', 'bad-type-short', prog([chain(0, [(4, False, struct.pack('<I', 9)),
                                                        (4, True, b'')]),
                                              chain(0, [(2, False, b'\0\0'), (4, True, b'')]),
                                              kick(0)]))
w('fuzz_virtio_pmem', 'throttled', prog([host(1, 0), chain(0, [(4, False, b''), (4, True, b'')]),
                                         chain(0, [(4, False, b''), (4, True, b'')]), kick(0),
                                         bytes([POLL])]))
w('fuzz_virtio_pmem', 'config', prog([bytes([CONFIG_READ, 0, 16]),
                                      bytes([MMIO_WRITE]) + struct.pack('<H', 0x100) + b'\4' +
                                      struct.pack('<Q', 7)]))


# ---- virtio-mem (queue 0: 24-byte request, 10-byte answer; region at 128 MiB) ----
def mem_req(t, addr, nb):
    return chain(0, [(24, False, struct.pack('<H6xQH6x', t, addr, nb)), (10, True, b'')])


MEM_HP = 128 << 20
w('fuzz_virtio_mem', 'plug-unplug', prog([host(8), mem_req(0, MEM_HP, 2), kick(0),
                                          mem_req(3, MEM_HP, 4), mem_req(1, MEM_HP, 1), kick(0),
                                          mem_req(2, 0, 0), kick(0)]))
w('fuzz_virtio_mem', 'second-slot', prog([host(16), mem_req(0, MEM_HP + (128 << 20), 3),
                                          kick(0), mem_req(1, MEM_HP + (128 << 20), 3),
                                          kick(0)]))
w('fuzz_virtio_mem', 'hostile', prog([host(255), mem_req(0, MEM_HP + 4096, 1),
                                      mem_req(0, (1 << 64) - (2 << 20), 2),
                                      mem_req(0, MEM_HP, 0xffff), mem_req(9, MEM_HP, 1),
                                      kick(0), bytes([CONFIG_READ, 0, 56])]))

pfns = struct.pack('<4I', 0x300, 0x301, 0x302, 0x7ff)
stats = b''.join(struct.pack('<HQ', tag, 1000 + tag) for tag in range(0, 10))
# first byte: bit 0 set-up, bits 1-2 queue size, 3-4 amount, 0x20 deflate_on_oom,
# 0x40 statistics, 0x80 free page reporting
w('fuzz_virtio_balloon', 'inflate-deflate',
  prog([chain(0, [(16, False, pfns)]), kick(0), chain(1, [(16, False, pfns)]), kick(1)],
       mode_extra=0x08 | 0x20))
w('fuzz_virtio_balloon', 'stats',
  prog([chain(2, [(len(stats), False, stats)]), kick(2), host(1, 5), host(3), host(2)],
       mode_extra=0x40))
w('fuzz_virtio_balloon', 'report',
  prog([chain(4, [(4096, True, b''), (8192, True, b'')]), kick(4), host(0, 3)],
       mode_extra=0xc0 | 0x10))
# host ops: 4 hinting start (ack bit), 5 stop, 6 status
w('fuzz_virtio_balloon', 'hint',
  prog([host(4, 1), chain(3, [(4, False, struct.pack('<I', 2))]),
        chain(3, [(8192, True, b'')]), chain(3, [(4, False, struct.pack('<I', 0))]), kick(3),
        host(6), host(4, 0), chain(3, [(4, False, struct.pack('<I', 3))]),
        chain(3, [(4096, True, b''), (4096, True, b'')]), chain(3, [(2, False, b'\1\0')]),
        kick(3), host(5), host(6), bytes([CONFIG_READ, 8, 8])],
       mode_extra=0xc0))
w('fuzz_virtio_balloon', 'config',
  prog([bytes([MMIO_WRITE]) + struct.pack('<H', 0x104) + b'\2' + struct.pack('<Q', 7),
        bytes([CONFIG_READ, 0, 8])], mode_extra=0x08))


# ---- virtio-vsock (queues: 0 rx, 1 tx, 2 event) ----
def vs_hdr(op, src_port, dst_port, ln=0, flags=0, buf_alloc=65536, fwd=0):
    return struct.pack('<QQIIIHHIII', 3, 2, src_port, dst_port, ln, 1, op, flags, buf_alloc,
                       fwd)


rx = chain(0, [(44 + 4096, True, b'')])
ev = chain(2, [(8, True, b'')])
req = chain(1, [(44, False, vs_hdr(1, 5000, 1024))])
rw = chain(1, [(44, False, vs_hdr(5, 5000, 1024, ln=5)), (5, False, b'hello')])
shut = chain(1, [(44, False, vs_hdr(4, 5000, 1024, flags=3))])
rst = chain(1, [(44, False, vs_hdr(3, 5000, 1024))])
w('fuzz_virtio_vsock', 'guest-connect',
  prog([rx, rx, ev, kick(0), req, kick(1), host(3, 4) + b'abcd', rw, kick(1), shut, kick(1)],
       qsize_sel=1))
w('fuzz_virtio_vsock', 'host-connect',
  prog([rx, rx, rx, kick(0), host(0x82, 0x34, 0x12), bytes([POLL]),
        chain(1, [(44, False, vs_hdr(2, 0x1234, 1 << 30))]), kick(1),
        host(1, 0, 8) + b'12345678', host(2, 0), rst, kick(1)], qsize_sel=1))
w('fuzz_virtio_vsock', 'reset', prog([ev, kick(2), host(4), bytes([POLL])]))
w('fuzz_virtio_vsock', 'garbage-connect', prog([rx, kick(0), host(0, 10) + b'CONNECT x\n',
                                                 bytes([POLL])]))

# ---- virtio-net (queues: 0 rx, 1 tx); first byte 0x80: MTU ----
frame = b'\xff' * 6 + b'\x02\0\0\0\0\1' + b'\x88\xb5' + bytes(range(50))
vnet = struct.pack('<BBHHHHH', 0, 0, 0, 0, 0, 0, 1)
csum = struct.pack('<BBHHHHH', 1, 0, 0, 0, 14, 16, 1)
w('fuzz_virtio_net', 'tx', prog([chain(1, [(12, False, vnet), (len(frame), False, frame)]),
                                 kick(1)]))
w('fuzz_virtio_net', 'tx-csum', prog([chain(1, [(12 + len(frame), False, csum + frame)]),
                                      kick(1)]))
w('fuzz_virtio_net', 'rx', prog([chain(0, [(1526 + 12, True, b'')]),
                                 chain(0, [(1526 + 12, True, b'')]), kick(0),
                                 bytes([HOST]) + struct.pack('<H', len(frame) - 14) + frame]))
w('fuzz_virtio_net', 'rx-mrg', prog([chain(0, [(256, True, b''), (256, True, b'')]), kick(0),
                                     bytes([HOST]) + struct.pack('<H', 900) + frame * 20],
                                    mode_extra=0x80))

# ---- virtio-net on the stream backend (passt): host op 0 raw bytes, 1 a
# well-formed frame, 2 read what the guest sent, 3 the peer closes ----
def sframe(f):
    return struct.pack('>I', len(f)) + f


def sraw(b):
    return bytes([HOST, 0]) + struct.pack('<H', len(b)) + b


rx2 = [chain(0, [(1526 + 12, True, b'')]), chain(0, [(1526 + 12, True, b'')]), kick(0)]
w('fuzz_net_stream', 'rx', prog(rx2 + [bytes([HOST, 1]) + struct.pack('<H', len(frame) - 14) + frame,
                                      bytes([POLL])]))
w('fuzz_net_stream', 'rx-split', prog(rx2 + [sraw(sframe(frame)[:9]), bytes([POLL]),
                                            sraw(sframe(frame)[9:]), bytes([POLL])]))
w('fuzz_net_stream', 'rx-runt-then-frame', prog(rx2 + [sraw(sframe(b'abc') + sframe(frame)),
                                                      bytes([POLL])]))
w('fuzz_net_stream', 'rx-huge-prefix', prog(rx2 + [sraw(b'\xff\xff\xff\xff' + frame),
                                                  bytes([POLL])]))
w('fuzz_net_stream', 'rx-mrg', prog([chain(0, [(256, True, b''), (256, True, b'')]), kick(0),
                                     sraw(sframe(frame * 20)), bytes([POLL])], mode_extra=0x80))
w('fuzz_net_stream', 'tx', prog([chain(1, [(12, False, vnet), (len(frame), False, frame)]),
                                 kick(1), host(2)]))
w('fuzz_net_stream', 'close-mid-frame', prog(rx2 + [sraw(sframe(frame)[:30]), host(3),
                                                   bytes([POLL]),
                                                   chain(1, [(12 + len(frame), False,
                                                              vnet + frame)]), kick(1)]))


# ---- virtio-mmio: the handshake as register writes ----
def reg(off, val, poll=False):
    wv = (off & 0x1ff) | (2 << 9) | 0x800 | (0x2000 if poll else 0)
    return struct.pack('<HQ', wv, val)


def rd(off):
    return struct.pack('<HQ', (off & 0x1ff) | (2 << 9), 0)


handshake = [rd(0), rd(4), rd(8), reg(0x70, 1), reg(0x70, 3), reg(0x14, 0), rd(0x10),
             reg(0x14, 1), rd(0x10), reg(0x24, 0), reg(0x20, 0xffffffff), reg(0x24, 1),
             reg(0x20, 1), reg(0x70, 11), rd(0x70), reg(0x30, 0), rd(0x34), reg(0x38, 16),
             reg(0x80, 0x10000), reg(0x84, 0), reg(0x90, 0x11000), reg(0x94, 0),
             reg(0xa0, 0x12000), reg(0xa4, 0), reg(0x44, 1), reg(0x70, 15),
             reg(0x50, 0, poll=True), rd(0x60), reg(0x64, 1), rd(0xfc)]
w('fuzz_virtio_mmio', 'blk-handshake', b'\0' + b''.join(handshake))
w('fuzz_virtio_mmio', 'balloon-handshake', b'\1' + b''.join(handshake) +
  struct.pack('<HQ', 0x104 | (2 << 9) | 0x800, 5))
w('fuzz_virtio_mmio', 'bad-order', b'\0' + b''.join([reg(0x70, 15), reg(0x50, 0, True),
                                                      reg(0x70, 0), reg(0x38, 3)]))

# ---- virtqueue: header, RAM image ----
def vq_image():
    size = 8
    desc = 0x0000
    avail = 0x1000
    used = 0x2000
    ram = bytearray(0x4000)
    # chain 0: readable 64 @0x3000 -> writable 128 @0x3100
    struct.pack_into('<QIHH', ram, desc + 0, 0x3000, 64, 1, 1)
    struct.pack_into('<QIHH', ram, desc + 16, 0x3100, 128, 2, 0)
    # chain 2: indirect table @0x3800 with two entries
    struct.pack_into('<QIHH', ram, desc + 32, 0x3800, 32, 4, 0)
    struct.pack_into('<QIHH', ram, 0x3800, 0x3200, 16, 1, 1)
    struct.pack_into('<QIHH', ram, 0x3810, 0x3300, 16, 2, 0)
    struct.pack_into('<HHHH', ram, avail, 0, 2, 0, 2)
    flags = 0x30  # size 1 << (0x30 % 9) = 8, EVENT_IDX (0x10), INDIRECT (0x20)
    hdr = bytes([flags]) + struct.pack('<HHH', desc // 16, avail // 2, used // 4)
    hdr += struct.pack('<H', 0)  # RAM image at 0
    return hdr, bytes(ram)


hdr, ram = vq_image()
ops = bytes([0, 0, 6, 0, 0, 16, 0, 2, 8, 0, 7, 0, 0, 32, 0, 4, 5, 13, 1, 3])
# the image takes n/2 of what follows the header: pad the ops to match
w('fuzz_virtqueue', 'two-chains', hdr + ram + ops + bytes(len(ram) - len(ops)))
w('fuzz_virtqueue', 'ops-only', hdr + ram[:0x100] + bytes(range(0x100)))

# ---- seccomp filter files ----
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, '..', '..', 'resources', 'seccomp', 'x86_64.json'), 'rb') as f:
    w('fuzz_seccomp_json', 'default', f.read())
small = {
    'vmm': {'default_action': 'trap', 'filter_action': 'allow',
            'filter': [{'syscall': 'read'},
                       {'syscall': 'ioctl', 'args': [{'index': 1, 'type': 'dword', 'op': 'eq',
                                                      'val': 44672, 'comment': 'KVM_RUN'}]}]},
    'api': {'default_action': {'errno': 1}, 'filter_action': 'log',
            'filter': [{'syscall': 'mmap', 'args': [{'index': 2, 'type': 'qword',
                                                     'op': {'masked_eq': 4}, 'val': 0}]}]},
    'vcpu': {'default_action': 'kill_process', 'filter_action': 'allow', 'comment': 'x',
             'filter': [{'syscall': 'futex', 'args': [
                 {'arg_index': 1, 'arg_type': 'dword', 'op': 'ge', 'val': 0},
                 {'index': 0, 'type': 'qword', 'op': 'ne', 'val': 5}]}]},
}
w('fuzz_seccomp_json', 'small', json.dumps(small).encode())
w('fuzz_seccomp_json', 'bad-kind', b'{"jailer": {}}')


# ---- MMDS: guest HTTP requests ----
def mmds_seeds():
    reqs = [
        b"GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
        b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n",
        b"GET /latest HTTP/1.1\r\nAccept: application/json\r\nX-metadata-token: 00\r\n\r\n"
        b"GET /latest/meta-data/ HTTP/1.0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
    ]
    for i, r in enumerate(reqs):
        w("fuzz_mmds_http", "req%d" % i, bytes([0x07 | (0x80 if i == 1 else 0)]) + r)

    # fuzz_mmds_net's seeds are guest frames: tests/fuzz/gen_mmds_seeds.c
    # builds them with the MMDS tests' frame builders (tests/lib/frames.h).

mmds_seeds()
