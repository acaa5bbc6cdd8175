"""ctypes bindings to the corosync client libraries: CPG, quorum/votequorum and cmap.

Each client is a :class:`~pyxis.cluster.corosync._lib.Handle` with an explicit
``IDLE -> CONNECTED -> CLOSED`` state; every failure is a :class:`CorosyncError`.
"""

from pyxis.cluster.corosync._lib import ConnState, CorosyncError, CsError, StateError

__all__ = ["ConnState", "CorosyncError", "CsError", "StateError"]
