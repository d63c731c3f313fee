"""The digits model's generated data, calibration and report: fonts split by role, a clear error without
the fonts, temperature scaling that lowers the calibration error, and the held-out accuracy kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import DIGITS
from training.calibrate import fit_temperature, reliability, softmax
from training.data import digits_split
from training.digits_data import fonts_by_role
from training.pipeline import train, write_plots
from training.render import APT_PACKAGES, TRAIN_FONTS, FontsMissingError, font_files
from training.settings import TrainingSettings


def test_missing_fonts_name_the_apt_packages(tmp_path: Path) -> None:
    with pytest.raises(FontsMissingError) as caught:
        font_files(TRAIN_FONTS, root=tmp_path)
    message = str(caught.value)
    assert "apt-get install -y" in message
    assert all(package in message for package in TRAIN_FONTS)


def test_training_validation_and_unseen_fonts_are_disjoint() -> None:
    fonts = fonts_by_role()
    train_fonts, val_fonts, unseen_fonts = (set(fonts[role]) for role in ("train", "val", "unseen"))
    assert all((train_fonts, val_fonts, unseen_fonts))
    assert not train_fonts & val_fonts
    assert not (train_fonts | val_fonts) & unseen_fonts
    families = {font.parent for font in unseen_fonts}
    assert not families & {font.parent for font in train_fonts | val_fonts}  # other packages entirely


def test_quick_split_holds_generated_digits_in_the_digits_scale() -> None:
    split = digits_split(seed=0, quick=True)
    assert split.unseen is not None
    for x in (split.x_train, split.x_val, split.unseen.x):
        assert x.shape[1:] == (8, 8)
        assert x.dtype == np.float32
        assert x.min() >= 0
        assert x.max() <= 16
    assert split.sizes["test"] == 360  # the load_digits test rows, untouched
    assert split.sizes["train"] > 1149  # load_digits training rows plus generated ones
    generated = split.source["generated"]
    assert generated["apt_packages"] == APT_PACKAGES
    assert set(generated["unseen_fonts"]).isdisjoint(generated["train_fonts"])
    assert len(split.unseen.pictures) == len(split.unseen.y) == len(split.unseen.fonts)


def test_temperature_scaling_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    logits = rng.normal(0, 1, (2000, 10))
    right = rng.random(2000) < 0.7  # right 70% of the time ...
    logits[np.arange(2000), np.where(right, labels, (labels + 1) % 10)] += 8  # ... but always sure
    temperature = fit_temperature(logits, labels)
    assert temperature > 2
    before = reliability(softmax(logits), labels).ece
    after = reliability(softmax(logits, temperature), labels).ece
    assert before > 0.2
    assert after < 0.1


def test_reliability_bins_count_every_answer() -> None:
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [0.3, 0.7]])
    curve = reliability(proba, np.array([0, 1, 1]), bins=10)
    assert curve.counts.sum() == 3
    assert curve.ece == pytest.approx((0.05 + 0.55 + 0.3) / 3)


def test_quick_run_calibrates_reports_and_plots(tmp_path: Path) -> None:
    settings = TrainingSettings(quick=True, reports_dir=tmp_path)
    result = train(DIGITS, settings)
    metrics = result.metrics
    assert result.model.config.temperature == pytest.approx(metrics["temperature"], abs=1e-3)  # type: ignore[union-attr]
    assert 0 <= metrics["unseen_accuracy"] <= 1
    assert set(metrics["unseen_per_digit"]) == {str(d) for d in range(10)}
    for key in ("ece_before", "ece_after", "unseen_ece_before", "unseen_ece_after"):
        assert 0 <= metrics[key] <= 1
    assert "unseen styles" in result.findings.text
    written = {Path(path).name for path in write_plots(result, settings)}
    assert {"loss.png", "confusion.png", "accuracy.png", "reliability.png", "mistakes.png"} <= written


@pytest.mark.slow
def test_full_training_keeps_load_digits_and_generalises() -> None:
    """The augmented model keeps >= 0.97 on the held-out load_digits split, and reads typed and
    handwriting-like digits in fonts it never saw (0.92 measured; the floor leaves room for seeds)."""
    result = train(DIGITS, TrainingSettings(plots=False))
    assert result.metrics["accuracy"] >= 0.97
    assert result.metrics["unseen_accuracy"] >= 0.88
    assert result.metrics["unseen_ece_after"] <= result.metrics["unseen_ece_before"] + 0.01


def test_denormal_weights_are_flushed_to_zero() -> None:
    """Weights below float32's smallest normal number change no answer but slow every CPU forward."""
    import torch

    from models import DigitsCNN
    from training.loop import flush_denormals

    model = DigitsCNN()
    weight = model.state_dict()["features.3.weight"]  # shares the parameter's storage
    with torch.no_grad():
        weight[0, 0, 0, 0] = 1e-40
        weight[0, 0, 0, 1] = 0.5
    assert flush_denormals(model) == 1
    assert weight[0, 0, 0, 0] == 0
    assert weight[0, 0, 0, 1] == 0.5
