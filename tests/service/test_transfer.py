"""Getting a batch to the model's device and back (service/transfer.py).

The staged path (reused host buffers, non-blocking copies, one wait per batch) is what a GPU runs; here it
runs on the CPU with ordinary memory instead of pinned, so its logic is tested on every machine. The
CUDA test runs where torch sees a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from service.transfer import Transfer


def model(inputs: torch.Tensor) -> torch.Tensor:
    """A stand-in with a different output shape: (N, 3) from (N, 2, 2)."""
    flat = inputs.reshape(len(inputs), -1)
    return torch.stack([flat.sum(1), flat.max(1).values, flat.mean(1)], dim=1)


def expected(rows: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(rows)).numpy()


def batch(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, 2, 2)).astype(np.float32)


def test_the_plain_path_shares_the_array_on_the_cpu() -> None:
    transfer = Transfer(torch.device("cpu"), capacity=8, input_shape=(2, 2))
    assert not transfer.staged  # the CPU default
    rows = batch(5, 0)
    np.testing.assert_array_equal(transfer.run(rows, model), expected(rows))


def test_staged_batches_reuse_the_buffers_and_answer_copies() -> None:
    transfer = Transfer(torch.device("cpu"), capacity=8, input_shape=(2, 2), staged=True, pin=False)
    first_rows, second_rows = batch(8, 1), batch(3, 2)
    first = transfer.run(first_rows, model)
    kept = first.copy()
    second = transfer.run(second_rows, model)
    np.testing.assert_array_equal(first, kept)  # the next batch did not overwrite an answer handed out
    np.testing.assert_array_equal(first, expected(first_rows))
    np.testing.assert_array_equal(second, expected(second_rows))
    assert transfer._input is not None
    assert transfer._input.shape == (8, 2, 2)
    assert transfer._output is not None
    assert transfer._output.shape == (8, 3)  # sized from the model's answer, once


def test_a_batch_over_the_capacity_gets_a_buffer_of_its_own() -> None:
    transfer = Transfer(torch.device("cpu"), capacity=4, input_shape=(2, 2), staged=True, pin=False)
    rows = batch(10, 3)
    np.testing.assert_array_equal(transfer.run(rows, model), expected(rows))
    assert transfer._input is not None
    assert transfer._input.shape == (4, 2, 2)  # the shared buffer is not grown for one large request
    small = batch(2, 4)
    np.testing.assert_array_equal(transfer.run(small, model), expected(small))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch on this machine")
def test_cuda_batches_go_through_pinned_buffers() -> None:
    transfer = Transfer(torch.device("cuda"), capacity=64, input_shape=(2, 2))
    assert transfer.staged
    assert transfer.pin
    rows = batch(64, 5)
    np.testing.assert_allclose(transfer.run(rows, model), expected(rows), rtol=1e-5)
    assert transfer._input is not None
    assert transfer._input.is_pinned()
    assert transfer._output is not None
    assert transfer._output.is_pinned()
