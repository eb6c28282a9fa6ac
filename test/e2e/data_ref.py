"""Test data and independent references for Model Lens's image and audio decoding (dataDecode.test.mjs).

  data_ref.py OUTDIR    writes images, recordings and bad files into OUTDIR, each with its reference as
                        .npy, and prints a JSON manifest of the cases

Images are text and shapes drawn with PIL (DejaVu Sans); PNGs are saved by PIL, or, for what PIL cannot
write (16-bit colour, 2/4-bit gray, tRNS colour keys, Adam7 interlacing, every row filter), by the small
writer below whose output PIL reads back the same. JPEG references are PIL's decode (libjpeg-turbo);
resize references PIL's resize(BILINEAR). Speech is espeak-ng's (22050 Hz, 16-bit), converted by sox;
WAV references are decoded here with numpy; the resampling reference is sox's `rate` (its default,
high quality) to 16000 Hz. Needs Debian's python3-pil, python3-numpy, fonts-dejavu-core, espeak-ng, sox.
None of this imports Model Lens.
"""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
OUT = sys.argv[1]
cases = {'png': [], 'jpeg': [], 'resize': [], 'wav': [], 'resample': [], 'bad': []}


def path(name):
    return os.path.join(OUT, name)


def save_ref(name, array):
    np.save(path(name), np.ascontiguousarray(array))
    return name


# ---------------------------------------------------------------- pictures

