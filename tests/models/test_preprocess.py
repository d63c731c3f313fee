"""models.preprocess.to_digit_grid on synthetic pictures: position, stroke width, polarity, a tall thin
"1", noise on the paper, and load_digits digits drawn large."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits

from models.preprocess import STROKE, stroke_width, to_digit_grid


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.images.astype(np.float32), bunch.target


def ring(size: int = 200, centre: tuple[int, int] = (100, 100), radius: int = 50, pen: int = 8) -> np.ndarray:
    """A "0": dark ring on white paper, grey 0..1."""
    image = Image.new("L", (size, size), 255)
    x, y = centre
    ImageDraw.Draw(image).ellipse(
        (x - radius * 0.7, y - radius, x + radius * 0.7, y + radius), outline=0, width=pen
    )
    return np.asarray(image, dtype=np.float32) / 255


def grid(picture: np.ndarray) -> np.ndarray:
    result = to_digit_grid(picture)
    assert result.shape == (8, 8)
    assert result.dtype == np.float32
    assert result.min() >= 0
    assert result.max() <= 16
    return result


def test_like_load_digits_fills_the_height_and_is_centred() -> None:
    result = grid(ring())
    rows, cols = np.flatnonzero(result.any(axis=1)), np.flatnonzero(result.any(axis=0))
    assert (rows[0], rows[-1]) == (0, 7)  # every load_digits digit spans all 8 rows
    assert cols[0] >= 1
    assert cols[-1] <= 6
    assert result[:, :4].sum() == pytest.approx(result[:, 4:].sum(), rel=0.15)


@pytest.mark.parametrize("centre", [(40, 60), (150, 140), (100, 55)])
def test_position_on_the_paper_does_not_matter(centre: tuple[int, int]) -> None:
    np.testing.assert_allclose(grid(ring(centre=centre, radius=35)), grid(ring(radius=35)), atol=1.0)


@pytest.mark.parametrize("pen", [3, 5, 12, 16, 20])
def test_thin_and_thick_strokes_come_out_alike(pen: int) -> None:
    """Typed digits are thin, marker strokes fat; the model sees the same stroke either way."""
    reference = grid(ring(pen=8))
    assert np.corrcoef(grid(ring(pen=pen)).ravel(), reference.ravel())[0, 1] > 0.9
    assert grid(ring(pen=pen)).sum() == pytest.approx(reference.sum(), rel=0.3)


def test_stroke_width_is_measured() -> None:
    bar = np.zeros((100, 100), dtype=bool)
    bar[10:90, 40:50] = True
    assert stroke_width(bar) == pytest.approx(10, rel=0.15)


def test_light_on_dark_gives_the_same_grid() -> None:
    picture = ring()
    np.testing.assert_allclose(grid(1 - picture), grid(picture), atol=0.5)


def test_a_tall_thin_one_stays_a_narrow_upright_stroke() -> None:
    canvas = np.ones((400, 300), dtype=np.float32)
    canvas[40:360, 145:155] = 0  # a "1": a bar 320 high and 10 wide
    result = grid(canvas)
    inked = result > 2
    assert inked.any(axis=1).all()  # spans the whole height
    assert 1 <= inked.any(axis=0).sum() <= 3  # 1 to 3 columns across, like load_digits' ones
    thickness = STROKE * 32 / 4  # the stroke width in 8x8 columns
    assert result.sum() / 16 / 8 == pytest.approx(thickness, rel=0.4)


def test_noise_on_the_paper_is_ignored() -> None:
    rng = np.random.default_rng(0)
    clean = ring()
    noisy = np.clip(clean * 0.85 + 0.1 + rng.normal(0, 0.05, clean.shape), 0, 1)  # grey, grainy paper
    specks = rng.integers(0, 200, (6, 2))
    noisy[specks[:, 0], specks[:, 1]] = 0  # a few black dots, one pixel each
    assert np.corrcoef(grid(noisy).ravel(), grid(clean).ravel())[0, 1] > 0.95


def test_a_slanted_digit_is_set_upright() -> None:
    upright = ring()
    image = Image.fromarray((upright * 255).astype(np.uint8))
    slanted = image.transform(image.size, Image.Transform.AFFINE, (1, 0.4, -40, 0, 1, 0), fillcolor=255)
    result = grid(np.asarray(slanted, dtype=np.float32) / 255)
    assert np.corrcoef(result.ravel(), grid(upright).ravel())[0, 1] > 0.9


def test_blank_pictures_give_zeros() -> None:
    for picture in (np.ones((50, 50)), np.zeros((50, 50)), np.full((3, 3), 0.5)):
        np.testing.assert_array_equal(grid(picture.astype(np.float32)), np.zeros((8, 8)))


def test_refuses_a_picture_that_is_not_2d() -> None:
    with pytest.raises(ValueError, match="2-D"):
        to_digit_grid(np.zeros((4, 4, 3), dtype=np.float32))


def test_load_digits_drawn_large_come_back_close_to_themselves() -> None:
    """The training data's own digits, drawn 10x as dark ink on white, return close to the original 8x8:
    the preprocessing makes what load_digits is made of (slanted ones are set upright, hence the median)."""
    images, _ = digits()
    scores = []
    for image in images[:100]:
        picture = 1 - np.pad(np.kron(image / 16, np.ones((10, 10))), 20)
        scores.append(np.corrcoef(grid(picture.astype(np.float32)).ravel(), image.ravel())[0, 1])
    assert np.median(scores) > 0.88
    assert np.mean(np.asarray(scores) > 0.7) > 0.9
