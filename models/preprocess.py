"""Any grey picture of one digit -> an 8x8 grid like scikit-learn's ``load_digits``: the ONE function that
both the upload path (service/images.py) and training's generated pictures (training/augment.py,
training/render.py) go through, so that what the model is trained on and what it is served cannot drift.

How ``load_digits`` was made (UCI "optdigits"): 32x32 binary bitmaps of handwritten digits, each digit
scaled so that it fills the frame's height, reduced to 8x8 by counting the ink in 4x4 blocks (0..16).
Measured on the 1797 digits: every one spans all 8 rows; 77% span exactly columns 1..6; the strokes are
thick (a "1" is about 2 of 8 columns wide; the total ink is 310 +- 34 of the 1024 bitmap pixels for every
class alike). So, for a picture:

1. ink: pictures larger than MAX_SIDE are shrunk, and those of SMOOTH_FROM pixels or more averaged
   over 3x3 (grain and single specks fade); the paper is the border's median; ink is the distance from
   it (light or dark ink alike), scaled so that the strongest ink is 1; below a quarter of that is
   paper, above three quarters full ink (the bitmaps were binary), anti-aliased edges keep their grey;
2. the ink's bounding box, trimming ``TRIM`` of the ink mass at each side (specks on the paper);
3. the slant taken out (moment deskewing: handwriting leans, typed italics too; measured to help on
   unseen styles, docs/training.md);
4. the crop drawn at a working resolution, and its strokes thickened or thinned until their width is
   ``STROKE`` of the digit's height (typed digits are thin, marker strokes fat; the bitmaps are neither);
5. the digit scaled to fill the 32-pixel height (aspect ratio kept, so a "1" stays narrow), centred
   horizontally by its ``CENTRE`` ("box": bounding box, measured better than the centre of mass);
6. 4x4 block means x 16: the 0..16 scale.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

BLOCK = 4  # the original bitmaps were reduced by 4x4 blocks
WORK = 64  # working resolution of the stroke normalisation (pixels of the digit's longer side, + room)
GLYPH = 40  # the digit's longer side inside the working canvas (the rest is room for thickening)
INK_LEVEL = 0.5  # fraction of the strongest ink that counts as ink
TRIM = 0.005  # fraction of the ink mass ignored at each side when finding the bounding box
STROKE = 0.18  # target stroke width / digit height: matches load_digits' ink (310 of 1024 pixels)
MAX_STEPS = 8  # at most this many one-pixel dilations or erosions
CENTRE = "box"
MAX_SIDE = 512  # larger pictures are shrunk to this first
SMOOTH_FROM = 64  # pictures at least this large a side are smoothed 3x3 before finding the ink
MAX_SKEW = 0.6  # at most this much shear (x per y) is taken out of a slanted digit


def to_digit_grid(grey: np.ndarray, size: int = 8, max_value: float = 16.0) -> np.ndarray:
    """Grey levels in 0..1 (H, W), any resolution, ink dark or light -> float32 (size, size) in
    0..max_value, light ink on dark like ``load_digits``. No ink gives all zeros."""
    ink = ink_strength(np.asarray(grey, dtype=np.float32))
    if ink is None:
        return np.zeros((size, size), dtype=np.float32)
    glyph = _normalise_stroke(_fit(deskew(_fit_crop(ink[_ink_box(ink >= INK_LEVEL)]))))
    frame = _place(glyph[_ink_box(glyph >= INK_LEVEL, trim=0.0)], size * BLOCK)
    blocks = frame.reshape(size, BLOCK, size, BLOCK).mean(axis=(1, 3))
    grid: np.ndarray = np.clip(blocks * max_value, 0, max_value).astype(np.float32)
    return grid


def ink_strength(grey: np.ndarray) -> np.ndarray | None:
    """Ink in 0..1 (paper 0), whichever way round ink and paper are; None for a blank picture. Below a
    quarter of the strongest ink is paper (grain, noise), above three quarters full ink, linear between."""
    if grey.ndim != 2 or grey.size == 0:
        raise ValueError(f"expected a 2-D grey picture, got shape {grey.shape}")
    grey = _smoothed(grey)
    border = np.concatenate([grey[0, :], grey[-1, :], grey[:, 0], grey[:, -1]])
    paper = float(np.median(border))
    # Ink is darker than light paper or lighter than dark paper; the other way is paper texture.
    towards_ink = grey < paper if paper > 0.5 else grey > paper
    ink = np.where(towards_ink, np.abs(grey - paper), 0.0)
    peak = float(ink.max())
    if peak < 0.05:  # less than 5% contrast anywhere: an empty page
        return None
    strength: np.ndarray = np.clip((ink / peak - INK_LEVEL / 2) / INK_LEVEL, 0.0, 1.0).astype(np.float32)
    return strength


def _smoothed(grey: np.ndarray) -> np.ndarray:
    """Large pictures shrunk to MAX_SIDE (area averaging: faster, and grain averages out); pictures of at
    least SMOOTH_FROM pixels a side averaged over 3x3 pixels, so that single specks and grain fall below
    the ink level and ragged edges do not pass for thin strokes. Small pictures are left alone: their
    strokes may be one pixel wide."""
    height, width = grey.shape
    if max(height, width) > MAX_SIDE:
        scale = MAX_SIDE / max(height, width)
        grey = _resize(grey, max(1, round(width * scale)), max(1, round(height * scale)))
    if min(grey.shape) < SMOOTH_FROM:
        return grey
    padded = np.pad(grey, 1, mode="edge")
    rows, cols = grey.shape
    total = np.zeros_like(grey, dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy : dy + rows, dx : dx + cols]
    smooth: np.ndarray = total / 9
    return smooth


def _ink_box(mask: np.ndarray, trim: float = TRIM) -> tuple[slice, slice]:
    """Rows and columns holding the ink, less ``trim`` of its mass at each side."""
    return _span(mask.sum(axis=1), trim), _span(mask.sum(axis=0), trim)


def _span(profile: np.ndarray, trim: float) -> slice:
    cumulative = np.cumsum(profile, dtype=np.float64)
    total = cumulative[-1]
    first = int(np.searchsorted(cumulative, trim * total, side="right"))
    last = int(np.searchsorted(cumulative, (1 - trim) * total, side="left"))
    return slice(first, max(last, first) + 1)


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Float resize: area averaging when shrinking, bilinear when growing (no rounding to 8 bits)."""
    shrinking = width <= array.shape[1] and height <= array.shape[0]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    image = Image.fromarray(array.astype(np.float32)).resize((width, height), method)
    return np.asarray(image, dtype=np.float32)


