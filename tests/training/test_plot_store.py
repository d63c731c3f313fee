"""Training plots saved into the store entry beside the weights, and what the loader makes of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bentoml
import pytest
from PIL import Image

from models import TABULAR
from service.loader import load_model
from training.pipeline import TrainResult, train
from training.settings import TrainingSettings
from training.store import save_model


@pytest.fixture(scope="module")
def result() -> TrainResult:
    return train(TABULAR, TrainingSettings(quick=True, plots=False, seed=5))


def png(path: Path, colour: str) -> Path:
    Image.new("RGB", (4, 3), colour).save(path)
    return path


@pytest.fixture
def entries() -> Iterator[list[bentoml.Model]]:
    """Store entries a test made, removed afterwards so that `latest` is left as it was."""
    made: list[bentoml.Model] = []
    yield made
    for entry in made:
        bentoml.models.delete(entry.tag)


def test_plots_are_copied_into_the_entry_and_listed_in_order(
    result: TrainResult, entries: list[bentoml.Model], tmp_path: Path
) -> None:
    plots = [png(tmp_path / "loss.png", "red"), png(tmp_path / "roc.png", "blue")]
    entry = save_model(result.model, TABULAR, result.run_info(seed=5), plots)
    entries.append(entry)
    assert entry.info.metadata["plots"] == ["loss.png", "roc.png"]
    for plot in plots:
        assert (Path(entry.path) / "plots" / plot.name).read_bytes() == plot.read_bytes()

    loaded = load_model(str(entry.tag))
    facts = loaded.describe()
    assert facts["plots"] == [f"/models/{TABULAR}/plots/loss.png", f"/models/{TABULAR}/plots/roc.png"]
    assert facts["version"] == str(entry.tag.version)
    assert facts["device"] == "cpu"
    assert len(facts["feature_scaling"]["mean"]) == len(facts["feature_scaling"]["scale"]) == 10
    assert loaded.plot_path("roc.png") == Path(entry.path) / "plots" / "roc.png"


@pytest.mark.parametrize(
    "asked", ["weights.safetensors", "../weights.safetensors", "../model.yaml", "plots/loss.png", ""]
)
def test_only_listed_plots_resolve(
    result: TrainResult, entries: list[bentoml.Model], tmp_path: Path, asked: str
) -> None:
    entry = save_model(result.model, TABULAR, result.run_info(seed=5), [png(tmp_path / "loss.png", "red")])
    entries.append(entry)
    assert load_model(str(entry.tag)).plot_path(asked) is None


def test_an_entry_saved_without_plots_lists_none(result: TrainResult, entries: list[bentoml.Model]) -> None:
    entry = save_model(result.model, TABULAR, result.run_info(seed=5))
    entries.append(entry)
    loaded = load_model(str(entry.tag))
    assert loaded.describe()["plots"] == []
    assert loaded.plot_path("loss.png") is None
    # An entry written before plots were saved has no "plots" key at all.
    older = load_model(str(entry.tag))
    del older.metadata["plots"]
    assert older.describe()["plots"] == []


def test_plots_must_be_distinct_png_files(result: TrainResult, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    twins = [png(tmp_path / "a" / "loss.png", "red"), png(tmp_path / "b" / "loss.png", "blue")]
    with pytest.raises(ValueError, match="two plots"):
        save_model(result.model, TABULAR, result.run_info(seed=5), twins)
    text = tmp_path / "notes.txt"
    text.write_text("not a plot")
    with pytest.raises(ValueError, match="PNG"):
        save_model(result.model, TABULAR, result.run_info(seed=5), [text])
    with pytest.raises(ValueError, match="PNG"):
        save_model(result.model, TABULAR, result.run_info(seed=5), [tmp_path / "missing.png"])
