"""Serve a trained :class:`~lodgepole.model.LinearModel` over HTTP.

:func:`create_app` builds an ASGI application that speaks the SageMaker
inference container protocol (``/ping``, ``/invocations``) and the runtime
``InvokeEndpoint`` path (SPEC sections 6 and 7). :func:`serve` runs it under
uvicorn. :func:`deploy` (also ``LinearModel.deploy``) starts an endpoint, a
detached server process that outlives the caller, and returns a
:class:`Predictor`, the counterpart of the SageMaker SDK's
``estimator.deploy(...)``. :func:`list_endpoints`, :func:`describe_endpoint`
and :func:`delete_endpoint` manage endpoints from any process. Starlette and
uvicorn are optional dependencies: ``pip install "lodgepole[serve]"``.
"""

from lodgepole.exceptions import EndpointError
from lodgepole.serving.app import create_app
from lodgepole.serving.endpoint import Predictor, deploy
from lodgepole.serving.registry import (
    Endpoint,
    delete_endpoint,
    describe_endpoint,
    list_endpoints,
)
from lodgepole.serving.server import serve

__all__ = [
    "Endpoint",
    "EndpointError",
    "Predictor",
    "create_app",
    "delete_endpoint",
    "deploy",
    "describe_endpoint",
    "list_endpoints",
    "serve",
]
