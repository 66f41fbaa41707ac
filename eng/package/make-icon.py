#!/usr/bin/env python3
"""Draws eng/package/icon.png (the packages' icon) without any imaging library: a weight tensor's
8x8 grid of cells on a rounded square, the cells lit by the bits of the ASCII word 'WMK-2017'."""
import struct
import zlib

SIZE, RADIUS, MARGIN, GAP = 128, 22, 16, 4
BACKGROUND, ONE, ZERO = (27, 42, 73), (63, 193, 201), (46, 69, 112)

bits = [(byte >> (7 - i)) & 1 for byte in b"WMK-2017" for i in range(8)]
cell = (SIZE - 2 * MARGIN - 7 * GAP) / 8


def inside_rounded_square(x, y):
    cx = min(max(x, RADIUS), SIZE - 1 - RADIUS)
    cy = min(max(y, RADIUS), SIZE - 1 - RADIUS)
    return (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2


def pixel(x, y):
    if not inside_rounded_square(x, y):
        return (0, 0, 0, 0)
    for row in range(8):
        top = MARGIN + row * (cell + GAP)
        if not top <= y < top + cell:
            continue
        for column in range(8):
            left = MARGIN + column * (cell + GAP)
            if left <= x < left + cell:
                return (ONE if bits[row * 8 + column] else ZERO) + (255,)
    return BACKGROUND + (255,)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(SIZE)) for y in range(SIZE))
png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw, 9))
       + chunk(b"IEND", b""))
with open(__file__.replace("make-icon.py", "icon.png"), "wb") as f:
    f.write(png)
