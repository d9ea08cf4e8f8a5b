"""Distributed training: the ``dask`` executor.

Importing this package does not import Dask; :class:`DaskExecutor` imports
``distributed`` when it connects.
"""

from lodgepole.distributed.executor import ClusterError, DaskExecutor

__all__ = ["ClusterError", "DaskExecutor"]
