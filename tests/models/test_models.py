"""The pure model definitions: shapes, dtypes, the folded scaler, config round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from models import (
    SPECS,
    DigitsCNN,
    DigitsConfig,
    TabularClassifier,
    TabularConfig,
    config_from_dict,
    config_to_dict,
)


def test_tabular_shapes_and_dtypes() -> None:
    model = TabularClassifier().eval()
    features = torch.randn(5, 10)
    logits = model(features)
    proba = model.predict_proba(features)
    assert logits.shape == (5,)
    assert proba.shape == (5,)
    assert proba.dtype == torch.float32
    assert torch.all((proba > 0) & (proba < 1))


def test_tabular_layers_are_10_16_8_1() -> None:
    linear = [layer for layer in TabularClassifier().net if isinstance(layer, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linear] == [(10, 16), (16, 8), (8, 1)]


@pytest.mark.parametrize("shape", [(5, 9), (5, 11), (5, 1, 10), (10,)])
def test_tabular_refuses_wrong_width(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected features of shape"):
        TabularClassifier()(torch.zeros(shape))


def test_folded_scaler_equals_scaling_outside_the_model() -> None:
    rng = np.random.default_rng(0)
    raw = (rng.normal(size=(50, 10)) * 7 + 3).astype(np.float32)
    scaler = StandardScaler().fit(raw)
    folded = TabularClassifier().eval()
    folded.set_scaler(torch.from_numpy(scaler.mean_).float(), torch.from_numpy(scaler.scale_).float())
    plain = TabularClassifier().eval()
    plain.load_state_dict({**folded.state_dict(), "mean": torch.zeros(10), "scale": torch.ones(10)})
    scaled_outside = torch.from_numpy(scaler.transform(raw)).float()
    with torch.no_grad():
        torch.testing.assert_close(folded(torch.from_numpy(raw)), plain(scaled_outside), rtol=1e-5, atol=1e-5)


def test_scaler_statistics_are_saved_with_the_weights() -> None:
    model = TabularClassifier()
    model.set_scaler(torch.full((10,), 2.0), torch.full((10,), 3.0))
    assert torch.equal(model.state_dict()["mean"], torch.full((10,), 2.0))
    assert torch.equal(model.state_dict()["scale"], torch.full((10,), 3.0))
    with pytest.raises(ValueError, match="shape"):
        model.set_scaler(torch.zeros(9), torch.ones(9))


@pytest.mark.parametrize("shape", [(4, 8, 8), (4, 1, 8, 8)])
def test_digits_shapes_and_dtypes(shape: tuple[int, ...]) -> None:
    model = DigitsCNN().eval()
    proba = model.predict_proba(torch.rand(shape) * 16)
    assert proba.shape == (4, 10)
    assert proba.dtype == torch.float32
    torch.testing.assert_close(proba.sum(dim=1), torch.ones(4))


@pytest.mark.parametrize("shape", [(2, 8, 9), (2, 9, 8), (2, 3, 8, 8), (2, 16, 16)])
def test_digits_refuses_wrong_image_size(shape: tuple[int, ...]) -> None:
    # Pooling rounds down, so without the check an 8x9 image would get a plausible answer.
    with pytest.raises(ValueError, match="expected images of shape"):
        DigitsCNN()(torch.zeros(shape))


def test_digits_normalises_inside() -> None:
    model = DigitsCNN().eval()
    images = torch.rand(3, 8, 8) * 16
    reference = DigitsCNN(DigitsConfig(max_value=1.0)).eval()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images / 16))


@pytest.mark.parametrize("config", [TabularConfig(), DigitsConfig(), TabularConfig(hidden=(4, 4, 4))])
def test_config_json_round_trip(config: TabularConfig | DigitsConfig) -> None:
    data = config_to_dict(config)
    assert all(not isinstance(value, tuple) for value in data.values())
    assert config_from_dict(type(config), data) == config


@pytest.mark.parametrize(
    "data",
    [
        {"n_features": 10, "hidden": [16, 8], "extra": 1},
        {"n_features": 10, "hidden": [16, 8], "dropout": 0.1},
    ],
)
def test_config_refuses_unknown_fields(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="does not match the code"):
        config_from_dict(TabularConfig, data)


def test_input_schemas_describe_the_served_inputs() -> None:
    tabular = SPECS["tabular-classifier"].input_schema(TabularConfig())
    digits = SPECS["digits-cnn"].input_schema(DigitsConfig())
    assert tabular["n_features"] == 10
    assert tabular["class_names"] == ["0", "1"]
    assert digits["shape"] == [8, 8]
    assert digits["value_range"] == [0.0, 16.0]
    assert digits["class_names"] == [str(i) for i in range(10)]


def test_extreme_features_give_a_finite_saturated_answer() -> None:
    """float32's largest values must not overflow into NaN inside the layers."""
    model = TabularClassifier().eval()
    extreme = torch.tensor([[3.4e38] * 10, [-3.4e38] * 10, [3.4e38, -3.4e38] * 5])
    with torch.no_grad():
        proba = model.predict_proba(extreme)
    assert torch.isfinite(proba).all()
    ordinary = torch.randn(4, 10)
    with torch.no_grad():
        unclamped = torch.sigmoid(model.net((ordinary - model.mean) / model.scale).squeeze(-1))
        torch.testing.assert_close(model.predict_proba(ordinary), unclamped)
