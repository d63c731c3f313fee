"""Uploaded pictures -> 8x8 digits: real digits survive PNG/JPEG, inversion and odd canvases; bad files are 4xx."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile
from sklearn.datasets import load_digits

from service.errors import ApiError
from service.images import decode_upload

MAX_PIXELS = 4096 * 4096
SCALE = 10  # each digit pixel becomes SCALE x SCALE picture pixels
MARGIN = 20  # blank paper around the digit, in picture pixels


@cache
def digits() -> np.ndarray:
    """scikit-learn's 8x8 digits, grey levels 0..16 (shipped with scikit-learn: no download)."""
    images: np.ndarray = load_digits().images
    return images


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def ink(index: int) -> np.ndarray:
    """Digit ``index`` upscaled, as ink strength 0..255 (rounded the same way for both polarities)."""
    return np.round(np.kron(digits()[index], np.ones((SCALE, SCALE))) / 16 * 255)


def picture(index: int, dark_on_light: bool = True, pad: Any = MARGIN) -> Image.Image:
    """A greyscale picture of a digit with a margin of paper: dark strokes on white, or the reverse."""
    strokes = ink(index)
    paper = 255 if dark_on_light else 0
    pixels = 255 - strokes if dark_on_light else strokes
    return Image.fromarray(np.pad(pixels, pad, constant_values=paper).astype(np.uint8))


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    result = decode_upload(data, max_pixels)
    assert result.dtype == np.float32
    assert result.shape == (8, 8)
    assert result.min() >= 0
    assert result.max() <= 16
    return result


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def refused(data: bytes, max_pixels: int = MAX_PIXELS) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode_upload(data, max_pixels)
    assert 0 < len(caught.value.detail) < 300
    return caught.value


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_scanned_digits_decode_close_to_the_originals(fmt: str) -> None:
    """A dark-on-white drawing of a training digit must come back close to that digit, so the model
    sees what it was trained on. Slanted digits are set upright and off-centre ones re-centred, which
    lowers their pixel correlation; hence the median and "most", not "all"."""
    samples = range(100)
    scores = np.array(
        [correlation(decode(encode(picture(i), fmt)), digits()[i]) for i in samples], dtype=np.float64
    )
    assert np.median(scores) > 0.88
    assert (scores > 0.7).mean() >= 0.9, np.flatnonzero(scores <= 0.7)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_light_on_dark_decodes_like_dark_on_light(fmt: str) -> None:
    """The training data is light on dark; a dark-on-white drawing must be inverted to match it."""
    for index in range(20):
        dark_on_light = decode(encode(picture(index, dark_on_light=True), fmt))
        light_on_dark = decode(encode(picture(index, dark_on_light=False), fmt))
        assert light_on_dark.max() > 15
        np.testing.assert_allclose(dark_on_light, light_on_dark, atol=0.25, err_msg=f"digit {index}")


@pytest.mark.parametrize(
    "pad",
    [
        ((MARGIN, MARGIN), (MARGIN, 300)),  # wide canvas, digit on the left
        ((250, MARGIN), (MARGIN, MARGIN)),  # tall canvas, digit at the bottom
        ((5, 400), (150, 7)),  # both, off-centre
    ],
    ids=["wide", "tall", "off-centre"],
)
def test_canvas_size_and_position_do_not_change_the_digit(pad: Any) -> None:
    """Only the ink matters: extra paper on any side must not stretch or shift the result."""
    for index in range(10):
        on_square = decode(encode(picture(index), "PNG"))
        on_canvas = decode(encode(picture(index, pad=pad), "PNG"))
        np.testing.assert_allclose(on_canvas, on_square, atol=0.25, err_msg=f"digit {index}")


@pytest.mark.parametrize("tall", [True, False], ids=["tall bar", "wide bar"])
def test_aspect_ratio_is_kept(tall: bool) -> None:
    """A thin bar on a non-square canvas stays thin: it is padded to a square, not stretched to fill 8x8."""
    canvas = np.full((400, 200), 255, dtype=np.uint8)
    canvas[50:350, 90:110] = 0  # a bar 300 high and 20 wide
    if not tall:
        canvas = canvas.T.copy()
    result = decode(encode(Image.fromarray(canvas), "PNG"))
    inked = result > 1
    long_axis, short_axis = (0, 1) if tall else (1, 0)
    assert inked.any(axis=short_axis).sum() == 8, result  # spans the whole long side
    assert inked.any(axis=long_axis).sum() <= 2, result  # and at most 2 of 8 across


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_background_counts_as_white_paper(mode: str) -> None:
    """Drawing apps export black strokes on a transparent (RGB black, alpha 0) background; read alone, the
    colour channels are black on black, so the alpha must be used."""
    for index in range(10):
        strength = np.pad(ink(index), MARGIN).astype(np.uint8)
        layers = [np.zeros_like(strength)] * (len(mode) - 1) + [strength]  # black, opaque where inked
        drawing = Image.fromarray(np.stack(layers, axis=-1))
        assert drawing.mode == mode
        expected = decode(encode(picture(index), "PNG"))
        np.testing.assert_allclose(decode(encode(drawing, "PNG")), expected, atol=0.25)


