"""Training-time variants of ``load_digits``: each 8x8 digit drawn large, moved, turned, slanted,
stretched, thickened or thinned and blurred at the higher resolution, then reduced to 8x8 again by the
same function the upload path uses (models.preprocess.to_digit_grid)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from models.preprocess import to_digit_grid

SCALE = 8  # the 8x8 digit is drawn at 64x64 before it is transformed
CANVAS = 96


def picture(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random variant of an 8x8 digit (0..16) as a grey picture (0..1, either polarity)."""
    size = image.shape[0] * SCALE
    smooth = Image.fromarray((image / 16.0).astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
    canvas = Image.new("F", (CANVAS, CANVAS), 0.0)
    offset = (CANVAS - size) // 2
    canvas.paste(smooth, (offset, offset))
    canvas = canvas.transform(
        canvas.size, Image.Transform.AFFINE, _affine(rng), resample=Image.Resampling.BILINEAR
    )
    ink = np.clip(np.asarray(canvas, dtype=np.float32), 0, 1)
    level = rng.uniform(0.2, 0.6)  # where the smooth edge is cut: thinner or thicker strokes
    ink = (ink >= level).astype(np.float32)
    if rng.random() < 0.5:
        sharp = Image.fromarray((ink * 255).astype(np.uint8))
        blurred = sharp.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
        ink = np.asarray(blurred, dtype=np.float32) / 255.0
    grey = 1.0 - ink if rng.random() < 0.5 else ink
    noisy = grey + rng.normal(0, rng.uniform(0, 0.05), grey.shape)
    result: np.ndarray = np.clip(noisy, 0, 1).astype(np.float32)
    return result


def _affine(rng: np.random.Generator) -> tuple[float, float, float, float, float, float]:
    """The inverse map (output -> input pixel) of a rotation, shear and stretch about the centre."""
    angle = math.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    stretch_x, stretch_y = rng.uniform(0.75, 1.25), rng.uniform(0.85, 1.15)
    cos, sin = math.cos(angle), math.sin(angle)
    # forward: scale, then shear, then rotate; PIL wants the inverse
    forward = (
        np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([stretch_x, stretch_y])
    )
    inverse = np.linalg.inv(forward)
    centre = np.array([CANVAS / 2, CANVAS / 2])
    shift = centre - inverse @ centre + rng.uniform(-6, 6, 2)
    return (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1])


def elastic(ink: np.ndarray, rng: np.random.Generator, strength: float = 0.08) -> np.ndarray:
    """A smooth random warp of a picture (Simard et al., 2003): each pixel moves by up to about
    ``strength`` of the picture's side, neighbours moving together, as a hand wobbles."""
    side = max(ink.shape)
    sigma = side / 8
    fields = [
        ndimage.gaussian_filter(rng.uniform(-1, 1, ink.shape), sigma, mode="constant") for _ in range(2)
    ]
    scale = strength * side / max(float(np.abs(fields[0]).max()), float(np.abs(fields[1]).max()), 1e-6)
    rows, cols = np.meshgrid(np.arange(ink.shape[0]), np.arange(ink.shape[1]), indexing="ij")
    moved = ndimage.map_coordinates(ink, [rows + fields[0] * scale, cols + fields[1] * scale], order=1)
    result: np.ndarray = moved.astype(np.float32)
    return result


def augmented(
    images: np.ndarray, labels: np.ndarray, copies: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` random variants of every image, through the upload path's preprocessing."""
    grids = [to_digit_grid(picture(image, rng)) for _ in range(copies) for image in images]
    return np.stack(grids).astype(np.float32), np.tile(labels, copies)
