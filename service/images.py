"""Turn an uploaded PNG or JPEG of one digit into an 8x8 image like scikit-learn's digits.

This module decodes (formats, pixel limit, EXIF rotation, transparency, 16-bit grey) and refuses what
it cannot read; the picture then goes through models.preprocess.to_digit_grid, the one function that
training's generated pictures go through too (ink of either polarity, centred, scaled to fill the
height, strokes normalised, reduced by 4x4 blocks to 0..16).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models.preprocess import to_digit_grid
from service.errors import ApiError

ACCEPTED_FORMATS = {"PNG", "JPEG"}


def decode_upload(data: bytes, max_pixels: int, size: int = 8, max_value: float = 16.0) -> np.ndarray:
    """PNG/JPEG bytes -> float32 array (size, size) in 0..max_value."""
    return to_digit_grid(_open_grey(data, max_pixels), size, max_value)


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
