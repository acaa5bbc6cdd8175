"""``/cluster/nextid`` without handing out one id twice, even across nodes.

Between ``nextid`` and the create that uses its answer, another caller (on this node or
another) could be given the same id.  So an id handed out is reserved first: an
exclusive create of ``priv/nextid/<vmid>`` in the config store.  In cluster mode that
create is applied in agreed order on every node, so when two nodes race for an id
exactly one create succeeds cluster-wide and the other caller moves on to the next id.
A reservation holds its expiry (writer's clock + :data:`RESERVATION_TTL`); an expired
one is reclaimed with a delete conditional on its digest, so of several reclaimers
exactly one wins; a reservation whose guest now exists no longer matters (the guest
does) and is removed when seen.  ``nextid`` with ``vmid`` only checks: the id must not
belong to a guest nor to a live reservation ("VM <id> already exists", as upstream).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyxis.errors import Conflict, NotFound, ParamError, PyxisError
from pyxis.store.base import ConfigStore, Entry, digest

PREFIX = "priv/nextid/"
RESERVATION_TTL = 120.0
MAX_ATTEMPTS = 64


@dataclass(frozen=True)
class Reservation:
    vmid: int
    node: str
    expires: float
    entry: Entry


def _parse(entry: Entry) -> Reservation | None:
    name = entry.path[len(PREFIX) :]
    if not name.isdigit():
        return None
    try:
        doc = json.loads(entry.data)
        return Reservation(int(name), str(doc["node"]), float(doc["expires"]), entry)
    except (ValueError, KeyError, TypeError):
        # unreadable: treat as expired so it gets reclaimed
        return Reservation(int(name), "", 0.0, entry)


class VmidAllocator:
    """Hands out free VM ids through store reservations (see the module docstring)."""

    def __init__(
        self, store: ConfigStore, node: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.node = node
        self.clock = clock

    def reservations(self) -> dict[int, Reservation]:
        out = {}
        for entry in self.store.walk(PREFIX):
            res = _parse(entry)
            if res is not None:
                out[res.vmid] = res
        return out

    def live_reservations(self, used: set[int]) -> set[int]:
        now = self.clock()
        return {v for v, r in self.reservations().items() if r.expires > now and v not in used}

    def check(self, vmid: int, used: set[int]) -> int:
        """``nextid?vmid=N``: N if free, else the upstream parameter error."""
        if vmid in used or vmid in self.live_reservations(used):
            raise ParamError.one("vmid", f"VM {vmid} already exists")
        return vmid

    async def allocate(self, lower: int, upper: int, used_fn: Callable[[], set[int]]) -> int:
        """The lowest free id in ``[lower, upper)``, reserved for this caller."""
        await self._sweep(used_fn())
        for _ in range(MAX_ATTEMPTS):
            used = used_fn()
            reserved = self.reservations()
            now = self.clock()
            candidate = None
            for vmid in range(lower, upper):
                if vmid in used:
                    continue
                res = reserved.get(vmid)
                if res is not None and res.expires > now:
                    continue
                candidate = vmid
                break
            if candidate is None:
                break
            if await self._reserve(candidate, reserved.get(candidate)):
                return candidate
        raise PyxisError("unable to get any free VMID in range", status=500)

    async def _reserve(self, vmid: int, stale: Reservation | None) -> bool:
        path = f"{PREFIX}{vmid}"
        if stale is not None:
            try:
                await self.store.delete(path, expect_digest=digest(stale.entry.data))
            except (Conflict, NotFound):
                return False  # someone else reclaimed or renewed it first
        doc = {"node": self.node, "expires": self.clock() + RESERVATION_TTL}
        try:
            await self.store.create(path, json.dumps(doc).encode(), writer=self.node)
        except Conflict:
            return False
        return True

    async def _sweep(self, used: set[int]) -> None:
        """Drop reservations whose guest exists now (they are no longer needed)."""
        for vmid, res in self.reservations().items():
            if vmid in used:
                with contextlib.suppress(Conflict, NotFound):
                    await self.store.delete(res.entry.path, expect_digest=digest(res.entry.data))
