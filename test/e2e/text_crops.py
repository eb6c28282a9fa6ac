"""Text-line crops as PaddleOCR's direction classifier reads them: words rendered in DejaVu Sans with PIL
on a 48x192 white canvas (two of them upside down), scaled to [-1, 1], saved as one float32 .npy batch
[N, 3, 48, 192]. Usage: text_crops.py OUT.npy"""
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = ['Model Lens', 'compress 42', 'verified', 'Hello world']
font = ImageFont.truetype('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 28)
crops = []
for i, word in enumerate(WORDS):
    img = Image.new('RGB', (192, 48), 'white')
    ImageDraw.Draw(img).text((6, 6), word, fill='black', font=font)
    if i % 2:
        img = img.rotate(180)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    crops.append((x - 0.5) / 0.5)
np.save(sys.argv[1], np.stack(crops).astype(np.float32))
