from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import socket
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lodgepole import _covtype_like, datasets
from lodgepole.datasets import (
    FEATURE_NAMES,
    LABEL_NAMES,
    Dataset,
    covtype,
    covtype_like,
    data_home,
    split_channels,
)
from lodgepole.exceptions import ConfigError, DataFormatError, DatasetUnavailableError

# --------------------------------------------------------------------------
# A local mirror: a tiny HTTP server on 127.0.0.1 serving covtype-format data.
# --------------------------------------------------------------------------


def _covtype_text(ds: Dataset) -> bytes:
    table = np.column_stack([ds.features, ds.labels + 1]).astype(np.int64)
    out = io.StringIO()
    np.savetxt(out, table, fmt="%d", delimiter=",")
    return out.getvalue().encode()


class _Mirror:
    def __init__(self) -> None:
        self.source = covtype_like(300, seed=11)
        self.archive = gzip.compress(_covtype_text(self.source), mtime=0)
        self.sha256 = hashlib.sha256(self.archive).hexdigest()
        self.requests: list[str] = []
        self.base = ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(mirror: _Mirror) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            mirror.requests.append(self.path)
            body = mirror.archive
            if self.path not in ("/covtype.data.gz", "/truncated"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            extra = len(body) if self.path == "/truncated" else 0
            self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if extra else body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Mirror]:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    state = _Mirror()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setattr(datasets, "_COVTYPE_URLS", (state.url("/covtype.data.gz"),))
    monkeypatch.setattr(datasets, "_COVTYPE_SHA256", state.sha256)
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/covtype.data.gz"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------
# covtype(): download, checksum, cache, errors.
# --------------------------------------------------------------------------


def test_covtype_downloads_once_then_uses_cache(
    mirror: _Mirror, tmp_path: Path
) -> None:
    first = covtype(data_home=tmp_path)
    second = covtype(data_home=tmp_path, download=False)

    assert mirror.requests == ["/covtype.data.gz"]
    assert _files(tmp_path) == ["covtype.data.gz", "covtype.npz"]
    assert (tmp_path / "covtype.data.gz").read_bytes() == mirror.archive
    for ds in (first, second):
        assert ds.source == "covtype"
        assert ds.features.dtype == np.float32 and ds.labels.dtype == np.float32
        assert ds.features.flags.c_contiguous
        np.testing.assert_array_equal(ds.features, mirror.source.features)
        np.testing.assert_array_equal(ds.labels, mirror.source.labels)


def test_covtype_rebuilds_unreadable_cache_without_download(
    mirror: _Mirror, tmp_path: Path
) -> None:
    covtype(data_home=tmp_path)
    (tmp_path / "covtype.npz").write_bytes(b"not a zip file")

    ds = covtype(data_home=tmp_path)

    assert mirror.requests == ["/covtype.data.gz"]
    np.testing.assert_array_equal(ds.labels, mirror.source.labels)
    with np.load(tmp_path / "covtype.npz", allow_pickle=False) as npz:
        assert str(npz["sha256"]) == mirror.sha256


def test_covtype_blog_compat_drops_first_record(
    mirror: _Mirror, tmp_path: Path
) -> None:
    ds = covtype(data_home=tmp_path, blog_compat=True)

    assert len(ds) == len(mirror.source) - 1
    np.testing.assert_array_equal(ds.features, mirror.source.features[1:])


