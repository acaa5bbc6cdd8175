"""Replication of the config store over an agreed-order group transport (corosync CPG).

``messages`` is the wire format, ``transport`` the abstraction (``sim`` for tests,
``cpg_transport`` for corosync), ``engine`` the protocol of
``/work/shared/design/replicated-store.md`` with ``outbox`` (submission, batching,
sending), ``checker`` the history checker of the fault tests and ``harness`` a one-node
JSON-lines driver for them.
"""
