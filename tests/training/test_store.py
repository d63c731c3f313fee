"""Saving to and loading from a real (temporary) BentoML model store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import bentoml
import pytest
import torch

from models import (
    DIGITS,
    SPECS,
    TABULAR,
    DigitsCNN,
    DigitsConfig,
    TabularClassifier,
    TabularConfig,
    config_to_dict,
)
from service.loader import ModelLoadError, load_model
from tests.helpers import bentoml_model_info, run_python
from training.pipeline import TrainResult, train
from training.settings import TrainingSettings
from training.store import save_model

EXPECTED_METADATA = {
    "format_version",
    "weights_file",
    "weights_sha256",
    "config",
    "input_schema",
    "versions",
    "metrics",
    "data",
    "seed",
    "hyperparams",
    "training",
}


@pytest.fixture(scope="module")
def quick_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --quick training run into a store of its own."""
    home = tmp_path_factory.mktemp("quick-store")
    reports = tmp_path_factory.mktemp("quick-reports")
    done = run_python(
        "-m", "training", "all", "--quick", "--reports-dir", str(reports), env={"BENTOML_HOME": str(home)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "saved tabular-classifier:" in done.stdout
    digits_report = {"accuracy.png", "reliability.png", "mistakes.png"}
    assert {p.name for p in reports.rglob("*.png")} == {
        "loss.png",
        "roc.png",
        "confusion.png",
        *digits_report,
    }
    return home


@pytest.mark.parametrize("name", [TABULAR, DIGITS])
def test_quick_training_run_stores_all_the_metadata(quick_store: Path, name: str) -> None:
    info = bentoml_model_info(f"{name}:latest", quick_store)
    metadata = info["metadata"]
    assert set(metadata) >= EXPECTED_METADATA
    assert metadata["input_schema"] == SPECS[name].input_schema(SPECS[name].config_type())
    assert len(metadata["weights_sha256"]) == 64
    assert len(metadata["data"]["sha256"]) == 64
    assert {"torch", "numpy", "scikit-learn", "bentoml", "python"} <= set(metadata["versions"])
    assert 0.0 <= metadata["metrics"]["accuracy"] <= 1.0
    assert metadata["training"]["epochs_run"] <= 3  # --quick
    folder = quick_store / "models" / name / info["version"]
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json",
        "model.yaml",
        "plots",
        "weights.safetensors",
    ]
    assert metadata["plots"][0] == "loss.png"  # the training plots travel with the model
    assert sorted(metadata["plots"]) == sorted(path.name for path in (folder / "plots").iterdir())
    assert json.loads((folder / "config.json").read_text()) == metadata["config"]


def test_no_file_in_the_store_is_a_pickle(trained_store: Path) -> None:
    files = [path for path in trained_store.rglob("*") if path.is_file()]
    assert files
    for path in files:
        head = path.read_bytes()[:4]
        assert path.suffix not in {".pkl", ".pickle", ".pt", ".pth", ".bin"}, path
        assert not head.startswith(b"\x80"), f"{path} starts like a pickle"
        assert head != b"PK\x03\x04", f"{path} is a zip (torch.save) archive"
    for weights in trained_store.rglob("weights.safetensors"):
        header_length = int.from_bytes(weights.read_bytes()[:8], "little")
        header = json.loads(weights.read_bytes()[8 : 8 + header_length])
        assert "net.0.weight" in header or "features.0.weight" in header


@pytest.fixture
def fresh_result() -> TrainResult:
    return train(TABULAR, TrainingSettings(quick=True, plots=False, seed=11))


@pytest.fixture
def saved(fresh_result: TrainResult) -> Iterator[bentoml.Model]:
    """A new store entry for one test, removed afterwards so that `latest` is left as it was."""
    entry = save_model(fresh_result.model, TABULAR, fresh_result.run_info(seed=11))
    yield entry
    bentoml.models.delete(entry.tag)


def test_save_then_load_gives_identical_outputs(fresh_result: TrainResult, saved: bentoml.Model) -> None:
    loaded = load_model(str(saved.tag))
    assert loaded.tag == str(saved.tag)
    assert loaded.config == TabularConfig()
    features = torch.randn(64, 10) * 5
    with torch.no_grad():
        assert torch.equal(
            loaded.module.predict_proba(features),  # type: ignore[operator]
            fresh_result.model.predict_proba(features),  # type: ignore[operator]
        )
    described = loaded.describe()
    assert described["metrics"] == fresh_result.metrics
    assert described["input"]["n_features"] == 10
    assert described["data"]["sha256"] == fresh_result.split.source["sha256"]


def test_tampered_weights_are_refused(saved: bentoml.Model) -> None:
    weights = Path(saved.path) / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"does not match its recorded sha256.*make train"):
        load_model(str(saved.tag))


