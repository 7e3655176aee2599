#!/bin/sh
# Rebuilds the decoder fixtures from a.log and b.log (run in this
# directory). Needs the Debian zstd, gzip, pigz, xz, bzip2, lz4 CLIs and
# python3 for the byte edits. The tests use only the committed outputs.
set -eu
[ -f a.log ] || python3 gen_log.py 20240611 640 > a.log
[ -f b.log ] || python3 gen_log.py 7 120 > b.log

# Byte surgery: edit FILE OFFSET XORMASK... (negative offsets from the end)
flip() {
  python3 - "$@" <<'PY'
import sys
path, rest = sys.argv[1], sys.argv[2:]
b = bytearray(open(path, "rb").read())
for off, mask in zip(rest[0::2], rest[1::2]):
    b[int(off)] ^= int(mask, 0)
open(path, "wb").write(bytes(b))
PY
}
# A skippable frame: LE magic 0x184D2A5N, LE 4-byte size, payload.
skippable() { # NIBBLE PAYLOAD
  python3 - "$1" "$2" <<'PY'
import struct, sys
payload = sys.argv[2].encode()
sys.stdout.buffer.write(struct.pack("<II", 0x184D2A50 + int(sys.argv[1], 16),
                                    len(payload)) + payload)
PY
}

# A 16 KiB window caps blocks at 16 KiB, so a.log.zst has several blocks
# (with the default a 75 KB input is one block) and a truncated copy
# still yields some output; it also gives a frame with a window
# descriptor, b.log.zst being single-segment.
zstd -q -f -19 --zstd=wlog=14 a.log -o a.log.zst
zstd -q -f -3 b.log -o b.log.zst
cat a.log.zst b.log.zst > ab.zst
{ skippable 0 "bouncewatch skippable frame, front"
  cat a.log.zst
  skippable F "between"
  cat b.log.zst; } > skip.zst
{ cat a.log.zst; skippable 7 "trailing"; } > skiptail.zst
: > empty
printf '' | zstd -q -c > empty.zst
printf '' | gzip -n -c > empty.gz

gzip -n -9 -c a.log > a.log.gz
pigz -n -6 -c b.log > b.log.gz
cat a.log.gz b.log.gz > ab.gz

# CRC32 is the first 4 bytes of the 8-byte trailer.
cp a.log.gz crc.gz && flip crc.gz -8 0x01
# Corrupt data that the decoder catches where it starts, so what came
# out before the error is still the original. Flipped bytes inside
# Huffman-coded data are not: deflate and zstd decode them into wrong
# text and only the CRC32 / XXH64 at the end notices.
# gzip: pigz -b 32 ends each 32 KiB chunk with an empty stored block
# (00 00 FF FF), so the next deflate block header starts on a byte;
# setting its BTYPE bits to 11 (reserved) gives "invalid block type".
pigz -n -b 32 -6 -c a.log > corrupt.gz
python3 - <<'PY'
b = bytearray(open("corrupt.gz", "rb").read())
i = b.find(b"\x00\x00\xff\xff", len(b) // 4)
assert i > 0
b[i + 4] |= 0x06
open("corrupt.gz", "wb").write(bytes(b))
PY
# zstd: walk a.log.zst's blocks (RFC 8878 3.1.1.2) and give the third
# block header the reserved block type 3.
python3 - <<'PY'
b = bytearray(open("a.log.zst", "rb").read())
fhd = b[4]
ss = (fhd >> 5) & 1
pos = 5 + (0 if ss else 1) + [0, 1, 2, 4][fhd & 3] + [ss, 2, 4, 8][fhd >> 6]
for _ in range(2):
    h = b[pos] | b[pos + 1] << 8 | b[pos + 2] << 16
    assert not h & 1, "a.log.zst has fewer than 3 blocks"
    pos += 3 + (1 if (h >> 1) & 3 == 1 else h >> 3)
b[pos] |= 0x06
open("corrupt.zst", "wb").write(bytes(b))
PY
# far.gz: one hand-written gzip member, one fixed-Huffman deflate block
# (RFC 1951 3.2.6): a.log's first line as literals, a match of length 3
# at distance 4000 (farther back than anything decoded: zlib says
# "invalid distance too far back"), a.log's second line, end of block.
# zlib reports this error in the call *after* the one that filled the
# output, without consuming or producing a byte.
python3 - <<'PY'
import struct, zlib
lines = open("a.log", "rb").read().split(b"\n")
head, tail = lines[0] + b"\n", lines[1] + b"\n"
bits = []
def put(v, n):  # header fields and extra bits: least significant first
    bits.extend((v >> i) & 1 for i in range(n))
def code(c, n):  # Huffman codes: most significant first
    bits.extend((c >> (n - 1 - i)) & 1 for i in range(n))
def lit(b):
    if b < 144:
        code(0x30 + b, 8)
    else:
        code(0x190 + b - 144, 9)
put(1, 1)
put(1, 2)                  # BFINAL=1, BTYPE=01 (fixed Huffman)
for b in head:
    lit(b)
code(257 - 256, 7)         # length 3
code(23, 5)                # distance code 23: 3073..4096
put(4000 - 3073, 10)       # distance 4000 > bytes so far
for b in tail:
    lit(b)
code(0, 7)                 # end of block
bits.extend([0] * (-len(bits) % 8))
data = bytes(sum(bits[i + j] << j for j in range(8))
             for i in range(0, len(bits), 8))
body = head + b"???" + tail  # what a lenient inflater would produce
member = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + data +
          struct.pack("<II", zlib.crc32(body), len(body)))
open("far.gz", "wb").write(member)
PY

# The other kind: bytes flipped in the middle of a.log.zst, caught only
# by the frame checksum after wrong text was produced.
cp a.log.zst sum.zst
n=$(stat -c %s sum.zst)
flip sum.zst $((n / 2)) 0xFF $((n / 2 + 1)) 0xA5 $((n / 2 + 2)) 0x5A

n=$(stat -c %s a.log.zst); head -c $((n - 1000)) a.log.zst > trunc.zst
n=$(stat -c %s a.log.gz);  head -c $((n - 1000)) a.log.gz > trunc.gz

# A frame asking for a 2 GiB window: b.log.zst is single-segment with a
# 4-byte content size (FHD 0xA4); clear the single-segment bit and insert
# a window descriptor 0xA8 (exponent 21 -> 2^31, mantissa 0). The
# content size stays, so a decoder allowed 2^31 only allocates ~15 KB.
python3 - <<'PY'
b = bytearray(open("b.log.zst", "rb").read())
assert b[:4] == b"\x28\xb5\x2f\xfd" and b[4] & 0x20, hex(b[4])
fhd = b[4] & ~0x20
if (b[4] >> 6) == 0:  # a 1-byte FCS exists only in single-segment frames
    raise SystemExit("expected FCS >= 2 bytes")
out = b[:4] + bytes([fhd, 0xA8]) + b[5:]
open("win31.zst", "wb").write(bytes(out))
PY
{ skippable 0 "ahead of a 2 GiB frame"; cat win31.zst; } > skipwin31.zst

head -n 20 a.log > head.log
xz -q -c head.log > head.log.xz
bzip2 -q -c head.log > head.log.bz2
lz4 -q -c head.log > head.log.lz4
rm head.log
