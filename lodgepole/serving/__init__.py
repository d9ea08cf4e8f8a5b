"""Serve a trained :class:`~lodgepole.model.LinearModel` over HTTP.

:func:`create_app` builds an ASGI application that speaks the SageMaker
inference container protocol (``/ping``, ``/invocations``) and the runtime
``InvokeEndpoint`` path (SPEC sections 6 and 7). Starlette is an optional
dependency: ``pip install starlette``.
"""

from lodgepole.serving.app import create_app

__all__ = ["create_app"]
