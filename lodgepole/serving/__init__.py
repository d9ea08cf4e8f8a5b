"""Serve a trained :class:`~lodgepole.model.LinearModel` over HTTP.

:func:`create_app` builds an ASGI application that speaks the SageMaker
inference container protocol (``/ping``, ``/invocations``) and the runtime
``InvokeEndpoint`` path (SPEC sections 6 and 7). :func:`serve` runs it under
uvicorn; :func:`deploy` starts a local server process for a model and
returns a :class:`Predictor`, the counterpart of the SageMaker SDK's
``estimator.deploy(...)`` (``LinearModel`` has no ``deploy`` method; call
``lodgepole.serving.deploy(model, ...)``). Starlette and uvicorn are optional
dependencies: ``pip install starlette uvicorn``.
"""

from lodgepole.serving.app import create_app
from lodgepole.serving.endpoint import EndpointError, Predictor, deploy
from lodgepole.serving.server import serve

__all__ = ["EndpointError", "Predictor", "create_app", "deploy", "serve"]
