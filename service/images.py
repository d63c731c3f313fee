"""Turn an uploaded PNG or JPEG of one handwritten digit into an 8x8 image like scikit-learn's digits.

The training data is light strokes on a dark background, grey levels 0..16, with the digit filling
the frame. So: decode, grey, invert when the background is light, crop to the ink, pad to a square
(keeping the aspect ratio), shrink to 8x8 by area averaging, and scale to 0..16.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import ApiError

ACCEPTED_FORMATS = {"PNG", "JPEG"}
INK_THRESHOLD = 0.25  # fraction of the image's contrast that counts as ink when cropping


def decode_upload(data: bytes, max_pixels: int, size: int = 8, max_value: float = 16.0) -> np.ndarray:
    """PNG/JPEG bytes -> float32 array (size, size) in 0..max_value."""
    grey = _open_grey(data, max_pixels)
    if _background_is_light(grey):
        grey = 1.0 - grey
    square = _crop_to_ink_square(grey)
    # A float32 array becomes a mode "F" image: area averaging without rounding to 8 bits.
    shrunk = Image.fromarray(square.astype(np.float32)).resize((size, size), Image.Resampling.BOX)
    pixels = np.asarray(shrunk, dtype=np.float32)
    peak = float(pixels.max())
    if peak <= 0:
        return np.zeros((size, size), dtype=np.float32)
    scaled: np.ndarray = np.clip(pixels / peak * max_value, 0, max_value).astype(np.float32)
    return scaled


def _open_grey(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode to grey levels in 0..1, checking the pixel count from the header before decoding."""
    if not data:
        raise ApiError("invalid_image", "the uploaded file is empty; send a PNG or JPEG")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
            width, height = image.size
            if width * height > max_pixels:
                raise ApiError(
                    "image_too_large",
                    f"the image is {width}x{height} pixels; at most {max_pixels} pixels are accepted",
                )
            image.load()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError("image_too_large", f"the image has more than {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise ApiError("invalid_image", "the file is not a PNG or JPEG image that can be decoded") from None
    except (OSError, ValueError, SyntaxError):  # truncated or corrupt data inside a valid header
        raise ApiError("invalid_image", "the image data is corrupt or truncated") from None
    image = ImageOps.exif_transpose(image)  # phone photos are often stored sideways with a rotation tag
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and 32-bit grey: convert("L") would clip at 255 instead of scaling down.
        wide = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(wide.max()), 1.0)
        scaled: np.ndarray = np.clip(wide / top, 0.0, 1.0)
        return scaled
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels count as white paper.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    grey: np.ndarray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return grey


def _background_is_light(grey: np.ndarray) -> bool:
    """The border pixels are mostly background: light border means dark ink on light paper."""
    border = np.concatenate([grey[0, :], grey[-1, :], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) > 0.5


def _crop_to_ink_square(grey: np.ndarray) -> np.ndarray:
    """Crop to the bounding box of the ink (light pixels now) and pad it to a centred square."""
    low, high = float(grey.min()), float(grey.max())
    ink = grey > low + INK_THRESHOLD * (high - low) if high > low else np.zeros_like(grey, dtype=bool)
    if not ink.any():
        return grey - low
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] - low
    side = max(crop.shape)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return square