def test_covtype_tries_mirrors_in_order(
    mirror: _Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = (mirror.url("/missing.gz"), mirror.url("/covtype.data.gz"))
    monkeypatch.setattr(datasets, "_COVTYPE_URLS", urls)

    ds = covtype(data_home=tmp_path)

    assert mirror.requests == ["/missing.gz", "/covtype.data.gz"]
    assert len(ds) == len(mirror.source)


def test_covtype_checksum_mismatch_is_error_and_leaves_no_file(
    mirror: _Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "_COVTYPE_SHA256", "0" * 64)

    with pytest.raises(DatasetUnavailableError, match=r"SHA-256 mismatch.*got '"):
        covtype(data_home=tmp_path)

    assert _files(tmp_path) == []


def test_covtype_truncated_download_leaves_no_file(
    mirror: _Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "_COVTYPE_URLS", (mirror.url("/truncated"),))

    with pytest.raises(DatasetUnavailableError, match="/truncated' failed"):
        covtype(data_home=tmp_path)

    assert _files(tmp_path) == []


def test_covtype_offline_error_names_urls_reasons_and_destination(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = _closed_port_url()
    monkeypatch.setattr(datasets, "_COVTYPE_URLS", (url,))

    with pytest.raises(DatasetUnavailableError) as info:
        covtype(data_home=tmp_path / "home")

    message = str(info.value)
    assert f"{url!r} failed" in message
    assert "refused" in message.lower()
    assert f"put it at {str(tmp_path / 'home' / 'covtype.data.gz')!r}" in message
    assert _files(tmp_path / "home") == []
    assert isinstance(info.value, OSError)


def test_covtype_download_false_without_cache_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(datasets, "_COVTYPE_URLS", (_closed_port_url(),))

    with pytest.raises(
        DatasetUnavailableError, match="does not exist and download=False"
    ):
        covtype(data_home=tmp_path, download=False)


def test_covtype_corrupt_cached_archive_is_not_used(
    mirror: _Mirror, tmp_path: Path
) -> None:
    (tmp_path / "covtype.data.gz").write_bytes(mirror.archive[:-1])

    with pytest.raises(DatasetUnavailableError, match=r"cached file .* has SHA-256"):
        covtype(data_home=tmp_path, download=False)
    ds = covtype(data_home=tmp_path)

    assert mirror.requests == ["/covtype.data.gz"]
    np.testing.assert_array_equal(ds.labels, mirror.source.labels)


def test_covtype_rejects_cover_type_out_of_range() -> None:
    table = np.ones((3, 55), dtype=np.int32)
    table[2, -1] = 8

    with pytest.raises(DataFormatError, match=r"line 3: cover type must be 1-7; got 8"):
        datasets._table_to_arrays(table, Path("x.gz"))


def test_data_home_prefers_argument_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LODGEPOLE_DATA_HOME", raising=False)
    assert data_home() == tmp_path / ".cache" / "lodgepole"

    monkeypatch.setenv("LODGEPOLE_DATA_HOME", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home("~/explicit") == tmp_path / "explicit"
    assert not (tmp_path / "env").exists()


# --------------------------------------------------------------------------
# The vectorised CSV parser.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"1,2\n3,4\n", "expected 55 columns .* got 2"),
        (b"1," * 54 + b"2\n" + b"1," * 53 + b"2\n", "number of columns changed"),
        (b"1," * 54 + b"2\n" + b"1.5," * 54 + b"2\n", "could not convert string '1.5'"),
        (b"", "input contained no data"),
    ],
)
def test_covtype_reports_malformed_table(
    tmp_path: Path, text: bytes, match: str
) -> None:
    archive = tmp_path / "covtype.data.gz"
    archive.write_bytes(gzip.compress(text))

    with pytest.raises(DataFormatError, match=match) as info:
        datasets._table_to_arrays(datasets._read_table(archive), archive)

    assert str(archive) in str(info.value)


def test_covtype_reports_corrupt_gzip(tmp_path: Path) -> None:
    archive = tmp_path / "covtype.data.gz"
    archive.write_bytes(gzip.compress(b"1,2\n")[:-6])

    with pytest.raises(DataFormatError, match="is not a table of 55"):
        datasets._read_table(archive)


# --------------------------------------------------------------------------
# covtype_like(): schema, ranges, determinism, class shares, blog pattern.
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def like() -> Dataset:
    return covtype_like(60_000, seed=0)


def test_feature_and_label_names_follow_covertype_schema() -> None:
    assert len(FEATURE_NAMES) == 54 and len(set(FEATURE_NAMES)) == 54
    assert FEATURE_NAMES[:3] == ("elevation", "aspect", "slope")
    assert FEATURE_NAMES[9] == "horizontal_distance_to_fire_points"
    assert FEATURE_NAMES[10:14] == tuple(f"wilderness_area_{i}" for i in range(4))
    assert FEATURE_NAMES[14] == "soil_type_0" and FEATURE_NAMES[53] == "soil_type_39"
    assert LABEL_NAMES[1] == "Lodgepole Pine" and LABEL_NAMES[4] == "Aspen"


def test_covtype_like_schema_and_value_ranges(like: Dataset) -> None:
    X, y = like.features, like.labels
    assert like.source == "covtype_like" and like.feature_names == FEATURE_NAMES
    assert X.shape == (60_000, 54) and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.dtype == np.float32 and set(np.unique(y)) == set(range(7))
    np.testing.assert_array_equal(X, np.rint(X))

    low = np.array([1859, 0, 0, 0, -173, 0, 0, 0, 0, 0])
    high = np.array([3858, 359, 66, 1397, 601, 7117, 254, 254, 254, 7173])
    assert (X[:, :10].min(axis=0) >= low).all() and (
        X[:, :10].max(axis=0) <= high
    ).all()
    assert 2850 < X[:, 0].mean() < 3050 and 200 < X[:, 0].std() < 350
    assert 1800 < X[:, 5].mean() < 2800 and 1500 < X[:, 9].mean() < 2500


def test_covtype_like_one_hot_blocks_hold_exactly_one(like: Dataset) -> None:
    for block in (like.features[:, 10:14], like.features[:, 14:]):
        assert set(np.unique(block)) == {0.0, 1.0}
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)
    assert (like.features[:, 10:14].sum(axis=0) > 0).all()
    assert (like.features[:, 14:].sum(axis=0) > 0).sum() >= 36


