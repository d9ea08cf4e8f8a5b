"""Forest cover data: the UCI Covertype table and an offline look-alike.

:func:`covtype` downloads ``covtype.data.gz`` (581,012 rows, 54 integer
features, cover type 1-7), checks its SHA-256, caches it under
:func:`data_home` and returns labels shifted to 0-6, as the 2018 AWS blog on
multiclass Linear Learner does. :func:`covtype_like` needs no network: it
draws a table with the same schema, value ranges and class shares whose
structure makes a linear model behave as on the real table (about 72 %
accuracy; Aspen lost to Lodgepole Pine; every class recall above one half
once classes are weighted by inverse frequency). :func:`split_channels`
cuts either into ``train``/``validation``/``test`` channels.

Costs: the first :func:`covtype` call downloads 11 MB and parses 75 MB of
text with numpy's C reader (2-3 s in all); later calls load a cached
``.npz`` (about 0.1 s). :func:`covtype_like` generates the full 581,012 rows
in about two seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import operator
import os
import tempfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import numpy as np

from lodgepole import _covtype_like
from lodgepole.exceptions import ConfigError, DataFormatError, DatasetUnavailableError

__all__ = [
    "FEATURE_NAMES",
    "LABEL_NAMES",
    "Dataset",
    "covtype",
    "covtype_like",
    "data_home",
    "split_channels",
]

logger = logging.getLogger(__name__)

_MEASUREMENTS = (
    "elevation",
    "aspect",
    "slope",
    "horizontal_distance_to_hydrology",
    "vertical_distance_to_hydrology",
    "horizontal_distance_to_roadways",
    "hillshade_9am",
    "hillshade_noon",
    "hillshade_3pm",
    "horizontal_distance_to_fire_points",
)
FEATURE_NAMES: tuple[str, ...] = (
    *_MEASUREMENTS,
    *(f"wilderness_area_{i}" for i in range(4)),
    *(f"soil_type_{i}" for i in range(40)),
)
LABEL_NAMES: tuple[str, ...] = (
    "Spruce/Fir",
    "Lodgepole Pine",
    "Ponderosa Pine",
    "Cottonwood/Willow",
    "Aspen",
    "Douglas-fir",
    "Krummholz",
)
_NUM_FEATURES = len(FEATURE_NAMES)
_NUM_CLASSES = len(LABEL_NAMES)

# Mirrors are tried in order. The figshare copy is the one scikit-learn uses;
# both serve the same bytes, pinned by one checksum.
_COVTYPE_FILE = "covtype.data.gz"
_COVTYPE_URLS: tuple[str, ...] = (
    "https://ndownloader.figshare.com/files/5976039",
    "https://archive.ics.uci.edu/ml/machine-learning-databases/covtype/covtype.data.gz",
)
_COVTYPE_SHA256 = "614360d0257557dd1792834a85a1cdebfadc3c4f30b011d56afee7ffb5b15771"
_CACHE_VERSION = 1
_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled table of forest cover records.

    Parameters
    ----------
    features
        ``(num_records, 54)`` float32 matrix, C-contiguous.
    labels
        ``(num_records,)`` float32 cover types 0-6.
    feature_names
        The 54 column names, see :data:`FEATURE_NAMES`.
    label_names
        The 7 cover type names, indexed by label.
    source
        ``"covtype"`` (the UCI table) or ``"covtype_like"`` (generated).

    Examples
    --------
    >>> ds = covtype_like(1000, seed=1)
    >>> ds
    Dataset(source='covtype_like', records=1000, features=54)
    >>> ds.label_names[int(ds.labels[0])] in LABEL_NAMES
    True
    """

    features: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    feature_names: tuple[str, ...] = field(repr=False)
    label_names: tuple[str, ...] = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        rows = self.labels.shape[0] if self.labels.ndim == 1 else -1
        if self.features.ndim != 2 or self.features.shape[0] != rows:
            raise DataFormatError(
                f"features must be 2-D with one row per label; got features shape "
                f"{self.features.shape!r} and labels shape {self.labels.shape!r}."
            )
        if self.features.shape[1] != len(self.feature_names):
            raise DataFormatError(
                f"features has {self.features.shape[1]} columns but "
                f"{len(self.feature_names)} feature_names were given."
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(source={self.source!r}, records={len(self)}, "
            f"features={self.features.shape[1]})"
        )


def data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Folder where downloaded data sets are cached.

    Parameters
    ----------
    data_home
        Explicit folder. When ``None``, ``$LODGEPOLE_DATA_HOME`` is used if
        set, else ``~/.cache/lodgepole``. The folder is not created here.

    Returns
    -------
    pathlib.Path
        The folder, with ``~`` expanded.

    Examples
    --------
    >>> data_home("/tmp/lp-data").as_posix()
    '/tmp/lp-data'
    """
    return _resolve_home(data_home)


def _resolve_home(folder: str | os.PathLike[str] | None) -> Path:
    if folder is None:
        folder = os.environ.get("LODGEPOLE_DATA_HOME") or "~/.cache/lodgepole"
    return Path(folder).expanduser()


# --------------------------------------------------------------------------
# The real table: download, verify, parse, cache.
# --------------------------------------------------------------------------


def covtype(
    *,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
    blog_compat: bool = False,
) -> Dataset:
    """Load the UCI Covertype table, downloading it on first use.

    Parameters
    ----------
    data_home
        Cache folder; see :func:`data_home` for the default.
    download
        Fetch the file when it is not cached. With ``False`` a missing file
        raises instead.
    blog_compat
        Drop the first record, as the blog's notebook does by reading the
        header-less file with a header (581,011 records remain).

    Returns
    -------
    Dataset
        581,012 records (581,011 with ``blog_compat``), labels 0-6.

    Raises
    ------
    DatasetUnavailableError
        When the file is neither cached nor downloadable; the message lists
        each URL tried, why it failed and where to place the file by hand.

    Notes
    -----
    The ``.gz`` is verified by SHA-256 before use and every file is written
    to a temporary name then renamed, so an interrupted download never
    leaves a partial file. Parsed arrays are cached in ``covtype.npz`` next
    to it and loaded with pickling disabled.

    Examples
    --------
    >>> covtype(data_home="/nonexistent/lp", download=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.DatasetUnavailableError: Covertype ...
    """
    home = _resolve_home(data_home)
    archive = home / _COVTYPE_FILE
    cache = home / "covtype.npz"
    loaded = _load_cache(cache)
    if loaded is None:
        _ensure_archive(archive, download)
        loaded = _table_to_arrays(_read_table(archive), archive)
        _save_cache(cache, *loaded)
    features, labels = loaded
    if blog_compat:
        features, labels = features[1:], labels[1:]
    return Dataset(
        features=np.ascontiguousarray(features, dtype=np.float32),
        labels=np.ascontiguousarray(labels, dtype=np.float32),
        feature_names=FEATURE_NAMES,
        label_names=LABEL_NAMES,
        source="covtype",
    )


def _ensure_archive(archive: Path, download: bool) -> None:
    """Make sure a verified ``covtype.data.gz`` sits at ``archive``."""
    if archive.is_file():
        digest = _sha256(archive)
        if digest == _COVTYPE_SHA256:
            return
        logger.warning("checksum mismatch path=%s sha256=%s", archive, digest)
        problem = f"cached file {str(archive)!r} has SHA-256 {digest!r}"
    else:
        problem = f"{str(archive)!r} does not exist"
    if not download:
        raise DatasetUnavailableError(
            f"Covertype data set unavailable: {problem} and download=False. "
            + _manual_hint(archive)
        )

    archive.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in _COVTYPE_URLS:
        try:
            _download(url, archive, _COVTYPE_SHA256)
            return
        except (OSError, HTTPException, ValueError) as err:
            logger.warning("download failed url=%s error=%s", url, err)
            failures.append(f"{url!r} failed: {err}")
    raise DatasetUnavailableError(
        f"Covertype data set unavailable: tried {len(failures)} URL(s) in order; "
        + "; ".join(failures)
        + ". "
        + _manual_hint(archive)
    )


def _manual_hint(archive: Path) -> str:
    sources = " or ".join(map(repr, _COVTYPE_URLS))
    return (
        f"Download {_COVTYPE_FILE} by hand from {sources} and put it at "
        f"{str(archive)!r} (SHA-256 {_COVTYPE_SHA256}), or use covtype_like() "
        f"for an offline look-alike."
    )


def _download(url: str, dest: Path, sha256: str) -> None:
    """Stream ``url`` into ``dest`` atomically, checking its SHA-256."""
    logger.info("download start url=%s dest=%s", url, dest)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "lodgepole"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as resp:
                while block := resp.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != sha256:
            raise OSError(
                f"SHA-256 mismatch: expected {sha256!r}, got {digest.hexdigest()!r}"
            )
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("download done url=%s dest=%s", url, dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _load_cache(cache: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Arrays from a cache file, or ``None`` if it is absent or unreadable."""
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as npz:
            if int(npz["version"]) != _CACHE_VERSION:
                return None
            if str(npz["sha256"]) != _COVTYPE_SHA256:
                logger.info("cache from another source file, rebuilding path=%s", cache)
                return None
            features, labels = npz["features"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        logger.warning("cache unreadable, rebuilding path=%s error=%s", cache, err)
        return None
    if features.shape != (labels.shape[0], _NUM_FEATURES):
        logger.warning("cache has wrong shape, rebuilding path=%s", cache)
        return None
    return features, labels


def _save_cache(cache: Path, features: np.ndarray, labels: np.ndarray) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{cache.name}.", dir=cache.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(
                out,
                version=_CACHE_VERSION,
                sha256=np.str_(_COVTYPE_SHA256),
                features=features,
                labels=labels,
            )
        os.replace(tmp_name, cache)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _table_to_arrays(table: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Split a parsed integer table into int16 features and int8 labels 0-6."""
    if table.shape[1] != 1 + _NUM_FEATURES:
        raise DataFormatError(
            f"{str(path)!r}: expected {1 + _NUM_FEATURES} columns (54 features "
            f"and the cover type), got {table.shape[1]}."
        )
    cover = table[:, -1]
    bad = np.flatnonzero((cover < 1) | (cover > _NUM_CLASSES))
    if bad.size:
        raise DataFormatError(
            f"{str(path)!r}, line {bad[0] + 1}: cover type must be 1-7; "
            f"got {int(cover[bad[0]])!r}."
        )
    features = table[:, :-1]
    if features.min(initial=0) < -32768 or features.max(initial=0) > 32767:
        raise DataFormatError(f"{str(path)!r}: a feature value exceeds int16 range.")
    return features.astype(np.int16), (cover - 1).astype(np.int8)


def _read_table(archive: Path) -> np.ndarray:
    """Parse the gzipped CSV into an int32 table with numpy's C reader."""
    try:
        with warnings.catch_warnings():
            # numpy only warns about an empty file; make that an error too.
            warnings.filterwarnings("error", "loadtxt: input contained no data")
            with gzip.open(archive, "rt", encoding="ascii") as stream:
                return np.loadtxt(stream, delimiter=",", dtype=np.int32, ndmin=2)
    except (ValueError, EOFError, OSError, UserWarning) as err:
        raise DataFormatError(
            f"{str(archive)!r} is not a table of {1 + _NUM_FEATURES} "
            f"comma-separated integers: {err}"
        ) from err


# --------------------------------------------------------------------------
# The look-alike generator.
# --------------------------------------------------------------------------


def covtype_like(n_rows: int = 581_012, seed: int = 0) -> Dataset:
    """Generate an offline stand-in for the Covertype table.

    Parameters
    ----------
    n_rows
        Number of records.
    seed
        Seed of the random generator; equal seeds give equal tables.

    Returns
    -------
    Dataset
        Integer-valued float32 features in the real table's 54-column schema
        and ranges; ``source`` is ``"covtype_like"``.

    Raises
    ------
    ConfigError
        If ``n_rows`` < 1 or ``seed`` < 0.

    Notes
    -----
    Class counts are the real shares scaled to ``n_rows`` (exact at
    581,012) in random order. Given the class, the wilderness area follows
    the real table's joint counts; elevation, slope, aspect and distances
    follow per-class distributions near the real class means; hillshades
    are computed from slope and aspect (so they correlate as in the real
    table); the soil depends on class and elevation. A multinomial logistic
    regression on standardised features reaches about 0.72 test accuracy
    with Lodgepole Pine recall about 0.8 and Aspen recall below 0.1; with
    inverse-frequency class weights accuracy falls to about 0.62 and every
    class recall exceeds 0.5, the pattern of SPEC §10.3. Gradient-boosted
    trees do a few points better than the linear model.

    Examples
    --------
    >>> ds = covtype_like(2000, seed=3)
    >>> ds.features.shape, ds.features.dtype.name
    ((2000, 54), 'float32')
    >>> bool((ds.features[:, 14:].sum(axis=1) == 1).all())
    True
    """
    n_rows = _checked_int("n_rows", n_rows, minimum=1)
    seed = _checked_int("seed", seed, minimum=0)
    features, labels = _covtype_like.generate(n_rows, seed)

    logger.debug("covtype_like generated n_rows=%d seed=%d", n_rows, seed)
    return Dataset(
        features=features,
        labels=labels.astype(np.float32),
        feature_names=FEATURE_NAMES,
        label_names=LABEL_NAMES,
        source="covtype_like",
    )


def _checked_int(name: str, value: object, minimum: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"{name} must be an integer; got {value!r}.") from None
    if number < minimum:
        raise ConfigError(f"{name} must be >= {minimum}; got {number!r}.")
    return number


# --------------------------------------------------------------------------
# Channels.
# --------------------------------------------------------------------------


def split_channels(
    dataset_or_features: Dataset | np.ndarray,
    labels: np.ndarray | None = None,
    *,
    validation: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shuffle records and cut them into train, validation and test channels.

    Parameters
    ----------
    dataset_or_features
        A :class:`Dataset`, or a 2-D feature array (then pass ``labels``).
    labels
        One label per feature row; only with a feature array.
    validation, test
        Shares of records held out for each channel; their sum must be < 1.
    seed
        Seed of the shuffle; equal seeds give equal channels.

    Returns
    -------
    dict
        ``{"train": (X, y), "validation": (X, y), "test": (X, y)}`` with
        C-contiguous copies.

    Raises
    ------
    ConfigError
        If a share is negative, they sum to 1 or more, or nothing is left
        to train on.
    DataFormatError
        If labels are missing or their count differs from the rows.

    Notes
    -----
    Sizes follow the blog's two ``train_test_split`` calls: the held-out
    count is ``ceil((validation + test) * n)`` and its test part is
    rounded up, giving 464,809 / 58,101 / 58,102 for 581,012 records. The
    rows chosen differ from the blog's, whose generator is not replicated.

    Examples
    --------
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> parts = split_channels(X, np.arange(10.0), validation=0.2, test=0.2)
    >>> {name: len(y) for name, (_, y) in parts.items()}
    {'train': 6, 'validation': 2, 'test': 2}
    """
    features, labels = _features_and_labels(dataset_or_features, labels)
    n = features.shape[0]
    n_train, n_validation = _channel_sizes(n, validation, test)
    order = np.random.default_rng(_checked_int("seed", seed, 0)).permutation(n)
    bounds = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_validation],
        "test": order[n_train + n_validation :],
    }
    return {
        name: (np.ascontiguousarray(features[rows]), np.ascontiguousarray(labels[rows]))
        for name, rows in bounds.items()
    }


def _features_and_labels(
    data: Dataset | np.ndarray, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, Dataset):
        if labels is not None:
            raise DataFormatError("labels must be None when a Dataset is given.")
        return data.features, data.labels
    if labels is None:
        raise DataFormatError("labels are required when features is an array.")
    features, labels = np.asarray(data), np.asarray(labels)
    if features.ndim != 2 or labels.ndim != 1 or features.shape[0] != labels.shape[0]:
        raise DataFormatError(
            f"features must be 2-D and labels 1-D with one label per row; got "
            f"features shape {features.shape!r} and labels shape {labels.shape!r}."
        )
    return features, labels


def _channel_sizes(n: int, validation: float, test: float) -> tuple[int, int]:
    """Train and validation counts; test takes the rest."""
    for name, share in (("validation", validation), ("test", test)):
        if not 0.0 <= share < 1.0:
            raise ConfigError(f"{name} must be in [0, 1); got {share!r}.")
    held_share = validation + test
    if held_share >= 1.0:
        raise ConfigError(
            f"validation + test must be < 1; got {validation!r} + {test!r}."
        )
    held = math.ceil(held_share * n - 1e-9)
    n_test = math.ceil(held * test / held_share - 1e-9) if held_share else 0
    if n - held < 1:
        raise ConfigError(
            f"no records left for train: {n} records with validation={validation!r} "
            f"and test={test!r}."
        )
    return n - held, held - n_test
