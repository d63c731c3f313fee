"""The digits model's generated data, laid over the ``load_digits`` split (training/data.py).

- train: the ``load_digits`` training rows as they are, ``COPIES`` augmented variants of each
  (training/augment.py), digits rendered from the training fonts (training/render.py), and digits
  drawn with a pen from stroke templates (training/strokes.py);
- validation (early stopping and the temperature): the ``load_digits`` validation rows, one augmented
  variant of each, digits rendered from a quarter of the training fonts that training itself never
  sees (so that the temperature is fitted on unfamiliar styles), and more drawn digits;
- test: the ``load_digits`` test rows, untouched (the figure comparable with every earlier model);
- unseen: digits rendered from the held-out fonts, a different set of families.

Every generated picture goes through models.preprocess.to_digit_grid, as an upload does."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from models.preprocess import to_digit_grid
from training.augment import augmented
from training.data import Split, Unseen
from training.render import APT_PACKAGES, HELD_OUT_FONTS, TRAIN_FONTS, font_files, rendered
from training.strokes import drawn

COPIES, QUICK_COPIES = 4, 1  # augmented variants of each load_digits training digit
PER_FONT, QUICK_PER_FONT = 8, 1  # rendered pictures of each digit per training font
VAL_PER_FONT = 3
UNSEEN_PER_FONT, QUICK_UNSEEN_PER_FONT = 4, 1
VAL_FONT_EVERY = 4  # every 4th training font is kept for validation only
DRAWN, QUICK_DRAWN, VAL_DRAWN = 200, 20, 30  # pen-drawn pictures per digit (training/strokes.py)


def fonts_by_role() -> dict[str, list[Path]]:
    """Training, validation and held-out (unseen) font files; FontsMissingError when not installed."""
    pool = font_files(TRAIN_FONTS)
    return {
        "train": [font for i, font in enumerate(pool) if i % VAL_FONT_EVERY != VAL_FONT_EVERY - 1],
        "val": [font for i, font in enumerate(pool) if i % VAL_FONT_EVERY == VAL_FONT_EVERY - 1],
        "unseen": font_files(HELD_OUT_FONTS),
    }


def _grids(pictures: list[np.ndarray]) -> np.ndarray:
    return np.stack([to_digit_grid(picture) for picture in pictures]).astype(np.float32)


def with_generated(split: Split, seed: int, quick: bool) -> Split:
    fonts = fonts_by_role()
    rng = np.random.default_rng(seed)
    copies, per_font = (QUICK_COPIES, QUICK_PER_FONT) if quick else (COPIES, PER_FONT)
    x_aug, y_aug = augmented(split.x_train, split.y_train, copies, rng)
    train_pictures, y_font, _ = rendered(fonts["train"], per_font, rng, warp=True)
    x_val_aug, y_val_aug = augmented(split.x_val, split.y_val, 1, rng)
    val_pictures, y_val_font, _ = rendered(fonts["val"], 1 if quick else VAL_PER_FONT, rng)
    drawn_pictures, y_drawn = drawn(QUICK_DRAWN if quick else DRAWN, rng)
    val_drawn, y_val_drawn = drawn(QUICK_DRAWN if quick else VAL_DRAWN, rng)
    # The unseen set has its own generator: the same pictures for every seed and setting.
    unseen_rng = np.random.default_rng(20_000)
    unseen_pictures, y_unseen, names = rendered(
        fonts["unseen"], QUICK_UNSEEN_PER_FONT if quick else UNSEEN_PER_FONT, unseen_rng
    )
    unseen = Unseen(
        [np.round(p * 255).astype(np.uint8) for p in unseen_pictures],
        _grids(unseen_pictures),
        y_unseen,
        names,
    )
    generated: dict[str, Any] = {
        "apt_packages": APT_PACKAGES,
        "train_fonts": [font.stem for font in fonts["train"]],
        "validation_fonts": [font.stem for font in fonts["val"]],
        "unseen_fonts": [font.stem for font in fonts["unseen"]],
        "augmented_per_digit": copies,
        "rendered_per_font_and_digit": per_font,
        "rows": {
            "augmented": len(y_aug),
            "rendered": len(y_font),
            "drawn": len(y_drawn),
            "unseen": len(y_unseen),
        },
        "quick": quick,
    }
    return dataclasses.replace(
        split,
        x_train=np.concatenate([split.x_train, x_aug, _grids(train_pictures), _grids(drawn_pictures)]),
        y_train=np.concatenate([split.y_train, y_aug, y_font, y_drawn]),
        x_val=np.concatenate([split.x_val, x_val_aug, _grids(val_pictures), _grids(val_drawn)]),
        y_val=np.concatenate([split.y_val, y_val_aug, y_val_font, y_val_drawn]),
        source={**split.source, "generated": generated},
        unseen=unseen,
    )
