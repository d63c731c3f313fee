"""Digits drawn with a pen, as people draw them on a screen: each digit is a few strokes (several ways
of writing it: a "1" with or without a flag and a base, a "7" with or without a bar, an open or closed
"4", ...) whose points are jittered, slanted, turned and stretched, drawn with a round pen of random
width. No fonts needed."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from training.augment import elastic
from training.render import on_paper

Point = tuple[float, float]
Stroke = list[Point]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 16) -> Stroke:
    """Points of an elliptical arc in a box with y pointing down (0 degrees: right, 90: down)."""
    angles = np.radians(np.linspace(start, end, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Each digit: ways of writing it, each a list of strokes in the unit box (x right, y down).
SHAPES: dict[int, list[list[Stroke]]] = {
    0: [[arc(0.5, 0.5, 0.36, 0.48, 270, 635)], [arc(0.5, 0.5, 0.3, 0.48, 250, 620)]],
    1: [
        [[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.25, 0.25), (0.55, 0.0), (0.55, 1.0)]],
        [[(0.25, 0.25), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
    ],
    2: [
        [[*arc(0.5, 0.3, 0.32, 0.27, 200, 400), (0.12, 1.0), (0.9, 1.0)]],
        [[*arc(0.5, 0.28, 0.33, 0.27, 190, 370), (0.15, 0.95), (0.25, 0.9), (0.9, 1.0)]],
    ],
    3: [
        [arc(0.45, 0.26, 0.33, 0.23, 210, 450), arc(0.45, 0.73, 0.37, 0.26, 270, 510)],
        [[(0.15, 0.02), (0.85, 0.02), (0.4, 0.42), *arc(0.45, 0.7, 0.37, 0.28, 280, 510)]],
    ],
    4: [
        [[(0.62, 0.0), (0.12, 0.68), (0.92, 0.68)], [(0.68, 0.35), (0.68, 1.0)]],
        [[(0.2, 0.0), (0.15, 0.55), (0.88, 0.55)], [(0.7, 0.05), (0.7, 1.0)]],
    ],
    5: [
        [[(0.82, 0.03), (0.3, 0.03), (0.25, 0.45), *arc(0.48, 0.68, 0.33, 0.3, 240, 500)]],
        [[(0.3, 0.03), (0.25, 0.45), *arc(0.48, 0.68, 0.33, 0.3, 240, 500)], [(0.3, 0.03), (0.85, 0.03)]],
    ],
    6: [
        [[(0.72, 0.03), (0.45, 0.2), (0.25, 0.45), (0.2, 0.7), *arc(0.5, 0.72, 0.3, 0.26, 180, 540)]],
        [arc(0.75, 0.6, 0.55, 0.58, 240, 180 - 20, 10)[::-1] + arc(0.5, 0.72, 0.28, 0.26, 160, 520)],
    ],
    7: [
        [[(0.12, 0.03), (0.88, 0.03), (0.4, 1.0)]],
        [[(0.12, 0.03), (0.88, 0.03), (0.45, 1.0)], [(0.35, 0.5), (0.82, 0.5)]],
        [[(0.12, 0.15), (0.12, 0.03), (0.88, 0.03), (0.55, 0.5), (0.5, 1.0)]],
    ],
    8: [
        [arc(0.5, 0.26, 0.27, 0.24, 90, 450), arc(0.5, 0.73, 0.33, 0.26, 270, 630)],
        [arc(0.5, 0.26, 0.3, 0.24, 120, 480) + arc(0.5, 0.73, 0.3, 0.26, 270 - 20, 610)],
    ],
    9: [
        [arc(0.5, 0.3, 0.32, 0.27, 0, 360), [(0.82, 0.3), (0.78, 1.0)]],
        [arc(0.5, 0.3, 0.32, 0.27, 0, 360), [(0.82, 0.3), (0.8, 0.7), (0.6, 0.95), (0.3, 1.0)]],
    ],
}


def _transform(strokes: list[Stroke], rng: np.random.Generator) -> list[np.ndarray]:
    """Jitter every point, then slant, turn and stretch the whole digit."""
    angle = math.radians(rng.uniform(-10, 10))
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array(
        [[rng.uniform(0.6, 1.15), rng.uniform(-0.3, 0.15)], [0, 1]]
    )
    wobble = rng.uniform(0.01, 0.04)
    moved = []
    for stroke in strokes:
        points = np.asarray(stroke) + rng.normal(0, wobble, (len(stroke), 2))
        moved.append((points - 0.5) @ matrix.T + 0.5)
    return moved


def draw(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One drawn ``digit`` as a grey picture (0..1, either polarity)."""
    strokes = _transform(SHAPES[digit][int(rng.integers(len(SHAPES[digit])))], rng)
    height = float(rng.uniform(30, 140))
    pen = max(1, round(height * rng.uniform(0.04, 0.2)))
    side = int(height * 1.8)
    image = Image.new("L", (side, side), 0)
    canvas = ImageDraw.Draw(image)
    origin = np.array([side / 2, side / 2]) + rng.uniform(-0.15, 0.15, 2) * height - height / 2
    for stroke in strokes:
        points = [tuple(p) for p in stroke * height + origin]
        canvas.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            canvas.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    ink = np.asarray(image, dtype=np.float32) / 255.0
    return on_paper(elastic(ink, rng, rng.uniform(0.0, 0.06)), rng)


def drawn(per_digit: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_digit`` drawn pictures of each digit, and their labels (int64)."""
    labels = np.repeat(np.arange(10, dtype=np.int64), per_digit)
    return [draw(int(digit), rng) for digit in labels], labels
