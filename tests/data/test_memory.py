"""In-memory channels: conversion, validation messages, batches and samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lodgepole._types import PredictorType
from lodgepole.data.memory import InMemoryChannel, as_channel
from lodgepole.exceptions import DataFormatError


def test_channel_keeps_float32_contiguous_features_and_column_names():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125]})
    channel = InMemoryChannel("train", frame, [0, 1, 0])
    assert channel.features.dtype == np.float32
    assert channel.features.flags.c_contiguous
    assert channel.feature_names == ("a", "b")


def test_channel_batches_are_views_in_order_and_cover_every_record():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    channel = InMemoryChannel("train", X, np.zeros(10))
    batches = list(channel.batches(4))
    assert [b.num_records for b in batches] == [4, 4, 2]
    assert np.shares_memory(batches[0].features, channel.features)
    np.testing.assert_array_equal(np.vstack([b.features for b in batches]), X)


def test_channel_shuffled_batches_are_a_seeded_permutation():
    X = np.arange(50, dtype=np.float32).reshape(50, 1)
    channel = InMemoryChannel("train", X, np.zeros(50))
    first = np.concatenate(
        [b.features[:, 0] for b in channel.batches(7, shuffle=True, seed=1)]
    )
    again = np.concatenate(
        [b.features[:, 0] for b in channel.batches(7, shuffle=True, seed=1)]
    )
    other = np.concatenate(
        [b.features[:, 0] for b in channel.batches(7, shuffle=True, seed=2)]
    )
    assert sorted(first.tolist()) == X[:, 0].tolist()
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()


def test_channel_sparse_features_stay_sparse():
    X = sp.random(30, 5, density=0.2, format="coo", random_state=0)
    channel = InMemoryChannel("train", X, np.zeros(30))
    assert channel.is_sparse
    assert sp.isspmatrix_csr(channel.features) or sp.issparse(channel.features)
    assert channel.sample(10, seed=0).features.shape == (10, 5)


def test_channel_rejects_one_dimensional_features_with_reshape_hint():
    with pytest.raises(DataFormatError, match=r"2-D array.*reshape\(-1, 1\)"):
        InMemoryChannel("train", np.zeros(5), np.zeros(5))


def test_channel_rejects_non_numeric_features():
    with pytest.raises(DataFormatError, match="features must be numeric"):
        InMemoryChannel("test", [["a", "b"]], [0])


def test_channel_rejects_bad_weights_naming_the_row():
    with pytest.raises(DataFormatError, match="row 2: weights must be finite and >= 0"):
        InMemoryChannel("train", np.zeros((3, 1)), [0, 1, 0], [1.0, 1.0, -1.0])


def test_channel_rejects_nan_label_naming_the_row():
    with pytest.raises(DataFormatError, match="row 1: labels must be finite"):
        InMemoryChannel("train", np.zeros((3, 1)), [0, np.nan, 0])


def test_channel_check_labels_regressor_accepts_any_real():
    channel = InMemoryChannel("train", np.zeros((3, 1)), [-1.5, 2.25, 1e6])
    channel.check_labels(PredictorType.REGRESSOR, 1)


def test_as_channel_rejects_other_objects():
    with pytest.raises(DataFormatError, match=r"expected a tuple \(features, labels\)"):
        as_channel("train", np.zeros((3, 2)))
