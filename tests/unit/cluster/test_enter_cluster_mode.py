"""A join that fails after the store was emptied puts the node's old state back."""

from __future__ import annotations

import pytest

from pyxis.errors import PyxisError
from pyxis.services import Services


async def test_failed_join_restores_the_local_state(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await svc.store.write("keepme.cfg", b"mine\n")
    before = svc.store.checksum()

    async def corosync_ok() -> None:
        return None

    async def reset_then_fail(paths: object, node: str, *, reset: bool) -> None:
        assert reset
        svc.paths.config_db.write_bytes(b"")  # the reset has emptied the file...
        raise PyxisError("corosync did not start")  # ...and then the join failed

    monkeypatch.setattr(svc.corosync, "ensure_running", corosync_ok)
    monkeypatch.setattr("pyxis.services._open_cluster_store", reset_then_fail)
    with pytest.raises(PyxisError, match="corosync did not start"):
        await svc.enter_cluster_mode(reset=True)
    assert svc.store.read("keepme.cfg") == b"mine\n"
    assert svc.store.checksum() == before
    assert type(svc.store).__name__ == "LocalStore"
    await svc.store.write("after.cfg", b"writable\n")
