"""The public names of the package are deliberate: this test pins them."""

from __future__ import annotations

import lodgepole


def test_public_names_are_pinned():
    assert sorted(lodgepole.__all__) == [
        "ConfigError",
        "ConvergenceWarning",
        "DataFormatError",
        "DatasetUnavailableError",
        "EndpointError",
        "EpochReport",
        "Evaluation",
        "Hyperparameters",
        "JobError",
        "LinearLearner",
        "LinearModel",
        "LodgepoleError",
        "LodgepoleWarning",
        "ModelFormatError",
        "Prediction",
        "PredictorType",
        "TrainingResult",
        "__version__",
        "evaluate",
        "train",
    ]


def test_every_public_name_exists():
    for name in lodgepole.__all__:
        assert hasattr(lodgepole, name), name


def test_errors_share_one_root_and_builtin_parents():
    assert issubclass(lodgepole.ConfigError, (lodgepole.LodgepoleError, ValueError))
    assert issubclass(lodgepole.DataFormatError, ValueError)
    assert issubclass(lodgepole.DatasetUnavailableError, OSError)
