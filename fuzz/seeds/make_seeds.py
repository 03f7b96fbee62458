#!/usr/bin/env python3
"""Writes the hand-made seed corpora of the fuzz targets into corpus/<target>/.

Each seed is a short program in the input format the target documents at its
top; the fuzzer mutates from there. Run from fuzz/: python3 seeds/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_dispatch ---------------------------------------------------------
# all_tags() order: DEVICE, then the strategies in wire order.
def tail(out_class=0, transfer=0, fault=None):
    b = u8(out_class) + u8(transfer)
    if fault is None:
        b += u8(0)
    else:
        tag_index, n = fault
        b += u8(1) + u8(tag_index) + u8(n - 1)
    return b


def info(**kw):
    return u8(0) + u8(0) + tail(**kw)


def stats(**kw):
    return u8(5) + u8(0) + tail(**kw)


def run(strategy, iterations, lo, hi, align_class=0, seed=1, **kw):
    # size class 1: min % 4096, max % 4097
    fields = (u8(strategy) + u16(iterations - 1) + u8(1) + u16(lo) + u16(hi)
              + u8(align_class) + u64(seed) + u8(0))
    return u8(2) + u8(0) + fields + tail(**kw)


def raw(code, data, **kw):
    return u8(6) + u32(code) + u8(1) + u8(len(data)) + data + tail(**kw)


write("fuzz_dispatch", "info_stats", u8(0) + info() + stats())
write("fuzz_dispatch", "global_run", u8(0) + run(0, 40, 1, 300) + stats())
for s in range(1, 11):
    write("fuzz_dispatch", "run_%02d" % s,
          u8(0) + run(s, 30, 1, 200, align_class=5) + stats()
          + run(s, 8, 16, 64, fault=(s + 1, 2)) + stats())
write("fuzz_dispatch", "in_place", u8(0) + run(0, 10, 8, 8, transfer=1)
      + u8(0) + u8(0) + tail(out_class=2, transfer=1))
write("fuzz_dispatch", "bad_lengths", u8(0) + info(out_class=2) + raw(0x8C0E6000, b"\x01\0\0\0\x09\0\0\0")
      + raw(0x8C0EE004, b"\x02\0\0\0\x28\0\0\0" + bytes(32)) + raw(0x12345678, b""))
write("fuzz_dispatch", "ctor_fault", u8(1) + info())
write("fuzz_dispatch", "ctor_fault_late", u8(6) + info() + run(4, 5, 1, 64))

# ---- fuzz_protocol ---------------------------------------------------------
def run_request(strategy=0, flags=0, iterations=10, lo=1, hi=64, align=0, seed=7):
    return (u32(1) + u32(40) + u32(strategy) + u32(flags) + u32(iterations)
            + u32(lo) + u32(hi) + u32(align) + u64(seed))


write("fuzz_protocol", "run_ok", u8(0) + u32(0) + u16(0) + run_request())
write("fuzz_protocol", "run_limits", u8(0) + u32(0) + u16(0)
      + run_request(strategy=10, iterations=256, hi=1 << 20, align=4096))
write("fuzz_protocol", "info_resp", u8(0x81) + u32(0) + u16(0) + bytes(32) + u32(1) + bytes(4)
      + u32(0) + u32(0) + u32(1) + u32(1) + b"global\0" + bytes(25) + b"d\0")
write("fuzz_protocol", "stats_resp", u8(0x82) + u32(0) + u16(0) + bytes(8) + u32(1) + u32(0)
      + u32(512) + u32(0x6d6f636b) + u64(3) + u64(2) + u64(1) + u64(10) + u64(20))
write("fuzz_protocol", "run_resp", u8(0x83) + u32(0) + u16(0) + bytes(72))
write("fuzz_protocol", "header", u8(4) + u32(0) + u16(0) + u32(1) + u32(8))
write("fuzz_protocol", "decode_request", u8(0x85) + u32(1) + u16(72) + run_request())
write("fuzz_protocol", "guid", u8(6) + u32(0) + u16(0) + b"{3d75130d-1cfc-4b40-be0b-5c77d7beee90}")
write("fuzz_protocol", "name", u8(6) + u32(0) + u16(0) + b"free-list")
write("fuzz_protocol", "ctl_code", u8(7) + u32(0x8C0EE004) + u16(0))

# ---- fuzz_strategies -------------------------------------------------------
def alloc(size, align_log=3, zeroed=False):
    return u8(0x10 if zeroed else 0) + u8(1) + u8(size) + u8(align_log)


def free(index=0):
    return u8(4) + u16(index)


def grow(index, extra, zeroed=False):
    return u8(0x16 if zeroed else 6) + u16(index) + u8(1) + u8(extra)


def shrink(index, size):
    return u8(8) + u16(index) + u16(size)


def reset():
    return u8(0x29)


def pop():
    return u8(9)


mix = (alloc(24) + alloc(100, 4, True) + alloc(0, 0) + grow(0, 40) + alloc(7, 1)
       + shrink(1, 30) + free(2) + grow(1, 200, True) + free(0) + alloc(255, 2)
       + free(1) + free(0) + alloc(64) + reset() + alloc(16))
for kind, a, b, name in [(0, 2048, 0, "bump"), (1, 48, 32, "pool"), (1, 0x8000 | 40, 0x2010, "pool_layout"),
                         (2, 4096, 0, "free_list"), (3, 2048, 0, "stack")]:
    write("fuzz_strategies", name, u8(kind) + u16(a) + u16(b) + mix)
    write("fuzz_strategies", name + "_locked", u8(kind | 4) + u16(a) + u16(b) + mix + pop())
    write("fuzz_strategies", name + "_fault", u8(kind | 8) + u16(a) + u16(b) + alloc(8))

# WdkAllocator directly (bit 4), bare and behind Locked.
write("fuzz_strategies", "wdk", u8(0x10) + u16(0) + u16(0) + mix)
write("fuzz_strategies", "wdk_locked", u8(0x14) + u16(0) + u16(0) + mix + alloc(8, 5))

# ---- fuzz_image ------------------------------------------------------------
# The format is in fuzz/src/image.rs. fault_tags() order: KcFx, kcom, then
# the strategies in wire order.
def img_tail(out_class=0, fault=None):
    b = u8(out_class)
    if fault is None:
        b += u8(0)
    elif fault[0] == "any":
        b += u8(fault[1])
    elif fault[0] == "tag":
        b += u8(0xF0) + u8(fault[1]) + u8(fault[2] - 1)
    else:  # ("rate", per_million // 16, seed)
        b += u8(0xF8) + u16(fault[1]) + u8(fault[2])
    return b


def img_header(code_sel, access=0):
    return u8(code_sel) + u8(access)


def img_info(access=0, **kw):
    return img_header(0, access) + u8(0) + img_tail(**kw)


def img_stats(access=0, **kw):
    return img_header(5, access) + u8(0) + img_tail(**kw)


def img_run(strategy, iterations, lo, hi, align_class=0, seed=1, access=0, **kw):
    n = 128 if iterations == 1 else iterations - 1
    fields = (u8(strategy) + u8(n) + u8(1) + u16(lo) + u16(hi) + u8(align_class)
              + u64(seed) + u8(0))
    return img_header(2, access) + u8(0) + fields + img_tail(**kw)


def img_raw(code, data, access=0, **kw):
    return img_header(6, access) + u32(code) + u8(1) + u8(len(data)) + data + img_tail(**kw)


write("fuzz_image", "info_stats", u8(0) + img_info() + img_stats())
write("fuzz_image", "global_run", u8(0) + img_run(0, 40, 1, 300) + img_stats())
for s in range(1, 12):
    write("fuzz_image", "run_%02d" % s,
          u8(0) + img_run(s, 30, 1, 200, align_class=5) + img_stats()
          + img_run(s, 8, 16, 64, fault=("tag", s + 2, 2)) + img_stats())
write("fuzz_image", "faults_any", u8(0) + img_run(3, 20, 8, 128, fault=("any", 1))
      + img_run(5, 20, 8, 128, fault=("any", 7)) + img_info(fault=("any", 1))
      + img_run(9, 10, 8, 64, fault=("rate", 20000, 3)) + img_stats())
write("fuzz_image", "framework_fault", u8(0) + img_info(fault=("tag", 0, 1))
      + img_run(10, 4, 8, 64, fault=("tag", 0, 2)) + img_stats())
write("fuzz_image", "access", u8(0) + img_info(access=7) + img_run(1, 4, 8, 8, access=5)
      + img_run(1, 4, 8, 8, access=6) + img_stats(access=6) + img_info(access=5))
write("fuzz_image", "bad_lengths", u8(0) + img_info(out_class=2) + img_stats(out_class=3)
      + img_raw(0x8C0E6000, b"\x01\0\0\0\x09\0\0\0")
      + img_raw(0x8C0EE004, b"\x02\0\0\0\x28\0\0\0" + bytes(32))
      + img_raw(0x8C0E6000, b"\x02\0\0\0\x08\0\0\0") + img_raw(0x12345678, b"")
      + img_raw(0x8C0E6001, b"\x01\0\0\0\x08\0\0\0"))
write("fuzz_image", "add_device_fault", u8(1) + img_info())
write("fuzz_image", "add_device_fault_late", u8(5) + img_info() + img_run(4, 5, 1, 64))