def test_missing_weights_are_refused(saved: bentoml.Model) -> None:
    (Path(saved.path) / "weights.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"missing.*make train"):
        load_model(str(saved.tag))


def test_missing_model_names_the_fix() -> None:
    with pytest.raises(ModelLoadError, match=r"not in the BentoML model store.*make train"):
        load_model(f"{DIGITS}:doesnotexist")
    with pytest.raises(ModelLoadError, match="unknown model"):
        load_model("resnet50")


def test_schema_that_does_not_match_the_code_is_refused() -> None:
    narrow = TabularClassifier(TabularConfig(n_features=9))
    entry = save_model(narrow, TABULAR, {"metrics": {}})
    try:
        with pytest.raises(ModelLoadError, match=r"input schema .* does not match .*make train"):
            load_model(str(entry.tag))
    finally:
        bentoml.models.delete(entry.tag)


def test_edited_config_is_refused(saved: bentoml.Model) -> None:
    config = Path(saved.path) / "config.json"
    config.write_text(json.dumps({"n_features": 10, "hidden": [32, 8]}))
    with pytest.raises(ModelLoadError, match="disagrees with the store's metadata"):
        load_model(str(saved.tag))


def test_default_training_meets_the_targets(trained_store: Path) -> None:
    """The acceptance run: `python -m training all` with default settings (the session
    fixture) reaches the held-out targets."""
    tabular = bentoml_model_info(f"{TABULAR}:latest")["metadata"]
    digits = bentoml_model_info(f"{DIGITS}:latest")["metadata"]
    assert tabular["metrics"]["accuracy"] >= 0.88
    assert digits["metrics"]["accuracy"] >= 0.97
    assert tabular["training"]["seconds"] < 60
    assert digits["training"]["seconds"] < 60


def test_if_missing_skips_models_already_in_the_store(trained_store: Path) -> None:
    before = {name: bentoml_model_info(f"{name}:latest")["version"] for name in (TABULAR, DIGITS)}
    done = run_python("-m", "training", "all", "--if-missing", "--no-plots")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "already in the model store" in done.stdout
    assert {name: bentoml_model_info(f"{name}:latest")["version"] for name in (TABULAR, DIGITS)} == before


def test_digits_entries_saved_before_calibration_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry written before DigitsConfig had a temperature and an unsure threshold (its config.json
    and metadata both lack them) loads with the defaults: uncalibrated, the default threshold."""
    import training.store

    def old_config_to_dict(config: DigitsConfig) -> dict[str, object]:
        data = config_to_dict(config)
        return {key: value for key, value in data.items() if key not in {"temperature", "unsure_below"}}

    monkeypatch.setattr(training.store, "config_to_dict", old_config_to_dict)
    entry = save_model(DigitsCNN(), DIGITS, {"metrics": {}})
    try:
        stored = json.loads((Path(entry.path) / "config.json").read_text())
        assert "temperature" not in stored
        loaded = load_model(str(entry.tag))
        assert loaded.config == DigitsConfig()
        assert loaded.config.temperature == 1.0  # type: ignore[union-attr]
    finally:
        bentoml.models.delete(entry.tag)
