"""Reference values for ml-vision's Pillow-exact bilinear resize unit test
(crates/ml-vision/src/preprocess.rs, `resize_matches_pillow_bit_for_bit`).

Run with the peers venv (Pillow 13.0.0):
    ~/.cache/ml-peers/venv/bin/python scripts/vision_pil_resize_reference.py
Prints one Rust tuple per case: (w, h, out_w, out_h, (sum, weighted sum), first 6 bytes).
"""
import numpy as np
from PIL import Image


def pattern(w, h):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((x * 37 + y * 91 + c * 53 + x * y * 7) % 256).astype(np.uint8)


for (w, h, ow, oh) in [(97, 61, 40, 27), (23, 17, 50, 41), (64, 30, 21, 45), (80, 50, 80, 19)]:
    a = np.asarray(Image.fromarray(pattern(w, h)).resize((ow, oh), Image.BILINEAR)).astype(np.int64).ravel()
    weighted = int(((np.arange(a.size, dtype=np.int64) % 9973 + 1) * a).sum())
    print(f"({w}, {h}, {ow}, {oh}, ({int(a.sum())}, {weighted}), {list(map(int, a[:6]))}),")
