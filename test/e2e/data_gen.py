"""Data a user has, made here with Debian's tools (nothing downloaded), for `--data` on zoo models:

  data_gen.py OUT   writes OUT/crops/NN_up.png|jpg and NN_down.png|jpg (text lines rendered with PIL
                    at their own sizes, every other one upside down, half PNG and half JPEG),
                    OUT/speech.wav (espeak-ng, 22.05 kHz 16-bit mono: Model Lens resamples it),
                    OUT/silence.wav (2 s of zeros at 22.05 kHz), and OUT/mixed/ (two good crops, a
                    text file named .png, a truncated PNG, a 12-bit WAV header), and OUT/npz/:
                    eight silero VAD samples as .npz files (input, state, sr) plus one whose
                    array names no input.
"""
import os
import struct
import subprocess
import sys
import wave

import numpy as np

from zoo_ref import LINES, SPEECH, text_image  # beside this file


def write_wav(path, samples, rate=22050, bits=16):
    with wave.open(path, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(samples.astype('<i2').tobytes())


def main(out):
    crops = os.path.join(out, 'crops')
    os.makedirs(crops, exist_ok=True)
    for k in range(16):
        line = LINES[k % len(LINES)][:16]
        # Sizes a cropper gives: neither 48 high nor 192 wide, so the recipe's resize and pad do work.
        img = text_image(line, 150 + 10 * k, 36 + k % 3 * 6, 22 + k % 3 * 4, 180 * (k % 2))
        name = f'{k:02d}_{"down" if k % 2 else "up"}'
        if k % 4 < 2:
            img.save(os.path.join(crops, name + '.png'))
        else:
            img.save(os.path.join(crops, name + '.jpg'), quality=92)
    subprocess.run(['espeak-ng', '-s', '150', '-w', os.path.join(out, 'speech.wav'), ' '.join(SPEECH[:3])], check=True, capture_output=True)
    write_wav(os.path.join(out, 'silence.wav'), np.zeros(44100))
    mixed = os.path.join(out, 'mixed')
    os.makedirs(mixed, exist_ok=True)
    for k in range(2):
        text_image(LINES[k], 192, 48, 24, 180 * k).save(os.path.join(mixed, f'good_{k}.png'))
    with open(os.path.join(mixed, 'notes.png'), 'w') as f:
        f.write('not a picture\n')
    good = open(os.path.join(mixed, 'good_0.png'), 'rb').read()
    with open(os.path.join(mixed, 'truncated.png'), 'wb') as f:
        f.write(good[:len(good) // 2])
    # A RIFF/WAVE header declaring 12-bit PCM: a format Model Lens does not read.
    fmt = struct.pack('<HHIIHH', 1, 1, 16000, 16000 * 2, 2, 12)
    data = b'\0' * 64
    with open(os.path.join(mixed, 'odd.wav'), 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data)


def npz_samples(out):
    """Silero VAD v5's three inputs per sample, as np.savez writes them (one deflated, the rest stored)."""
    folder = os.path.join(out, 'npz')
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(3)
    for k in range(8):
        arrays = {'input': (rng.standard_normal((1, 512)) * 0.1).astype(np.float32), 'state': np.zeros((2, 1, 128), np.float32), 'sr': np.array(16000, dtype=np.int64)}
        (np.savez_compressed if k == 0 else np.savez)(os.path.join(folder, f'chunk_{k:02d}.npz'), **arrays)
    np.savez(os.path.join(folder, 'stray.npz'), audio=np.zeros((1, 512), np.float32))


if __name__ == '__main__':
    main(sys.argv[1])
    npz_samples(sys.argv[1])