def test_covtype_like_wilderness_follows_real_joint_counts(like: Dataset) -> None:
    area = like.features[:, 10:14].argmax(axis=1)
    cotton = area[like.labels == 3]
    spruce = area[like.labels == 0]

    assert (cotton == 3).all()
    assert not (spruce == 3).any()
    assert abs(np.mean(spruce == 0) - 105717 / 211840) < 0.02


def test_covtype_like_hillshades_correlate_like_terrain(like: Dataset) -> None:
    corr = np.corrcoef(like.features[:, [1, 2, 6, 7, 8]].T)

    assert corr[2, 4] < -0.4  # 9am against 3pm
    assert corr[0, 4] > 0.4  # aspect against 3pm
    assert corr[1, 3] < -0.3  # slope against noon


def test_covtype_like_is_deterministic_for_a_seed() -> None:
    a, b, c = (
        covtype_like(5000, seed=7),
        covtype_like(5000, seed=7),
        covtype_like(5000, 8),
    )

    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    assert not np.array_equal(a.features[:, 0], c.features[:, 0])


def test_covtype_like_class_counts_follow_real_shares(like: Dataset) -> None:
    real = np.array([211840, 283301, 35754, 2747, 9493, 17367, 20510])
    counts = np.bincount(like.labels.astype(int), minlength=7)

    np.testing.assert_array_equal(_covtype_like._class_counts(581_012), real)
    assert counts.sum() == 60_000
    assert np.abs(counts - real / real.sum() * 60_000).max() < 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rows": 0}, "n_rows must be >= 1; got 0"),
        ({"n_rows": 2.5}, "n_rows must be an integer; got 2.5"),
        ({"n_rows": True}, "n_rows must be an integer; got True"),
        ({"seed": -1}, "seed must be >= 0; got -1"),
    ],
)
def test_covtype_like_rejects_bad_arguments(
    kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        covtype_like(**kwargs)  # type: ignore[arg-type]


def _fit_and_recall(
    channels: dict[str, tuple[np.ndarray, np.ndarray]], balanced: bool
) -> tuple[float, np.ndarray]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = channels["train"]
    Xe, ye = channels["test"]
    scaler = StandardScaler().fit(X)
    weights = None
    if balanced:
        weights = {c: len(y) / n for c, n in enumerate(np.bincount(y.astype(int)))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=1e4, tol=1e-3, max_iter=300, class_weight=weights)
        model.fit(scaler.transform(X), y)
    predicted = model.predict(scaler.transform(Xe))
    recall = np.array([np.mean(predicted[ye == c] == c) for c in range(7)])
    return float(np.mean(predicted == ye)), recall


def test_covtype_like_reproduces_blog_pattern_for_linear_model() -> None:
    channels = split_channels(covtype_like(50_000, seed=1), validation=0.05, test=0.2)

    accuracy, recall = _fit_and_recall(channels, balanced=False)
    balanced_accuracy, balanced_recall = _fit_and_recall(channels, balanced=True)

    assert 0.70 <= accuracy <= 0.75
    assert recall[1] >= 0.75  # Lodgepole Pine
    assert recall[4] <= 0.12  # Aspen, lost to Lodgepole Pine
    assert 0.54 <= balanced_accuracy <= accuracy - 0.05
    assert balanced_recall.min() > 0.5
    assert balanced_recall[4] > 0.5 > recall[4]


# --------------------------------------------------------------------------
# split_channels() and Dataset.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "sizes"),
    [(581_012, (464_809, 58_101, 58_102)), (581_011, (464_808, 58_101, 58_102))],
)
def test_split_channels_sizes_match_blog(n: int, sizes: tuple[int, int, int]) -> None:
    channels = split_channels(
        np.zeros((n, 1), np.float32), np.arange(n, dtype=np.float64)
    )

    assert tuple(len(channels[k][1]) for k in ("train", "validation", "test")) == sizes
    everything = np.concatenate([y for _, y in channels.values()])
    np.testing.assert_array_equal(np.sort(everything), np.arange(n))