def scene(width, height, seed=0):
    """Text, shapes, a colour gradient and a little noise: busy enough to exercise every DCT band."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) * 255 // max(1, width + height - 2)], -1)
    base = np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(base, 'RGB')
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, max(8, height // 4))
    d.ellipse((width // 8, height // 8, width // 2, height * 7 // 8), fill=(200, 30, 40), outline=(0, 0, 0))
    d.rectangle((width // 2, height // 3, width * 7 // 8, height * 2 // 3), fill=(20, 120, 230))
    d.text((4, height // 3), 'Model Lens 42', fill=(255, 255, 255), font=font)
    d.line((0, height - 1, width - 1, 0), fill=(250, 240, 20), width=3)
    return img


def text_line(text, width=192, height=48):
    img = Image.new('RGB', (width, height), 'white')
    ImageDraw.Draw(img).text((6, 8), text, fill=(20, 20, 20), font=ImageFont.truetype(FONT, 28))
    return img


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def pack(samples, depth):
    if depth == 16:
        return samples.astype('>u2').tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    return np.packbits(np.unpackbits(samples.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:].reshape(-1)).tobytes()


def write_png(name, samples, depth, color_type, palette=None, trns=None, interlace=False):
    """A PNG written by hand: rows cycle through filter types 0-4, the zlib stream is split over three IDATs."""
    h, w, s = samples.shape
    bpp = max(1, s * depth // 8)
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7 if interlace else [(0, 0, 1, 1)]:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = bytes(len(pack(sub[0].reshape(-1), depth)))
        for r in range(sub.shape[0]):
            row = pack(sub[r].reshape(-1), depth)
            ft = r % 5
            out = bytearray([ft])
            for i, v in enumerate(row):
                a = row[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
                out.append((v - pred) & 255)
            raw += out
            prev = row

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compress(bytes(raw), 9)
    parts = [z[: len(z) // 3], z[len(z) // 3: 2 * len(z) // 3], z[2 * len(z) // 3:]]
    blob = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        blob += chunk(b'PLTE', palette.astype(np.uint8).tobytes())
    if trns is not None:
        blob += chunk(b'tRNS', trns)
    blob += b''.join(chunk(b'IDAT', p) for p in parts) + chunk(b'IEND', b'')
    with open(path(name), 'wb') as f:
        f.write(blob)


def to255(samples, depth):
    return (samples.astype(np.float64) * 255 / (2 ** depth - 1)).astype(np.float32)


def png_case(name, ref, note):
    cases['png'].append({'file': name, 'ref': save_ref(name + '.npy', ref), 'note': note})


def pil_png(name, img, mode, note, **save):
    img.save(path(name), **save)
    png_case(name, np.asarray(Image.open(path(name)).convert(mode)).astype(np.float32), note)


def hand_png(name, samples, depth, color_type, ref, note, pil_mode=None, **kw):
    write_png(name, samples, depth, color_type, **kw)
    if pil_mode:  # the writer is checked against PIL wherever PIL can read the result as 8-bit
        got = np.asarray(Image.open(path(name)).convert(pil_mode)).astype(np.float32)
        assert np.array_equal(got.reshape(ref.shape), ref), f'{name}: PIL reads the hand-written PNG differently'
    png_case(name, ref, note)


def pngs():
    rgb = scene(203, 77)
    a = np.asarray(rgb)
    h, w = a.shape[:2]
    alpha = ((np.arange(w)[None, :] * 255 // (w - 1)) * np.ones((h, 1), int)).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([a, alpha]), 'RGBA')
    pil_png('rgb.png', rgb, 'RGB', 'PIL, RGB 8-bit')
    pil_png('rgba.png', rgba, 'RGBA', 'PIL, RGBA 8-bit')
    pil_png('gray.png', rgb.convert('L'), 'L', 'PIL, gray 8-bit')
    pil_png('la.png', rgba.convert('LA'), 'LA', 'PIL, gray+alpha 8-bit')
    pil_png('bilevel.png', rgb.convert('1'), 'L', 'PIL, 1-bit gray')
    pil_png('palette8.png', rgb.quantize(200), 'RGB', 'PIL, palette 8-bit')
    pil_png('palette4.png', rgb.quantize(12), 'RGB', 'PIL, palette 4-bit')
    pil_png('palette2.png', rgb.quantize(4), 'RGB', 'PIL, palette 2-bit')
    p = rgb.quantize(16)
    p.save(path('palette_trns.png'), transparency=bytes(range(0, 256, 16)))
    png_case('palette_trns.png', np.asarray(Image.open(path('palette_trns.png')).convert('RGBA')).astype(np.float32), 'PIL, palette 4-bit with tRNS alpha')
    g16 = (np.asarray(rgb.convert('L')).astype(np.uint16) * 257 + np.arange(w)[None, :] % 251).astype(np.uint16)
    Image.fromarray(g16, 'I;16').save(path('gray16.png'))
    png_case('gray16.png', to255(np.asarray(Image.open(path('gray16.png'))), 16), 'PIL, gray 16-bit')

    rng = np.random.default_rng(1)
    c16 = (a.astype(np.uint16) * 257 + rng.integers(0, 257, a.shape)).astype(np.uint16)
    a16 = np.dstack([c16, alpha.astype(np.uint16) * 257 + 3])
    hand_png('rgb16.png', c16, 16, 2, to255(c16, 16), 'hand, RGB 16-bit, filters 0-4')
    hand_png('rgba16.png', a16, 16, 6, to255(a16, 16), 'hand, RGBA 16-bit')
    hand_png('la16.png', a16[:, :, [0, 3]], 16, 4, to255(a16[:, :, [0, 3]], 16), 'hand, gray+alpha 16-bit')
    g = np.asarray(rgb.convert('L'))
    for depth in (2, 4):
        s = (g >> (8 - depth))[:, :, None]
        hand_png(f'gray{depth}.png', s, depth, 0, to255(s, depth), f'hand, gray {depth}-bit', pil_mode='L')
    key = g[10, 10]
    gk = np.dstack([g, np.where(g == key, 0, 255)]).astype(np.float32)
    hand_png('gray_trns.png', g[:, :, None], 8, 0, gk, 'hand, gray 8-bit with tRNS key', trns=struct.pack('>H', key), pil_mode='LA')
    kc = a[5, 5]
    ak = np.dstack([a, np.where((a == kc).all(-1), 0, 255)]).astype(np.float32)
    hand_png('rgb_trns.png', a, 8, 2, ak, 'hand, RGB 8-bit with tRNS key', trns=struct.pack('>HHH', *kc), pil_mode='RGBA')

    # Adam7: every pass shape, sub-byte depths, palettes, 16-bit, and images smaller than a pass grid.
    hand_png('adam7_rgb.png', a, 8, 2, a.astype(np.float32), 'hand, Adam7 RGB 8-bit', pil_mode='RGB', interlace=True)
    b1 = (g > 128).astype(np.uint8)[:, :, None]
    hand_png('adam7_gray1.png', b1, 1, 0, to255(b1, 1), 'hand, Adam7 1-bit gray', pil_mode='L', interlace=True)
    pal = rng.integers(0, 256, (16, 3))
    idx = (g >> 4)[:, :, None]
    trns = bytes(range(255, 0, -16))[:12]
    pr = np.dstack([pal[idx[:, :, 0]], np.array(list(trns) + [255] * 4)[idx[:, :, 0]]]).astype(np.float32)
    hand_png('adam7_pal4_trns.png', idx, 4, 3, pr, 'hand, Adam7 palette 4-bit with tRNS', pil_mode='RGBA', palette=pal, trns=trns, interlace=True)
    hand_png('adam7_rgba16.png', a16, 16, 6, to255(a16, 16), 'hand, Adam7 RGBA 16-bit', interlace=True)
    for w2, h2 in [(1, 1), (3, 2), (5, 9)]:
        t = a[:h2, :w2]
        hand_png(f'adam7_{w2}x{h2}.png', t, 8, 2, t.astype(np.float32), f'hand, Adam7 {w2}x{h2} (empty passes)', pil_mode='RGB', interlace=True)


def write_jpeg(name, rgb, sampling, restart=0, as_rgb=False, quality_scale=1):
    """A baseline JPEG encoded here, for what PIL's encoder does not write: restart markers, 4:4:0 and 4:1:1
    sampling, RGB stored without the YCbCr transform. One 8-bit Huffman code length for every symbol keeps
    the tables trivially valid. `sampling` is [(h, v)] per component (one entry: grayscale)."""
    a = np.asarray(rgb).astype(np.float64)
    if len(sampling) == 1:
        planes = [a @ [0.299, 0.587, 0.114]] if a.ndim == 3 else [a]
    elif as_rgb:
        planes = [a[:, :, 0], a[:, :, 1], a[:, :, 2]]
    else:
        r, g, b = a[:, :, 0], a[:, :, 1], a[:, :, 2]
        planes = [0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 128 + 0.5 * r - 0.418688 * g - 0.081312 * b]
    h, w = planes[0].shape
    mh, mv = max(s[0] for s in sampling), max(s[1] for s in sampling)
    mx, my = -(-w // (8 * mh)), -(-h // (8 * mv))
    k = np.arange(8)
    dct = np.sqrt(2 / 8) * np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16)
    dct[0] /= np.sqrt(2)
    # A quantisation table that grows with frequency, as real ones do; quality_scale coarsens it.
    quant = np.clip(np.round((8 + 2 * (k[:, None] + k[None, :])) * quality_scale), 1, 255).astype(int)
    zigzag = sorted(((i, j) for i in range(8) for j in range(8)), key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]))
    comps = []
    for plane, (ch, cv) in zip(planes, sampling):
        fx, fy = mh // ch, mv // cv
        padded = np.pad(plane, ((0, my * mv * 8 - h), (0, mx * mh * 8 - w)), mode='edge')
        small = padded.reshape(padded.shape[0] // fy, fy, padded.shape[1] // fx, fx).mean((1, 3))
        blocks = {}
        for by in range(small.shape[0] // 8):
            for bx in range(small.shape[1] // 8):
                c = dct @ (np.clip(np.round(small[8 * by:8 * by + 8, 8 * bx:8 * bx + 8]), 0, 255) - 128) @ dct.T
                blocks[by, bx] = [int(v) for v in np.round(c / quant)[tuple(np.array(zigzag).T)]]
        comps.append((ch, cv, blocks))

    def size(v):
        return abs(v).bit_length()

    def symbols(coefs, pred):
        """(dc symbol, bits) then [(ac symbol, bits)] of one block."""
        diff = coefs[0] - pred
        out = [(size(diff), diff)]
        run = 0
        last = max([i for i in range(1, 64) if coefs[i]] or [0])
        for i in range(1, last + 1):
            if coefs[i] == 0:
                run += 1
                continue
            while run > 15:
                out.append((0xF0, 0))
                run -= 16
            out.append(((run << 4) | size(coefs[i]), coefs[i]))
            run = 0
        if last < 63:
            out.append((0x00, 0))
        return out

    order = []  # MCUs in scan order, each a list of (component, block)
    if len(comps) == 1:
        bw, bh = -(-w // 8), -(-h // 8)
        order = [[(0, (by, bx))] for by in range(bh) for bx in range(bw)]
    else:
        for y in range(my):
            for x in range(mx):
                order.append([(ci, (y * cv + dy, x * ch + dx)) for ci, (ch, cv, _) in enumerate(comps) for dy in range(cv) for dx in range(ch)])
    used = [set(), set()]
    streams = []
    for mcu_index, mcu in enumerate(order):
        if mcu_index == 0 or (restart and mcu_index % restart == 0):
            preds = [0] * len(comps)
            streams.append([])
        for ci, pos in mcu:
            coefs = comps[ci][2][pos]
            syms = symbols(coefs, preds[ci])
            preds[ci] = coefs[0]
            streams[-1].append(syms)
            used[0].add(syms[0][0])
            used[1].update(s for s, _ in syms[1:])
    codes = [{s: i for i, s in enumerate(sorted(u))} for u in used]
    lengths = [4, 8]
    assert len(codes[0]) < 16 and len(codes[1]) < 256

    data = bytearray()
    for n, stream in enumerate(streams):
        bits = ''
        for syms in stream:
            for j, (s, v) in enumerate(syms):
                t = 0 if j == 0 else 1
                bits += format(codes[t][s], f'0{lengths[t]}b')
                sz = s & 15 if t else s
                if sz:
                    bits += format(v if v > 0 else v + (1 << sz) - 1, f'0{sz}b')
        bits += '1' * (-len(bits) % 8)
        for i in range(0, len(bits), 8):
            byte = int(bits[i:i + 8], 2)
            data.append(byte)
            if byte == 0xFF:
                data.append(0)
        if n + 1 < len(streams):
            data += bytes([0xFF, 0xD0 + n % 8])

    def seg(marker, body):
        return bytes([0xFF, marker]) + struct.pack('>H', len(body) + 2) + body

    ids = [82, 71, 66] if as_rgb else list(range(1, len(comps) + 1))
    blob = b'\xff\xd8'
    if not as_rgb:
        blob += seg(0xE0, b'JFIF\0\x01\x01\0\0\x01\0\x01\0\0')
    blob += seg(0xDB, b'\0' + bytes(int(quant[i, j]) for i, j in zigzag))
    blob += seg(0xC0, struct.pack('>BHHB', 8, h, w, len(comps)) + b''.join(bytes([ids[i], (c[0] << 4) | c[1], 0]) for i, c in enumerate(comps)))
    for t, table in enumerate(codes):
        counts = [0] * 16
        counts[lengths[t] - 1] = len(table)
        blob += seg(0xC4, bytes([t << 4]) + bytes(counts) + bytes(sorted(table)))
    if restart:
        blob += seg(0xDD, struct.pack('>H', restart))
    blob += seg(0xDA, bytes([len(comps)]) + b''.join(bytes([ids[i], 0x00]) for i in range(len(comps))) + b'\x00\x3f\x00')
    blob += bytes(data) + b'\xff\xd9'
    with open(path(name), 'wb') as f:
        f.write(blob)


def jpegs():
    big = scene(640, 480, seed=2)
    odd = scene(203, 77, seed=3)
    variants = [
        ('q90_420.jpg', odd, dict(quality=90), 'baseline 4:2:0, q90, 203x77'),
        ('q75_422.jpg', odd, dict(quality=75, subsampling=1), 'baseline 4:2:2, q75'),
        ('q95_444.jpg', odd, dict(quality=95, subsampling=0), 'baseline 4:4:4, q95'),
        ('q50_420_opt.jpg', big, dict(quality=50, optimize=True), 'baseline 4:2:0, q50, optimized Huffman, 640x480'),
        ('prog_420.jpg', big, dict(quality=85, progressive=True), 'progressive 4:2:0, q85, 640x480'),
        ('prog_444.jpg', odd, dict(quality=92, progressive=True, subsampling=0), 'progressive 4:4:4, q92'),
        ('gray.jpg', odd.convert('L'), dict(quality=90), 'baseline grayscale'),
        ('gray_prog.jpg', big.convert('L'), dict(quality=80, progressive=True), 'progressive grayscale, 640x480'),
        ('tiny_3x5.jpg', odd.crop((0, 0, 3, 5)), dict(quality=90), 'baseline 4:2:0, 3x5 (chroma 2 wide: plain upsampling)'),
        ('text_line.jpg', text_line('Hello, world!'), dict(quality=85), 'baseline 4:2:0 text line 192x48'),
    ]
    for name, img, opts, note in variants:
        img.save(path(name), **opts)
        jpeg_case(name, note)
    for name, sampling, kw, note in [
        ('dri_420.jpg', [(2, 2), (1, 1), (1, 1)], dict(restart=3), 'hand, 4:2:0 with restart markers every 3 MCUs'),
        ('dri_gray.jpg', [(1, 1)], dict(restart=7), 'hand, grayscale with restart markers every 7 blocks'),
        ('s440.jpg', [(1, 2), (1, 1), (1, 1)], {}, 'hand, 4:4:0 (vertical-only chroma subsampling)'),
        ('s411.jpg', [(4, 1), (1, 1), (1, 1)], dict(quality_scale=0.5), 'hand, 4:1:1 (4x horizontal chroma)'),
        ('rgb_ids.jpg', [(1, 1)] * 3, dict(restart=5, as_rgb=True), "hand, RGB stored untransformed (component ids 'R','G','B')"),
    ]:
        write_jpeg(name, odd, sampling, **kw)
        jpeg_case(name, note)


def jpeg_case(name, note):
    ref = np.asarray(Image.open(path(name))).astype(np.float32)
    cases['jpeg'].append({'file': name, 'ref': save_ref(name + '.npy', ref), 'note': note})


def resizes():
    """PIL's resize(BILINEAR) of the 8-bit images it decoded; Model Lens resizes its own decode of the same file."""
    page = scene(640, 480, seed=4)
    page.save(path('page.png'))
    text_line('The quick brown fox', 400, 60).save(path('line.png'))
    plan = [
        ('page.png', 'RGB', 192, 48, 'downscale 640x480 → 192x48 (×3.3, ×10)'),
        ('page.png', 'RGB', 224, 224, 'downscale 640x480 → 224x224'),
        ('page.png', 'RGB', 640, 640, 'vertical upscale 480 → 640'),
        ('line.png', 'RGB', 192, 48, 'text line 400x60 → 192x48'),
        ('rgb.png', 'RGB', 500, 300, 'upscale 203x77 → 500x300'),
        ('gray.png', 'L', 96, 32, 'gray 203x77 → 96x32'),
        ('rgba.png', 'RGBA', 101, 40, 'RGBA 203x77 → 101x40 (PIL premultiplies alpha)'),
    ]
    for src, mode, w, h, note in plan:
        im = Image.open(path(src)).convert(mode)
        ref = np.asarray(im.resize((w, h), Image.BILINEAR)).astype(np.float32)
        cases['resize'].append({'file': src, 'width': w, 'height': h, 'ref': save_ref(f'{src}.{w}x{h}.npy', ref), 'note': note})


