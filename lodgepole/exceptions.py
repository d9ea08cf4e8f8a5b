"""Every error and warning lodgepole raises, in one tree.

::

    LodgepoleError
    ├── ConfigError (also ValueError)         bad hyperparameter name, type or value
    ├── DataFormatError (also ValueError)     bad input data: labels, NaN, shapes
    ├── ModelFormatError (also ValueError)    unreadable or incompatible model artifact
    └── DatasetUnavailableError (also OSError) a data set that cannot be fetched

    LodgepoleWarning (UserWarning)
    └── ConvergenceWarning                    training hit the epoch cap still improving

Catch ``LodgepoleError`` for everything, or the built-in parent you already
handle (``ValueError``, ``OSError``).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConvergenceWarning",
    "DataFormatError",
    "DatasetUnavailableError",
    "LodgepoleError",
    "LodgepoleWarning",
    "ModelFormatError",
]


class LodgepoleError(Exception):
    """Base class of every error raised by lodgepole."""


class ConfigError(LodgepoleError, ValueError):
    """A hyperparameter or option is unknown, of the wrong type or out of range."""


class DataFormatError(LodgepoleError, ValueError):
    """Input data is malformed: bad labels, NaN or inf, wrong feature count."""


class ModelFormatError(LodgepoleError, ValueError):
    """A model artifact is missing files, corrupt, or of an unsupported version."""


class DatasetUnavailableError(LodgepoleError, OSError):
    """A data set is neither cached nor downloadable (for example when offline)."""


class LodgepoleWarning(UserWarning):
    """Base class of lodgepole's warnings."""


class ConvergenceWarning(LodgepoleWarning):
    """Training stopped at the epoch cap while the model was still improving."""
