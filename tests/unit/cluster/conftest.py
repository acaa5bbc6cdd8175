"""Fixtures of the cluster unit tests: a node's services with a fake corosync link."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from clusterhelp import NODE, PEERS, corosync_conf

from pyxis.cluster.link import StaticLink
from pyxis.cluster.view import ClusterView
from pyxis.services import Services


@pytest.fixture
async def clustered(svc: Services) -> AsyncIterator[tuple[Services, StaticLink]]:
    """``svc`` in cluster mode: three nodes in corosync.conf, all online (fake link)."""
    await svc.store.write("corosync.conf", corosync_conf(PEERS).encode(), writer=NODE)
    link = StaticLink(1, [1, 2, 3])
    svc.cluster = ClusterView(svc, link=link)
    svc.cluster.bus.interval = 3600.0  # tests publish explicitly
    await svc.cluster.start()
    yield svc, link
    await svc.cluster.stop()
