"""Generator behind :func:`lodgepole.datasets.covtype_like`.

Holds the per-class distributions modelled on the real Covertype table
(class and wilderness counts, measurement means and spreads, soil
abundances and affinities) and the draws that turn them into an
integer-valued feature matrix. :mod:`lodgepole.datasets` checks the
arguments, logs and wraps the arrays in a :class:`~lodgepole.datasets.Dataset`;
this module imports nothing from the rest of lodgepole.
"""

from __future__ import annotations

import math

import numpy as np

# The schema of lodgepole.datasets.FEATURE_NAMES and LABEL_NAMES: 10
# measurements, 4 wilderness areas and 40 soil types; 7 cover types.
_NUM_FEATURES = 54
_NUM_CLASSES = 7

# Records per cover type in the real table (SPEC §10.1).
_CLASS_COUNTS = np.array([211840, 283301, 35754, 2747, 9493, 17367, 20510])
# Records per (cover type, wilderness area) in the real table.
_WILDERNESS_COUNTS = np.array(
    [
        [105717, 18595, 87528, 0],
        [146197, 8985, 125093, 3026],
        [0, 0, 14300, 21454],
        [0, 0, 0, 2747],
        [3781, 0, 5712, 0],
        [0, 0, 7626, 9741],
        [5101, 2304, 13105, 0],
    ],
    dtype=np.float64,
)
# Per cover type: elevation mean and spread (m), slope (deg), aspect (deg),
# mean distances to hydrology, roadways and fire points (m). Close to the
# real table's class means, except Aspen's roadway distance, raised so that
# a linear model still loses Aspen to Lodgepole Pine.
_ELEVATION_MEAN = np.array([3129, 2921, 2395, 2224, 2787, 2419, 3362.0])
_ELEVATION_SD = np.array([158, 186, 197, 102, 96, 188, 106.0])
_SLOPE_MEAN = np.array([13.1, 13.6, 20.8, 18.5, 16.6, 19.0, 14.3])
_ASPECT_MEAN = np.array([156, 152, 176, 137, 139, 180, 153.0])
_HYDROLOGY_MEAN = np.array([271, 280, 210, 107, 212, 160, 357.0])
_ROADWAYS_MEAN = np.array([2615, 2430, 944, 914, 1500, 1037, 2738.0])
_FIRE_POINTS_MEAN = np.array([2009, 2168, 911, 859, 1578, 1055, 2070.0])
# Structure a linear model cannot use but trees can: elevation shifts per
# (wilderness area, cover type), and a per-type correlation between roadway
# and fire-point distances (equal means, different joint shape).
_AREA_ELEVATION = np.array([30, 150, -20, -250.0])
_CLASS_AREA_ELEVATION = np.zeros((_NUM_CLASSES, 4))
_CLASS_AREA_ELEVATION[0] = [-50, 0, 60, 0]
_CLASS_AREA_ELEVATION[1] = [50, 0, -60, 0]
_DISTANCE_CORRELATION = np.array([0.8, -0.2, 0.4, 0.4, -0.2, 0.4, 0.8])
# Soil types: typical elevation (m) and overall abundance; a record's soil
# is drawn with weight abundance * exp(affinity of its cover type) * a
# Gaussian bump (180 m wide) around the soil's elevation.
_SOIL_ELEVATION = np.array(
    [2300, 2400, 2350, 2500, 2300, 2350, 2700, 2750, 2800, 2350,
     2450, 2700, 2750, 2250, 2250, 2300, 2350, 2800, 2850, 2900,
     3000, 3100, 3150, 3100, 3050, 3000, 3100, 3050, 3000, 3000,
     3050, 3050, 3100, 3150, 3300, 3350, 3300, 3350, 3350, 3350.0]
)  # fmt: skip
_SOIL_ABUNDANCE = np.array(
    [3, 7.5, 4.8, 12.4, 1.6, 6.6, 0.4, 0.4, 1.1, 32,
     12.4, 30, 17, 0.6, 0.2, 2.8, 3.4, 1.9, 4, 9.3,
     0.8, 33, 57, 21, 0.5, 2.6, 1.1, 0.9, 115, 30,
     25, 52, 45, 1.6, 1.9, 0.4, 0.3, 15.5, 13.8, 8.7]
)  # fmt: skip
_SOIL_AFFINITY = np.zeros((_NUM_CLASSES, 40))
_SOIL_AFFINITY[0, [21, 22, 37, 38]] = 0.75
_SOIL_AFFINITY[1, [11, 28, 31, 32]] = 0.75
_SOIL_AFFINITY[2, [1, 3, 5, 9]] = 2.0
_SOIL_AFFINITY[3, [2, 13, 16]] = 1.3
# Aspen favours a broad group also common under Lodgepole Pine: its
# evidence is weak when present and strong only when absent, so weighting
# by inverse frequency recovers Aspen while plain training does not.
_SOIL_AFFINITY[4, [9, 10, 11, 12, 17, 18, 19, 29]] = 1.8
_SOIL_AFFINITY[5, [0, 4, 10, 15]] = 2.0
_SOIL_AFFINITY[6, 34:40] = 3.5
# Sun (altitude, azimuth) in degrees at 9am, noon and 3pm.
_SUN = ((58.0, 110.0), (72.0, 170.0), (38.0, 250.0))
_SOIL_CHUNK_ROWS = 1 << 15