# ---------------------------------------------------------------- audio

def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def numpy_wav(name):
    """WAV decoded by hand with numpy: chunks walked, samples scaled by 2^(bits-1) (8-bit is unsigned)."""
    b = open(path(name), 'rb').read()
    assert b[:4] == b'RIFF' and b[8:12] == b'WAVE'
    at, fmt, data = 12, None, None
    while at + 8 <= len(b):
        cid, size = b[at:at + 4], struct.unpack('<I', b[at + 4:at + 8])[0]
        if cid == b'fmt ':
            tag, ch, rate, _, _, bits = struct.unpack('<HHIIHH', b[at + 8:at + 24])
            if tag == 0xFFFE:
                tag = struct.unpack('<H', b[at + 32:at + 34])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b'data':
            data = b[at + 8:at + 8 + size]
        at += 8 + size + (size & 1)
    tag, ch, rate, bits = fmt
    n = len(data) // (ch * bits // 8)
    data = data[: n * ch * bits // 8]
    if tag == 3:
        x = np.frombuffer(data, '<f4' if bits == 32 else '<f8').astype(np.float32)
    elif bits == 8:
        x = (np.frombuffer(data, np.uint8).astype(np.float64) - 128) / 128
    elif bits == 24:
        u = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = u[:, 0] | (u[:, 1] << 8) | (u[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        x = np.frombuffer(data, '<i2' if bits == 16 else '<i4').astype(np.float64) / float(1 << (bits - 1))
    return rate, np.asarray(x, np.float32).reshape(n, ch).T


def wav_case(name, note):
    rate, x = numpy_wav(name)
    cases['wav'].append({'file': name, 'rate': rate, 'ref': save_ref(name + '.npy', x), 'note': note})


def audio():
    sh('espeak-ng', '-w', path('speech.wav'), 'Hello, this is Model Lens reading a calibration sentence aloud.')
    sh('espeak-ng', '-v', 'en-us', '-p', '70', '-w', path('speech_b.wav'), 'A second voice, higher and a little faster.')
    sh('espeak-ng', '-s', '120', '-w', path('speech_c.wav'), 'And a slow third one.')
    wav_case('speech.wav', 'espeak-ng, 22050 Hz 16-bit mono')
    for name, args, note in [
        ('u8.wav', ['-b', '8'], 'sox, 8-bit unsigned'),
        ('s24.wav', ['-b', '24'], 'sox, 24-bit'),
        ('s32.wav', ['-b', '32'], 'sox, 32-bit integer'),
        ('f32.wav', ['-e', 'floating-point', '-b', '32'], 'sox, 32-bit float'),
        ('f64.wav', ['-e', 'floating-point', '-b', '64'], 'sox, 64-bit float'),
    ]:
        sh('sox', path('speech.wav'), *args, path(name))
        wav_case(name, note)
    sh('sox', '-M', path('speech.wav'), path('speech_b.wav'), path('stereo.wav'))
    wav_case('stereo.wav', 'sox -M, two different voices, 16-bit stereo')
    sh('sox', '-M', path('speech.wav'), path('speech_b.wav'), path('speech_c.wav'), '-b', '24', path('three24.wav'))
    wav_case('three24.wav', 'sox -M, three voices, 24-bit')

    sh('sox', path('speech.wav'), '-e', 'floating-point', '-b', '32', path('sox16k.wav'), 'rate', '16000')
    _, ref = numpy_wav('sox16k.wav')
    cases['resample'].append({'file': 'speech.wav', 'from': 22050, 'to': 16000, 'ref': save_ref('sox16k.npy', ref[0]), 'note': 'sox rate (default -h) 22050 → 16000'})
    sh('sox', path('speech.wav'), '-e', 'floating-point', '-b', '32', path('sox44k.wav'), 'rate', '44100')
    _, ref = numpy_wav('sox44k.wav')
    cases['resample'].append({'file': 'speech.wav', 'from': 22050, 'to': 44100, 'ref': save_ref('sox44k.npy', ref[0]), 'note': 'sox rate (default -h) 22050 → 44100'})


def bad_files():
    blob = open(path('rgb.png'), 'rb').read()
    open(path('truncated.png'), 'wb').write(blob[: len(blob) // 2])
    cases['bad'].append({'file': 'truncated.png', 'kind': 'image', 'reason': 'truncated PNG'})
    open(path('notes.png'), 'w').write('These are my notes, not a picture.\n')
    cases['bad'].append({'file': 'notes.png', 'kind': 'image', 'reason': 'not a PNG or JPEG file'})
    blob = open(path('q90_420.jpg'), 'rb').read()
    open(path('truncated.jpg'), 'wb').write(blob[: len(blob) * 2 // 3])
    cases['bad'].append({'file': 'truncated.jpg', 'kind': 'image', 'reason': 'truncated JPEG'})

    def wav(name, tag, ch, rate, bits, data):
        fmt = struct.pack('<HHIIHH', tag, ch, rate, rate * ch * ((bits + 7) // 8), ch * ((bits + 7) // 8), bits)
        body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data
        open(path(name), 'wb').write(b'RIFF' + struct.pack('<I', len(body)) + body)

    wav('pcm12.wav', 1, 1, 16000, 12, bytes(3200))
    cases['bad'].append({'file': 'pcm12.wav', 'kind': 'audio', 'reason': '12-bit PCM is not supported'})
    wav('empty.wav', 1, 1, 16000, 16, b'')
    cases['bad'].append({'file': 'empty.wav', 'kind': 'audio', 'reason': 'no audio samples (empty data chunk)'})
    wav('alaw.wav', 6, 1, 8000, 8, bytes(800))
    cases['bad'].append({'file': 'alaw.wav', 'kind': 'audio', 'reason': 'A-law WAV is not supported'})


os.makedirs(OUT, exist_ok=True)
pngs()
jpegs()
resizes()
audio()
bad_files()
print(json.dumps(cases))
