"""Digits rendered from fonts, as pictures a person might send: several sizes, stroke weights, offsets,
small rotations, either polarity, a little blur and paper noise.

The fonts come from Debian packages that the project's setup installs (``APT_PACKAGES``). They are split
by family: the training fonts teach the model typed and handwriting-like shapes; the held-out fonts are
other families (other typed designs, and other handwriting) that training never sees, so the accuracy on
them says how the model does on styles it has not met."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_ROOT = Path("/usr/share/fonts")

# Font files by the Debian package that installs them.
TRAIN_FONTS: dict[str, tuple[str, ...]] = {
    "fonts-dejavu-core": tuple(
        f"truetype/dejavu/{name}.ttf"
        for name in ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSansMono")
    ),
    "fonts-liberation": tuple(
        f"truetype/liberation/Liberation{name}.ttf"
        for name in (
            "Sans-Regular",
            "Sans-Bold",
            "Sans-Italic",
            "Serif-Regular",
            "Serif-Bold",
            "Serif-Italic",
            "Mono-Regular",
            "SansNarrow-Regular",
        )
    ),
    "fonts-freefont-ttf": tuple(
        f"truetype/freefont/{name}.ttf"
        for name in ("FreeSans", "FreeSansBoldOblique", "FreeSerif", "FreeSerifItalic", "FreeMono")
    ),
    "fonts-comic-neue": tuple(
        f"opentype/comic-neue/ComicNeue-{name}.otf" for name in ("Regular", "Bold", "Italic", "Light")
    ),
    "fonts-dkg-handwriting": tuple(
        f"truetype/fifthhorseman/{name}.ttf" for name in ("dkg", "dkgBd", "dkgIt")
    ),
    "fonts-femkeklaver": ("truetype/femkeklaver/femkeklaver.ttf",),
    "fonts-breip": ("truetype/breip/Breip.ttf",),
}
# Kept out of training: other typed families (URW's clones of Helvetica, Times, Century, Palatino,
# Bookman, Avant Garde, Courier, Zapf Chancery) and other handwriting (Humor Sans, Kristi, the six
# "Because We Had To" hands).
HELD_OUT_FONTS: dict[str, tuple[str, ...]] = {
    "fonts-urw-base35": tuple(
        f"opentype/urw-base35/{name}.otf"
        for name in (
            "NimbusSans-Regular",
            "NimbusSans-Bold",
            "NimbusSansNarrow-Oblique",
            "NimbusRoman-Regular",
            "NimbusRoman-Italic",
            "C059-Roman",
            "P052-Italic",
            "URWBookman-Light",
            "URWGothic-Book",
            "URWGothic-DemiOblique",
            "NimbusMonoPS-Regular",
            "Z003-MediumItalic",
        )
    ),
    "fonts-humor-sans": ("truetype/humor-sans/Humor-Sans.ttf",),
    "fonts-kristi": ("truetype/kristi/Kristi.ttf",),
    "fonts-bwht": tuple(
        f"opentype/bwht/BecauseWe{name}-Regular.otf"
        for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")
    ),
}
APT_PACKAGES = sorted(set(TRAIN_FONTS) | set(HELD_OUT_FONTS))


class FontsMissingError(RuntimeError):
    """Training needs fonts that are not installed; the message names the apt packages."""


def font_files(table: dict[str, tuple[str, ...]], root: Path = FONT_ROOT) -> list[Path]:
    """Every font file of ``table``, or FontsMissingError naming the packages to install."""
    missing = sorted({package for package, files in table.items() for f in files if not (root / f).is_file()})
    if missing:
        raise FontsMissingError(
            f"fonts for rendering digits are missing under {root}; install them with "
            f"`apt-get install -y {' '.join(missing)}` (or `make fonts`, which installs all of them)"
        )
    return [root / f for files in table.values() for f in files]


@lru_cache(maxsize=512)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def render(font: Path, digit: int, rng: np.random.Generator, warp: bool = False) -> np.ndarray:
    """One picture of ``digit`` in ``font`` with a random style: grey 0..1 (uint8-rounded) (H, W)."""
    canvas = int(rng.integers(40, 129))
    size = max(12, int(canvas * rng.uniform(0.4, 0.75)))
    stroke = int(rng.integers(0, max(1, size // 14) + 1)) if rng.random() < 0.5 else 0
    picture = Image.new("L", (canvas * 2, canvas * 2), 0)
    centre = (canvas + rng.uniform(-0.1, 0.1) * canvas, canvas + rng.uniform(-0.1, 0.1) * canvas)
    ImageDraw.Draw(picture).text(
        centre,
        str(digit),
        fill=255,
        font=_font(font, size),
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=255,
    )
    picture = picture.transform(
        picture.size, Image.Transform.AFFINE, _slant(rng, canvas), Image.Resampling.BILINEAR
    )
    half = canvas // 2
    picture = picture.crop((half, half, half + canvas, half + canvas))
    ink = np.asarray(picture, dtype=np.float32) / 255.0
    if warp:
        from training.augment import elastic  # scipy: only when training asks for warped pictures

        ink = elastic(ink, rng, rng.uniform(0.02, 0.08))
    return on_paper(ink, rng)


def on_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink strength (0..1) as a photo or scan of it might look: sometimes blurred, dark ink on light
    paper (three times in four) or light on dark, with some contrast loss and grain; grey 0..1 rounded
    to 8 bits."""
    if rng.random() < 0.3:
        sharp = Image.fromarray(np.round(ink * 255).astype(np.uint8))
        blurred = sharp.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
        ink = np.asarray(blurred, dtype=np.float32) / 255.0
    contrast = rng.uniform(0.6, 1.0)
    paper = rng.uniform(0.85, 1.0)
    grey = paper - contrast * ink if rng.random() < 0.75 else (1 - paper) + contrast * ink
    grey = grey + rng.normal(0, rng.uniform(0, 0.04), grey.shape)
    result: np.ndarray = np.round(np.clip(grey, 0, 1) * 255) / 255
    return result


def _slant(rng: np.random.Generator, canvas: int) -> tuple[float, float, float, float, float, float]:
    """The inverse affine map (as PIL wants it) of a small rotation, slant and stretch about the centre
    of the (2 canvas)-pixel picture."""
    angle = math.radians(rng.uniform(-12, 12))
    shear, stretch = rng.uniform(-0.25, 0.25), rng.uniform(0.8, 1.2)
    cos, sin = math.cos(angle), math.sin(angle)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[stretch, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)
    centre = np.array([canvas, canvas], dtype=np.float64)
    shift = centre - inverse @ centre
    return (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1])


def rendered(
    fonts: Sequence[Path], per_font: int, rng: np.random.Generator, warp: bool = False
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """``per_font`` pictures of each digit in each font: pictures, labels (int64) and font names; with
    ``warp``, half of them elastically warped (training only, never the held-out styles)."""
    pictures: list[np.ndarray] = []
    labels: list[int] = []
    names: list[str] = []
    for font in fonts:
        for digit in range(10):
            for _ in range(per_font):
                pictures.append(render(font, digit, rng, warp and rng.random() < 0.5))
                labels.append(digit)
                names.append(font.stem)
    return pictures, np.asarray(labels, dtype=np.int64), names