def _fit_crop(crop: np.ndarray) -> np.ndarray:
    """The crop with its longer side GLYPH pixels (a small picture for the steps that follow)."""
    height, width = crop.shape
    scale = GLYPH / max(height, width)
    resized: np.ndarray = np.clip(
        _resize(crop, max(1, round(width * scale)), max(1, round(height * scale))), 0, 1
    )
    return resized


def deskew(glyph: np.ndarray) -> np.ndarray:
    """Shear the digit upright: the slant is the ink's covariance of x and y over its variance in y
    (moment deskewing), at most MAX_SKEW; the result is cropped to its ink again."""
    total = float(glyph.sum())
    if total <= 0:
        return glyph
    ys, xs = np.mgrid[0 : glyph.shape[0], 0 : glyph.shape[1]]
    cy, cx = float((glyph * ys).sum()) / total, float((glyph * xs).sum()) / total
    var_y = float((glyph * (ys - cy) ** 2).sum()) / total
    if var_y <= 0:
        return glyph
    skew = float(np.clip((glyph * (xs - cx) * (ys - cy)).sum() / total / var_y, -MAX_SKEW, MAX_SKEW))
    pad = int(np.ceil(abs(skew) * glyph.shape[0])) + 1
    padded = np.pad(glyph, ((0, 0), (pad, pad)))
    sheared = Image.fromarray(padded.astype(np.float32)).transform(
        (padded.shape[1], padded.shape[0]),
        Image.Transform.AFFINE,
        (1.0, skew, -skew * cy, 0.0, 1.0, 0.0),
        Image.Resampling.BILINEAR,
    )
    upright = np.asarray(sheared, dtype=np.float32)
    if not (upright >= INK_LEVEL).any():
        return glyph
    cropped: np.ndarray = upright[_ink_box(upright >= INK_LEVEL, trim=0.0)]
    return cropped


def _fit(crop: np.ndarray) -> np.ndarray:
    """The cropped ink, longer side GLYPH pixels, centred on a WORK x WORK canvas."""
    height, width = crop.shape
    scale = GLYPH / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    canvas = np.zeros((WORK, WORK), dtype=np.float32)
    top, left = (WORK - new_h) // 2, (WORK - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.clip(_resize(crop, new_w, new_h), 0, 1)
    return canvas


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area / (boundary / 2), a stroke having two edges."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & mask
    boundary = max(area - int(inner.sum()), 1)
    return 2.0 * area / boundary


def _normalise_stroke(glyph: np.ndarray) -> np.ndarray:
    """Dilate or erode one pixel at a time until the stroke width is STROKE of the digit's height
    (thickening grows the height too, which the target allows for)."""
    mask = glyph >= INK_LEVEL
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return glyph
    height, width = rows[-1] - rows[0] + 1, stroke_width(mask)
    target = STROKE * (height - width) / (1 - STROKE)
    image = Image.fromarray(np.round(glyph * 255).astype(np.uint8))
    for _ in range(MAX_STEPS):
        if width < target - 1:
            image = image.filter(ImageFilter.MaxFilter(3))
        elif width > target + 1:
            thinner = image.filter(ImageFilter.MinFilter(3))
            if np.count_nonzero(np.asarray(thinner) >= 128) < 0.3 * np.count_nonzero(
                np.asarray(image) >= 128
            ):
                break  # eroding would erase the digit
            image = thinner
        else:
            break
        width = stroke_width(np.asarray(image) >= 128)
    result: np.ndarray = np.asarray(image, dtype=np.float32) / 255.0
    return result


def _place(glyph: np.ndarray, frame: int) -> np.ndarray:
    """The glyph scaled to fill the frame's height (or width, when wider than tall), centred."""
    height, width = glyph.shape
    scale = frame / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = np.clip(_resize(glyph, new_w, new_h), 0, 1)
    canvas = np.zeros((frame, frame), dtype=np.float32)
    top = (frame - new_h) // 2
    if CENTRE == "mass" and resized.sum() > 0:
        centre = float((resized.sum(axis=0) * np.arange(new_w)).sum() / resized.sum())
        left = int(np.clip(round(frame / 2 - 0.5 - centre), 0, frame - new_w))
    else:
        left = (frame - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas
