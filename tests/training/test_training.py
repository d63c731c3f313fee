"""Training without the store: data splits, settings, determinism, the CLI's argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import DIGITS, TABULAR
from training.cli import main
from training.data import digits_split, fingerprint, tabular_split
from training.pipeline import train
from training.recipes import RECIPES
from training.settings import QUICK_EPOCHS, TrainingSettings


def test_tabular_split_is_stratified_and_disjoint() -> None:
    split = tabular_split(seed=0)
    assert split.sizes == {"train": 320, "val": 80, "test": 100}
    assert split.y_test.mean() == pytest.approx(split.y_train.mean(), abs=0.02)
    rows = {row.tobytes() for row in np.concatenate([split.x_train, split.x_val])}
    assert not any(row.tobytes() in rows for row in split.x_test)


def test_test_split_does_not_move_with_the_seed() -> None:
    # Metrics from different seeds must compare the same held-out rows.
    assert np.array_equal(tabular_split(0).x_test, tabular_split(7).x_test)
    assert not np.array_equal(tabular_split(0).x_val, tabular_split(7).x_val)


def test_digits_split_keeps_the_image_shape_and_scale() -> None:
    split = digits_split(seed=0, quick=True)
    assert split.x_train.shape[1:] == (8, 8)
    assert split.x_train.dtype == np.float32
    assert split.x_train.min() >= 0
    assert split.x_train.max() <= 16
    assert sorted(set(split.y_test.tolist())) == list(range(10))


def test_fingerprint_changes_with_the_data() -> None:
    x, y = np.zeros((4, 2), np.float32), np.zeros(4, np.float32)
    assert fingerprint(x, y) == fingerprint(x.copy(), y.copy())
    changed = x.copy()
    changed[0, 0] = 1
    assert fingerprint(changed, y) != fingerprint(x, y)
    assert fingerprint(x.reshape(2, 4), y) != fingerprint(x, y)


def test_scaler_is_fitted_on_the_training_rows_only() -> None:
    result = train(TABULAR, TrainingSettings(quick=True, plots=False))
    split = result.split
    assert torch.allclose(result.model.mean, torch.from_numpy(split.x_train.mean(axis=0)))  # type: ignore[arg-type]
    all_rows = np.concatenate([split.x_train, split.x_val, split.x_test])
    assert not torch.allclose(result.model.mean, torch.from_numpy(all_rows.mean(axis=0)))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [TABULAR, DIGITS])
def test_same_seed_gives_same_metrics_and_weights(name: str) -> None:
    settings = TrainingSettings(quick=True, seed=3, plots=False)
    first, second = train(name, settings), train(name, settings)
    assert first.metrics == second.metrics
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = train(name, settings.model_copy(update={"seed": 4}))
    assert not torch.equal(next(iter(other.model.parameters())), next(iter(first.model.parameters())))


def test_settings_defaults_env_and_cli_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TrainingSettings().hyperparams(TABULAR) == RECIPES[TABULAR].defaults
    assert TrainingSettings(quick=True).hyperparams(DIGITS).epochs == QUICK_EPOCHS
    monkeypatch.setenv("TRAINING_EPOCHS", "7")
    monkeypatch.setenv("TRAINING_LR", "0.5")
    from_env = TrainingSettings()
    assert from_env.hyperparams(TABULAR).epochs == 7
    assert from_env.hyperparams(DIGITS).lr == 0.5
    assert TrainingSettings(epochs=9).hyperparams(TABULAR).epochs == 9  # the CLI passes init values


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "the following arguments are required: target"),
        (["nonsense"], "invalid choice"),
        (["all", "--epochs", "abc"], "invalid int value"),
        (["all", "--epochs", "0"], "epochs"),
        (["all", "--lr", "-1"], "lr"),
        (["tabular", "--seeds", "0"], "--seeds must be at least 1"),
        (["tabular", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_usage(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m training")
    assert complaint in err


def test_bad_environment_value_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRAINING_BATCH_SIZE", "-5")
    with pytest.raises(SystemExit) as exited:
        main(["tabular", "--no-save"])
    assert exited.value.code == 2
    assert "batch_size" in capsys.readouterr().err