def generate(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw the features and labels of a covtype-like table.

    Parameters
    ----------
    n_rows
        Number of records, at least 1 (checked by the caller).
    seed
        Seed of the random generator, at least 0 (checked by the caller).

    Returns
    -------
    features : numpy.ndarray
        ``(n_rows, 54)`` float32 matrix of integer values, C-contiguous.
    labels : numpy.ndarray
        ``(n_rows,)`` integer cover types 0-6.

    Examples
    --------
    >>> features, labels = generate(100, seed=0)
    >>> features.shape, features.dtype.name, labels.shape
    ((100, 54), 'float32', (100,))
    """
    rng = np.random.default_rng(seed)

    labels = rng.permutation(np.repeat(np.arange(_NUM_CLASSES), _class_counts(n_rows)))
    area = _draw_categories(rng, _WILDERNESS_COUNTS[labels])
    features = np.zeros((n_rows, _NUM_FEATURES), dtype=np.float32)
    features[:, :10] = _measurements(rng, labels, area)
    features[np.arange(n_rows), 10 + area] = 1.0
    soil = _draw_soil(rng, labels, features[:, 0].astype(np.float64))
    features[np.arange(n_rows), 14 + soil] = 1.0
    return features, labels


def _class_counts(n_rows: int) -> np.ndarray:
    """Real class shares scaled to ``n_rows`` by largest remainder."""
    exact = _CLASS_COUNTS * (n_rows / _CLASS_COUNTS.sum())
    counts = np.floor(exact).astype(np.int64)
    shortfall = n_rows - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:shortfall]] += 1
    return counts


def _draw_categories(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category per row, with probabilities proportional to ``weights``."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(weights.shape[0])
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1)


def _gamma_like(z: np.ndarray, mean: np.ndarray, shape: float) -> np.ndarray:
    """Gamma-distributed values from standard normals (Wilson-Hilferty)."""
    c = 1.0 / (9.0 * shape)
    return mean * np.maximum(1.0 - c + z * math.sqrt(c), 0.0) ** 3


def _measurements(
    rng: np.random.Generator, labels: np.ndarray, area: np.ndarray
) -> np.ndarray:
    """The 10 quantitative columns, integer-valued, in the real ranges."""
    n = labels.shape[0]
    elevation = (
        _ELEVATION_MEAN[labels]
        + _AREA_ELEVATION[area]
        + _CLASS_AREA_ELEVATION[labels, area]
        + _ELEVATION_SD[labels] * rng.standard_normal(n)
    )
    centred = rng.random(n) < 0.65
    direction = rng.vonmises(np.radians(_ASPECT_MEAN[labels] - 80.0), 1.2, n)
    aspect = np.where(centred, np.degrees(direction), rng.uniform(0.0, 360.0, n))
    aspect = np.rint(aspect % 360.0) % 360.0
    slope = np.clip(
        np.rint(_gamma_like(rng.standard_normal(n), _SLOPE_MEAN[labels], 3.5)), 0, 66
    )
    shades = [_hillshade(rng, aspect, slope, alt, az) for alt, az in _SUN]

    rho = _DISTANCE_CORRELATION[labels]
    z_road = rng.standard_normal(n)
    z_fire = rho * z_road + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
    roadways = _gamma_like(z_road, _ROADWAYS_MEAN[labels], 2.6)
    fire_points = _gamma_like(z_fire, _FIRE_POINTS_MEAN[labels], 2.4)
    hydrology = np.clip(
        np.rint(_gamma_like(rng.standard_normal(n), _HYDROLOGY_MEAN[labels], 1.5)),
        0,
        1397,
    )
    vertical = hydrology * (0.05 + 0.008 * slope) + rng.normal(0.0, 30.0, n)

    return np.column_stack(
        [
            np.clip(np.rint(elevation), 1859, 3858),
            aspect,
            slope,
            hydrology,
            np.clip(np.rint(vertical), -173, 601),
            np.clip(np.rint(roadways), 0, 7117),
            *shades,
            np.clip(np.rint(fire_points), 0, 7173),
        ]
    )


def _hillshade(
    rng: np.random.Generator,
    aspect: np.ndarray,
    slope: np.ndarray,
    altitude: float,
    azimuth: float,
) -> np.ndarray:
    """Hillshade index 0-254 of a slope lit by the sun, plus sensor noise."""
    zenith = math.radians(90.0 - altitude)
    tilt = np.radians(slope)
    light = math.cos(zenith) * np.cos(tilt) + math.sin(zenith) * np.sin(tilt) * np.cos(
        math.radians(azimuth) - np.radians(aspect)
    )
    noise = rng.normal(0.0, 6.0, aspect.shape[0])
    return np.clip(np.rint(255.0 * light + noise), 0, 254)


def _draw_soil(
    rng: np.random.Generator, labels: np.ndarray, elevation: np.ndarray
) -> np.ndarray:
    """Soil type 0-39 per row, given cover type and elevation."""
    log_prior = np.log(_SOIL_ABUNDANCE) + _SOIL_AFFINITY
    soil = np.empty(labels.shape[0], dtype=np.int64)
    for start in range(0, labels.shape[0], _SOIL_CHUNK_ROWS):
        rows = slice(start, start + _SOIL_CHUNK_ROWS)
        bump = (elevation[rows, None] - _SOIL_ELEVATION) / 180.0
        score = log_prior[labels[rows]] - 0.5 * bump**2
        weights = np.exp(score - score.max(axis=1, keepdims=True))
        soil[rows] = _draw_categories(rng, weights)
    return soil