def test_palette_png_with_transparency() -> None:
    """Paletted PNGs with a transparent index (what many tools save) are read as white paper too, even when
    that index's colour is black."""
    grey = np.asarray(picture(3))
    indexes = np.maximum(grey, 1).astype(np.uint8)  # index i is grey level i; index 0 is kept for paper
    indexes[grey == 255] = 0
    drawing = Image.frombytes("P", (indexes.shape[1], indexes.shape[0]), indexes.tobytes())
    drawing.putpalette([level for i in range(256) for level in (i, i, i)])
    data = encode(drawing, "PNG", transparency=0)  # index 0: black, fully transparent
    reopened = Image.open(io.BytesIO(data))
    assert (reopened.mode, reopened.info.get("transparency")) == ("P", 0)
    np.testing.assert_allclose(decode(data), decode(encode(picture(3), "PNG")), atol=0.25)


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (Image.new("L", (64, 64), 255), "PNG"),
        (Image.new("L", (64, 64), 0), "PNG"),
        (Image.new("RGB", (64, 48), (255, 255, 255)), "JPEG"),
        (Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG"),
        (Image.new("L", (1, 1), 128), "PNG"),
    ],
    ids=["white", "black", "white-jpeg", "transparent", "one-pixel"],
)
def test_blank_picture_is_all_zeros(image: Image.Image, fmt: str) -> None:
    """No ink is a valid (if useless) picture: zeros, not a division by zero or a crash."""
    np.testing.assert_array_equal(decode(encode(image, fmt)), np.zeros((8, 8), dtype=np.float32))


def test_sixteen_bit_png_is_read_like_eight_bit() -> None:
    """A 16-bit greyscale PNG is a PNG; it must decode like the same picture saved with 8 bits."""
    eight_bit = picture(0)
    sixteen_bit = Image.fromarray(np.asarray(eight_bit).astype(np.uint16) * 257)
    assert sixteen_bit.mode == "I;16"
    np.testing.assert_allclose(
        decode(encode(sixteen_bit, "PNG")), decode(encode(eight_bit, "PNG")), atol=0.25
    )


def test_exif_rotation_is_applied() -> None:
    """A photo stored sideways with an EXIF orientation tag decodes upright."""
    upright = picture(0).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... and the tag that says "rotate 90 degrees clockwise to view"
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    np.testing.assert_allclose(decode(buffer.getvalue()), decode(encode(upright, "JPEG")), atol=1.0)


def digit_bytes(fmt: str) -> bytes:
    return encode(picture(0).convert("RGB"), fmt)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        np.random.default_rng(0).bytes(2_000),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # PNG signature, garbage after
        digit_bytes("GIF"),
        digit_bytes("BMP"),
        digit_bytes("TIFF"),
        digit_bytes("WEBP"),
        digit_bytes("PNG")[: len(digit_bytes("PNG")) // 2],
        digit_bytes("JPEG")[: len(digit_bytes("JPEG")) // 2],
    ],
    ids=["empty", "random", "png-signature-only", "gif", "bmp", "tiff", "webp", "half-png", "half-jpeg"],
)
def test_undecodable_or_unaccepted_files_are_invalid_image(data: bytes) -> None:
    """Only complete PNG and JPEG files are accepted; anything else is a 422 invalid_image, never a 500."""
    error = refused(data)
    assert (error.code, error.status) == ("invalid_image", 422)


def bomb(mode: str) -> bytes:
    """A 5000x5000 all-black PNG: 25 megapixels in a few kilobytes, like a decompression bomb."""
    data = encode(Image.new(mode, (5000, 5000), 0), "PNG")
    assert len(data) < 100_000
    return data


@pytest.mark.parametrize("mode", ["1", "L"])
def test_too_many_pixels_is_image_too_large(mode: str) -> None:
    """A small file can still decode to a huge bitmap; the pixel count is what is limited."""
    error = refused(bomb(mode))
    assert (error.code, error.status) == ("image_too_large", 413)
    assert "5000x5000" in error.detail


def test_pixel_limit_is_checked_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """The size must be refused before any pixel is decoded: decoding is what a bomb makes expensive."""

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded before the size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = bomb("L")
    header_only = data[: data.index(b"IDAT") + 16]  # signature, IHDR and the start of the pixel data
    for upload in (data, header_only):
        assert refused(upload).code == "image_too_large"


def test_pixel_limit_is_inclusive() -> None:
    """width x height == max_pixels is accepted; one more row is refused."""
    assert decode(encode(Image.new("L", (64, 64), 255), "PNG"), max_pixels=64 * 64).shape == (8, 8)
    error = refused(encode(Image.new("L", (64, 65), 255), "PNG"), max_pixels=64 * 64)
    assert (error.code, error.status) == ("image_too_large", 413)


@pytest.mark.parametrize("factor", [1.5, 2.5], ids=["pillow-warning", "pillow-error"])
def test_beyond_pillows_own_bomb_limit_is_image_too_large(factor: float) -> None:
    """Past Pillow's own limit (a warning from 1x, an error from 2x) the refusal must still be
    image_too_large, not a 500, even when the service's own limit is set higher."""
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int(np.sqrt(factor * Image.MAX_IMAGE_PIXELS))
    error = refused(encode(Image.new("1", (side, side), 0), "PNG"), max_pixels=3 * side * side)
    assert (error.code, error.status) == ("image_too_large", 413)
