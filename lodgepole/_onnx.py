"""ONNX export of a :class:`~lodgepole.model.LinearModel`.

Private: :meth:`LinearModel.to_onnx <lodgepole.model.LinearModel.to_onnx>`
calls :func:`write_onnx`; :func:`model_to_onnx` builds the graph in memory.
Needs the ``onnx`` package: ``pip install "lodgepole[onnx]"``.

The graph computes what :meth:`LinearModel.predict
<lodgepole.model.LinearModel.predict>` computes, to float32 rounding::

    features  float32 [N, feature_dim]
      -> MatMul(weights) -> Add(bias) -> link
      -> score            float32 [N] or [N, num_classes]
      -> predicted_label  float32 [N] ([N, K] multilabel; classifiers only)

Binary classifiers: ``score`` is ``Sigmoid`` of the margin (or the margin
itself with the ``identity`` link) and ``predicted_label`` is 1.0 where
``score >= threshold``, compared in float64 as ``predict`` does. Multiclass
classifiers: ``score`` is ``Softmax`` over the classes and
``predicted_label`` the ``ArgMax``, the lowest index on ties. Multilabel
classifiers: ``score`` is ``Sigmoid`` of each label's margin and
``predicted_label`` compares each with its own threshold. Regressors:
``score`` only. ``N`` is a dynamic dimension, so any batch size runs.

The model's ``metadata_props`` hold ``predictor_type``, ``link``,
``feature_dim``, ``num_classes``, ``threshold`` (binary and multilabel),
``label_names`` and ``feature_names`` as JSON lists (each only when the
model has them) and ``lodgepole_version``.

Notes
-----
Opset 17 with IR version 8 keeps the file loadable by older runtimes too,
including every onnxruntime the ``test`` extra allows (1.18 and up). The
graph does not check its input the way ``predict`` does: NaN or inf in
``features`` flow through to ``score`` instead of raising
:class:`~lodgepole.exceptions.DataFormatError`, and the input must already
be float32.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lodgepole.__about__ import __version__
from lodgepole._artifact import _fsync_directory
from lodgepole._types import PredictorType
from lodgepole.exceptions import ModelFormatError

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as err:
    raise ImportError(
        "ONNX export needs onnx, which is not installed; install it with "
        'pip install "lodgepole[onnx]".'
    ) from err

if TYPE_CHECKING:
    from lodgepole.model import LinearModel

__all__ = ["IR_VERSION", "OPSET_VERSION", "model_to_onnx", "write_onnx"]

OPSET_VERSION = 17
IR_VERSION = 8
INPUT_NAME = "features"
BATCH_DIM = "N"
# protobuf refuses to serialise a message of 2 GiB or more; this leaves room
# for everything in the model besides the weights.
_MAX_WEIGHT_BYTES = 2**31 - 2**20


def model_to_onnx(model: LinearModel) -> onnx.ModelProto:
    """Build the ONNX model that predicts as ``model.predict`` does.

    Parameters
    ----------
    model
        Any :class:`~lodgepole.model.LinearModel`.

    Returns
    -------
    onnx.ModelProto
        Opset 17, IR version 8; input ``features``, outputs ``score`` and,
        for classifiers, ``predicted_label``.

    Raises
    ------
    ModelFormatError
        If the weights are too large for one ONNX file (2 GiB).

    Examples
    --------
    >>> from lodgepole.model import LinearModel
    >>> model = LinearModel("multiclass_classifier", np.eye(3), np.zeros(3), "softmax")
    >>> proto = model_to_onnx(model)
    >>> [output.name for output in proto.graph.output]
    ['score', 'predicted_label']
    >>> {p.key: p.value for p in proto.metadata_props}["predictor_type"]
    'multiclass_classifier'
    """
    _check_size(model)
    graph = helper.make_graph(
        _raw_nodes() + _link_nodes(model),
        name="lodgepole_linear_model",
        inputs=[_float_tensor(INPUT_NAME, [BATCH_DIM, model.feature_dim])],
        outputs=_outputs(model),
        initializer=_initializers(model),
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET_VERSION)],
        ir_version=IR_VERSION,
        producer_name="lodgepole",
        producer_version=__version__,
        doc_string=_doc_string(model),
    )
    helper.set_model_props(proto, _metadata(model))
    return proto


def write_onnx(model: LinearModel, target: Path) -> None:
    """Write ``model`` as an ONNX file at ``target``, atomically.

    The bytes go to a temporary file beside ``target``, which is then renamed
    over it, so readers see the old file or the new one, never a mix. See
    :meth:`LinearModel.to_onnx <lodgepole.model.LinearModel.to_onnx>`, whose
    example exercises this function.
    """
    data = model_to_onnx(model).SerializeToString()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(target.parent)


# --- graph pieces -----------------------------------------------------------


def _check_size(model: LinearModel) -> None:
    size = model.weights.nbytes + model.bias.nbytes
    if size > _MAX_WEIGHT_BYTES:
        raise ModelFormatError(
            f"the weights take {size} bytes, more than one ONNX file can hold "
            f"({_MAX_WEIGHT_BYTES}); save the model artifact with "
            "LinearModel.save instead, or reduce feature_dim."
        )


def _float_tensor(name: str, shape: list[str | int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _initializers(model: LinearModel) -> list[onnx.TensorProto]:
    tensors = [
        numpy_helper.from_array(model.weights, "weights"),
        numpy_helper.from_array(model.bias, "bias"),
    ]
    if model.predictor_type in (PredictorType.BINARY, PredictorType.REGRESSOR):
        axis = np.array([1], dtype=np.int64)  # Squeeze [N, 1] to [N]
        tensors.append(numpy_helper.from_array(axis, "class_axis"))
    if model.threshold is not None:  # binary: a scalar; multilabel: one per label
        threshold = np.array(model.threshold, dtype=np.float64)
        tensors.append(numpy_helper.from_array(threshold, "threshold"))
    return tensors


def _raw_nodes() -> list[onnx.NodeProto]:
    return [
        helper.make_node("MatMul", [INPUT_NAME, "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["raw"]),
    ]


def _link_nodes(model: LinearModel) -> list[onnx.NodeProto]:
    if model.predictor_type is PredictorType.MULTICLASS:
        return [
            helper.make_node("Softmax", ["raw"], ["score"], axis=1),
            helper.make_node(
                "ArgMax",
                ["score"],
                ["label_index"],
                axis=1,
                keepdims=0,
                select_last_index=0,
            ),
            helper.make_node(
                "Cast", ["label_index"], ["predicted_label"], to=TensorProto.FLOAT
            ),
        ]
    if model.predictor_type is PredictorType.REGRESSOR:
        return [helper.make_node("Squeeze", ["raw", "class_axis"], ["score"])]

    margin = "score" if model.link == "identity" else "margin"
    if model.predictor_type is PredictorType.MULTILABEL:  # [N, K], no squeeze
        nodes = [helper.make_node("Identity", ["raw"], [margin])]
    else:
        nodes = [helper.make_node("Squeeze", ["raw", "class_axis"], [margin])]
    if model.link == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["margin"], ["score"]))
    # predict widens the float32 score to float64 before comparing it with
    # the float64 threshold; doing the same keeps labels identical.
    return [
        *nodes,
        helper.make_node("Cast", ["score"], ["score64"], to=TensorProto.DOUBLE),
        helper.make_node("GreaterOrEqual", ["score64", "threshold"], ["positive"]),
        helper.make_node(
            "Cast", ["positive"], ["predicted_label"], to=TensorProto.FLOAT
        ),
    ]


def _outputs(model: LinearModel) -> list[onnx.ValueInfoProto]:
    if model.predictor_type is PredictorType.MULTILABEL:
        shape: list[str | int] = [BATCH_DIM, model.num_classes]
        return [_float_tensor("score", shape), _float_tensor("predicted_label", shape)]
    if model.predictor_type is PredictorType.MULTICLASS:
        score = _float_tensor("score", [BATCH_DIM, model.num_classes])
    else:
        score = _float_tensor("score", [BATCH_DIM])
    if model.predictor_type is PredictorType.REGRESSOR:
        return [score]
    return [score, _float_tensor("predicted_label", [BATCH_DIM])]


# --- metadata ---------------------------------------------------------------


def _metadata(model: LinearModel) -> dict[str, str]:
    props = {
        "predictor_type": model.predictor_type.value,
        "link": model.link,
        "feature_dim": str(model.feature_dim),
        "num_classes": str(model.num_classes),
    }
    if model.threshold is not None:
        props["threshold"] = repr(model.threshold)
    for name in ("label_names", "feature_names"):
        names = getattr(model, name)
        if names is not None:
            props[name] = json.dumps(list(names), ensure_ascii=False)
    props["lodgepole_version"] = __version__
    return props


def _doc_string(model: LinearModel) -> str:
    link = {"sigmoid": "sigmoid(raw)", "softmax": "softmax(raw, axis=1)"}
    score = link.get(model.link, "raw")
    text = (
        f"lodgepole {model.predictor_type.value}: raw = features @ weights + bias "
        f"(feature_dim={model.feature_dim}); score = {score}"
    )
    if model.predictor_type is PredictorType.BINARY:
        text += f"; predicted_label = 1.0 where score >= {model.threshold!r} else 0.0"
    elif model.predictor_type is PredictorType.MULTICLASS:
        text += "; predicted_label = argmax(score, axis=1), lowest index on ties"
    elif model.predictor_type is PredictorType.MULTILABEL:
        text += (
            "; predicted_label[:, k] = 1.0 where score[:, k] >= threshold[k] "
            f"(threshold={list(model.threshold)!r}) else 0.0"  # type: ignore[arg-type]
        )
    return text + "."
