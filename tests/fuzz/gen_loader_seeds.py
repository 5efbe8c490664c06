#!/usr/bin/env python3
# Regenerates the loader fuzz seeds: tests/fuzz/gen_loader_seeds.py tests/fuzz/corpus
# (needs the lz4 and zstd command-line tools).
import struct, gzip, lzma, subprocess, os, sys
root = sys.argv[1]
def w(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(data)

def elf(segs, entry):
    # segs: list of (paddr, vaddr, data, memsz)
    n = len(segs); off = 64 + 56 * n
    eh = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, entry, 64, 0, 0, 64, 56, n, 0, 0, 0)
    ph = b''; body = b''
    for paddr, vaddr, data, memsz in segs:
        ph += struct.pack('<IIQQQQQQ', 1, 5, off + len(body), vaddr, paddr, len(data), memsz, 0x1000)
        body += data
    return eh + ph + body

tiny_elf = elf([(0x100000, 0x100000, b'\xf4' * 48, 0x2000)], 0x100000)
virt_elf = elf([(0x1000000, 0xffffffff81000000, b'\x90' * 32, 0x1000),
                (0x1200000, 0, b'\x00' * 16, 0x800)], 0xffffffff81000010)

def bzimage(payload=b'', version=0x20f, init_size=0x200000, sects=1, mz=False):
    setup = (sects + 1) * 512
    pm = 0x240 + len(payload); pm = (pm + 15) & ~15
    b = bytearray(setup + pm)
    if mz: b[0:2] = b'MZ'; b[0x3c:0x40] = struct.pack('<I', 0x80); b[0x80:0x84] = b'PE\0\0'
    b[0x1f1] = sects
    struct.pack_into('<I', b, 0x1f4, pm // 16)
    struct.pack_into('<H', b, 0x1fe, 0xaa55)
    b[0x200] = 0xeb; b[0x201] = 0x6a
    b[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', b, 0x206, version)
    b[0x211] = 1  # LOADED_HIGH
    struct.pack_into('<I', b, 0x22c, 0x7fffffff)
    struct.pack_into('<I', b, 0x230, 0x200000)
    b[0x234] = 1
    struct.pack_into('<H', b, 0x236, 3)
    struct.pack_into('<I', b, 0x238, 0x7ff)
    if payload: struct.pack_into('<II', b, 0x248, 0x240, len(payload))
    struct.pack_into('<Q', b, 0x258, 0x1000000)
    struct.pack_into('<I', b, 0x260, init_size)
    b[setup + 0x240: setup + 0x240 + len(payload)] = payload
    return bytes(b)

def pe(secs):
    n = len(secs); lfanew = 0x80; opt = lfanew + 24; optsz = 240; table = opt + optsz
    hdr = 0x400 if table + 40 * n <= 0x400 else (table + 40 * n + 0x1ff) & ~0x1ff
    b = bytearray(hdr)
    b[0:2] = b'MZ'; struct.pack_into('<I', b, 0x3c, lfanew); b[lfanew:lfanew + 4] = b'PE\0\0'
    struct.pack_into('<HHIIIHH', b, lfanew + 4, 0x8664, n, 0, 0, 0, optsz, 0x206)
    struct.pack_into('<H', b, opt, 0x20b)
    struct.pack_into('<II', b, opt + 32, 0x1000, 0x200)
    struct.pack_into('<I', b, opt + 108, 16)
    va = 0x1000; off = hdr; data = b''
    for i, (name, d) in enumerate(secs):
        raw = (len(d) + 0x1ff) & ~0x1ff
        struct.pack_into('<8sIIII', b, table + 40 * i, name.encode(), len(d), va, raw, off if raw else 0)
        data += d + bytes(raw - len(d)); off += raw; va += ((len(d) + 0xfff) & ~0xfff) + 0x1000
    struct.pack_into('<I', b, opt + 56, va)
    return bytes(b) + data

small_bz = bzimage()
uki = pe([('.osrel', b'ID=test\n'), ('.cmdline', b'console=ttyS0\n'), ('.uname', b'6.1'),
          ('.ucode', b'UCODE'), ('.initrd', b'070701'), ('.linux', small_bz)])
uki_prof = pe([('.linux', small_bz), ('.cmdline', b'base'), ('.profile', b'ID=a'),
               ('.cmdline', b'p0'), ('.profile', b'ID=b'), ('.cmdline', b'p1')])

def trailer(comp, n): return comp + struct.pack('<I', n)
def tool(args, data): return subprocess.run(args, input=data, capture_output=True, check=True).stdout
gz = trailer(gzip.compress(tiny_elf, 9, mtime=0), len(tiny_elf))
xz = trailer(lzma.compress(tiny_elf, check=lzma.CHECK_CRC32), len(tiny_elf))
lz = trailer(tool(['lz4', '-l', '-c'], tiny_elf), len(tiny_elf))
zs = trailer(tool(['zstd', '-19', '-c'], tiny_elf), len(tiny_elf))

w('fuzz_loader_kernel', 'elf-tiny', tiny_elf)
w('fuzz_loader_kernel', 'elf-virt-entry', virt_elf)
w('fuzz_loader_kernel', 'bzimage', small_bz)
w('fuzz_loader_kernel', 'bzimage-efi-stub', bzimage(mz=True))
w('fuzz_loader_kernel', 'bzimage-gzip-payload', bzimage(gz))
w('fuzz_loader_kernel', 'uki', uki)
w('fuzz_loader_uki', 'uki', uki)
w('fuzz_loader_uki', 'uki-profiles', uki_prof)
w('fuzz_loader_uki', 'uki-linux-only', pe([('.linux', small_bz)]))
for name, d in [('gzip', gz), ('xz', xz), ('lz4-legacy', lz), ('zstd', zs), ('elf', tiny_elf)]:
    w('fuzz_loader_decompress', name, d)
