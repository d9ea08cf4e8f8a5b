"""Lodgepole: fast linear learners that speak SageMaker Linear Learner's language.

Train binary, multiclass and regression linear models with many candidate
models at once, early stopping and class weights, then save them as plain
JSON + ``.npz`` artifacts.

Examples
--------
>>> import numpy as np, lodgepole
>>> X = np.random.default_rng(0).normal(size=(500, 2)).astype("float32")
>>> y = (X[:, 0] > 0).astype("float32")
>>> result = lodgepole.train({"predictor_type": "binary_classifier",
...                           "epochs": 2, "num_models": 2,
...                           "mini_batch_size": 50}, (X, y))
>>> result.metrics["train"]["binary_classification_accuracy"] > 0.9
True
"""

from lodgepole.__about__ import __version__
from lodgepole._types import PredictorType
from lodgepole.estimator import LinearLearner
from lodgepole.evaluation import Evaluation, evaluate
from lodgepole.exceptions import (
    ConfigError,
    ConvergenceWarning,
    DataFormatError,
    DatasetUnavailableError,
    EndpointError,
    JobError,
    LodgepoleError,
    LodgepoleWarning,
    ModelFormatError,
)
from lodgepole.hyperparameters import Hyperparameters
from lodgepole.learn.results import EpochReport, TrainingResult
from lodgepole.learn.trainer import train
from lodgepole.model import LinearModel, Prediction

__all__ = [
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
