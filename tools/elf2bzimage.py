#!/usr/bin/env python3
"""Wrap a freestanding x86_64 ELF (linked at 1 MiB with its 64-bit entry at
1 MiB + 0x200) into a bzImage that only supports the 64-bit boot protocol:
a boot sector + 7 setup sectors holding the setup header, then the flat
protected-mode image. Used to build the test guest's bzImage and UKI.

    elf2bzimage.py IN.elf OUT.bzImage
"""
import struct
import sys

LOAD = 0x100000
ENTRY_OFF = 0x200
SETUP_SECTS = 7  # 4 KiB of setup: the image starts on a page (ember maps it)


def load_segments(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        sys.exit("elf2bzimage: not an ELF64 file")
    e_entry, e_phoff = struct.unpack_from("<QQ", elf, 0x18)
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 0x36)
    if e_entry != LOAD + ENTRY_OFF:
        sys.exit("elf2bzimage: entry %#x is not load address + 0x200" % e_entry)
    segs = []
    for i in range(e_phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", elf, e_phoff + i * e_phentsize)
        if p_type == 1:  # PT_LOAD
            segs.append((p_paddr, elf[p_offset:p_offset + p_filesz], p_memsz))
    return segs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    elf = open(sys.argv[1], "rb").read()
    segs = load_segments(elf)
    end_file = max(paddr + len(data) for paddr, data, _ in segs)
    end_mem = max(paddr + memsz for paddr, _, memsz in segs)
    image = bytearray(b"\xf4" * ENTRY_OFF) + bytearray(end_file - LOAD - ENTRY_OFF)
    for paddr, data, _ in segs:
        image[paddr - LOAD:paddr - LOAD + len(data)] = data
    image += bytes((-len(image)) % 16)
    init_size = (end_mem - LOAD + 0xfff) & ~0xfff

    setup = bytearray(512 * (SETUP_SECTS + 1))
    struct.pack_into("<B", setup, 0x1f1, SETUP_SECTS)
    struct.pack_into("<I", setup, 0x1f4, len(image) // 16)  # syssize
    struct.pack_into("<H", setup, 0x1fe, 0xAA55)
    struct.pack_into("<BB", setup, 0x200, 0xEB, 0x66)  # jmp over the header
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)  # protocol 2.15
    struct.pack_into("<B", setup, 0x210, 0xFF)  # type_of_loader
    struct.pack_into("<B", setup, 0x211, 0x01)  # LOADED_HIGH
    struct.pack_into("<I", setup, 0x214, LOAD)  # code32_start
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)  # kernel_alignment
    struct.pack_into("<B", setup, 0x234, 0)  # not relocatable
    struct.pack_into("<H", setup, 0x236, 0x0001)  # XLF_KERNEL_64
    struct.pack_into("<I", setup, 0x238, 2047)  # cmdline_size
    struct.pack_into("<Q", setup, 0x258, LOAD)  # pref_address
    struct.pack_into("<I", setup, 0x260, init_size)
    open(sys.argv[2], "wb").write(bytes(setup) + bytes(image))


if __name__ == "__main__":
    main()
