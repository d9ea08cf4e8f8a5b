"""Every error and warning lodgepole raises, in one tree.

::

    LodgepoleError
    ├── ConfigError (also ValueError)         bad hyperparameter name, type or value
    ├── DataFormatError (also ValueError)     bad input data: labels, NaN, shapes
    ├── ModelFormatError (also ValueError)    unreadable or incompatible model artifact
    │   └── CheckpointError                   unreadable checkpoint, or another run's
    ├── DatasetUnavailableError (also OSError) a data set that cannot be fetched
    ├── ClusterError (also OSError)           Dask cluster unreachable or out of workers
    ├── EndpointError                         an endpoint error status, or no endpoint
    └── JobError                              no such training job, or the wrong state

    LodgepoleWarning (UserWarning)
    └── ConvergenceWarning                    training hit the epoch cap still improving

Catch ``LodgepoleError`` for everything, or the built-in parent you already
handle (``ValueError``, ``OSError``).
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ClusterError",
    "ConfigError",
    "ConvergenceWarning",
    "DataFormatError",
    "DatasetUnavailableError",
    "EndpointError",
    "JobError",
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


class CheckpointError(ModelFormatError):
    """A training checkpoint that cannot be read, or belongs to another run."""


class DatasetUnavailableError(LodgepoleError, OSError):
    """A data set is neither cached nor downloadable (for example when offline)."""


class ClusterError(LodgepoleError, OSError):
    """The Dask cluster cannot be reached, or lost workers twice in one round."""


class EndpointError(LodgepoleError):
    """The endpoint answered with an error status, or could not be reached.

    Also raised by the endpoint registry (no endpoint of that name, a name
    already taken), with ``status`` None.

    Attributes
    ----------
    status : int or None
        The HTTP status code; None when no answer came.
    message : str
        The server's error message (the ``error`` field of its JSON body).

    Examples
    --------
    >>> err = EndpointError(400, "row 2, column 3: expected a number")
    >>> str(err), err.status
    ('endpoint answered 400: row 2, column 3: expected a number', 400)
    """

    def __init__(self, status: int | None, message: str) -> None:
        prefix = f"endpoint answered {status}: " if status is not None else ""
        super().__init__(prefix + message)
        self.status = status
        self.message = message


class JobError(LodgepoleError):
    """No training job of that name, a name already used, or a job in the
    wrong state for the request (attach an unfinished job, delete a running
    one)."""


class LodgepoleWarning(UserWarning):
    """Base class of lodgepole's warnings."""


class ConvergenceWarning(LodgepoleWarning):
    """Training stopped at the epoch cap while the model was still improving."""