def test_split_channels_is_deterministic_and_keeps_rows_paired(like: Dataset) -> None:
    a = split_channels(like, seed=3)
    b = split_channels(like.features, like.labels, seed=3)
    c = split_channels(like, seed=4)

    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(a[name][0], b[name][0])
        np.testing.assert_array_equal(a[name][1], b[name][1])
        assert a[name][0].flags.c_contiguous
    assert not np.array_equal(a["test"][1], c["test"][1])
    X = np.arange(40.0).reshape(20, 2)
    for features, labels in split_channels(X, X[:, 0] / 2, test=0.3).values():
        np.testing.assert_array_equal(features[:, 0] / 2, labels)


def test_split_channels_allows_empty_validation() -> None:
    channels = split_channels(np.ones((10, 3)), np.zeros(10), validation=0.0, test=0.3)

    assert channels["validation"][0].shape == (0, 3)
    assert len(channels["train"][1]) == 7 and len(channels["test"][1]) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"validation": 0.6, "test": 0.4}, r"validation \+ test must be < 1"),
        ({"validation": -0.1}, r"validation must be in \[0, 1\); got -0.1"),
        ({"test": 1.5}, r"test must be in \[0, 1\); got 1.5"),
    ],
)
def test_split_channels_rejects_bad_shares(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        split_channels(np.ones((10, 2)), np.zeros(10), **kwargs)


def test_split_channels_rejects_missing_or_mismatched_labels(like: Dataset) -> None:
    with pytest.raises(DataFormatError, match="labels are required"):
        split_channels(np.ones((4, 2)))
    with pytest.raises(DataFormatError, match=r"labels shape \(3,\)"):
        split_channels(np.ones((4, 2)), np.zeros(3))
    with pytest.raises(DataFormatError, match="labels must be None"):
        split_channels(like, like.labels)
    with pytest.raises(ConfigError, match="no records left for train"):
        split_channels(np.ones((2, 2)), np.zeros(2), validation=0.4, test=0.4)


def test_dataset_rejects_inconsistent_shapes() -> None:
    names = (FEATURE_NAMES, LABEL_NAMES, "covtype_like")
    with pytest.raises(DataFormatError, match=r"labels shape \(2,\)"):
        Dataset(np.zeros((3, 54), np.float32), np.zeros(2, np.float32), *names)
    with pytest.raises(DataFormatError, match="10 columns but 54 feature_names"):
        Dataset(np.zeros((3, 10), np.float32), np.zeros(3, np.float32), *names)
