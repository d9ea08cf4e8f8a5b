"""pandas and Arrow inputs: channels, training, prediction and their column checks."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

from lodgepole import LinearLearner, train  # noqa: E402
from lodgepole.data import InMemoryChannel, as_channel  # noqa: E402
from lodgepole.data._tabular import check_columns  # noqa: E402
from lodgepole.exceptions import DataFormatError  # noqa: E402
from lodgepole.formats.parquet import write_parquet  # noqa: E402

NAMES = ["elevation", "aspect", "slope", "distance"]
HP = {"predictor_type": "binary_classifier", "epochs": 3, "num_models": 2}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 4)).astype(np.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return train(HP, (pd.DataFrame(X, columns=NAMES), pd.Series(y))).model


def test_dataframe_and_arrow_channels_equal_the_array_channel(data):
    X, y = data
    plain = InMemoryChannel("train", X, y)
    frame = InMemoryChannel("train", pd.DataFrame(X, columns=NAMES), pd.Series(y))
    table = InMemoryChannel(
        "train", pa.table({n: X[:, i] for i, n in enumerate(NAMES)}), pa.array(y)
    )
    chunked = InMemoryChannel(
        "train",
        pa.Table.from_pandas(pd.DataFrame(X, columns=NAMES)),
        pa.chunked_array([y[:300], y[300:]]),
    )
    for channel in (frame, table, chunked):
        np.testing.assert_array_equal(channel.features, plain.features)
        np.testing.assert_array_equal(channel.labels, plain.labels)
        assert channel.feature_names == tuple(NAMES)
    assert plain.feature_names is None


def test_bad_columns_are_named():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(
        DataFormatError, match=r"channel 'train', column 'b': has dtype"
    ):
        InMemoryChannel("train", frame, [0, 1])
    frame = pd.DataFrame({"a": [1.0, None], "b": [1.0, 2.0]})
    with pytest.raises(DataFormatError, match=r"row 1, column 'a': .*missing value"):
        InMemoryChannel("train", frame, [0, 1])
    table = pa.table({"a": [1.0, None], "b": ["u", "v"]})
    with pytest.raises(DataFormatError, match=r"column 'a': holds 1 null"):
        InMemoryChannel("train", table, [0, 1])
    table = pa.table({"a": [1.0, 2.0], "b": ["u", "v"]})
    with pytest.raises(DataFormatError, match=r"column 'b': has Arrow type string"):
        InMemoryChannel("train", table, [0, 1])
    with pytest.raises(DataFormatError, match="null"):
        InMemoryChannel("train", np.ones((2, 1)), pa.array([1.0, None]))


def test_model_keeps_column_names_and_checks_them_at_predict_time(model, data):
    X, _ = data
    assert model.feature_names == tuple(NAMES)
    frame = pd.DataFrame(X, columns=NAMES)
    expected = model.predict(X).score
    np.testing.assert_array_equal(model.predict(frame).score, expected)
    table = pa.Table.from_pandas(frame)
    np.testing.assert_array_equal(model.predict(table).score, expected)
    with pytest.raises(
        DataFormatError, match=r"another order.*position 0 holds 'slope'"
    ):
        model.predict(frame[["slope", "aspect", "elevation", "distance"]])
    with pytest.raises(DataFormatError, match=r"missing \['distance'\]"):
        model.predict(frame.drop(columns=["distance"]))
    with pytest.raises(DataFormatError, match=r"unexpected \['extra'\]"):
        model.predict(frame.assign(extra=1.0))
    # Plain arrays carry no names and are taken as they are.
    np.testing.assert_array_equal(model.predict(X.astype(np.float64)).score, expected)


def test_check_columns_shortens_long_lists():
    expected = tuple(f"f{i}" for i in range(30))
    with pytest.raises(DataFormatError, match=r"missing \['f0', .*\(20 more\)\]"):
        check_columns(("other",), expected, "X")


def test_parquet_channels_name_the_model_features(tmp_path, data):
    X, y = data
    for index, rows in enumerate(np.array_split(np.arange(800), 2)):
        write_parquet(
            tmp_path / f"part-{index}.parquet", X[rows], y[rows], feature_names=NAMES
        )
    channel = as_channel("train", str(tmp_path))
    assert channel.feature_names == tuple(NAMES)
    streamed = as_channel("train", str(tmp_path), budget=1)  # streamed shard by shard
    assert type(streamed).__name__ == "StreamingChannel"
    assert streamed.feature_names == tuple(NAMES)
    assert train(HP, str(tmp_path)).model.feature_names == tuple(NAMES)
    write_parquet(tmp_path / "part-9.parquet", X[:5], y[:5], feature_names=NAMES[::-1])
    with pytest.raises(DataFormatError, match="name their features differently"):
        as_channel("train", str(tmp_path))


def test_estimator_fits_dataframe_and_arrow_channels(data):
    X, y = data
    frame = pd.DataFrame(X, columns=NAMES)
    linear = LinearLearner("binary_classifier", epochs=2, num_models=2)
    linear.fit(
        {
            "train": (frame[:600], pd.Series(y[:600])),
            "validation": (pa.Table.from_pandas(frame[600:]), pa.array(y[600:])),
        }
    )
    assert linear.model.feature_names == tuple(NAMES)
