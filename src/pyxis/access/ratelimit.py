"""Login rate limiting per user name and per source address.

After ``max_failures`` failed logins for one user name (``max_source_failures`` from one
source address, which may be a proxy or a NAT shared by many users) within ``window``
seconds that key is locked for a cool-down; every further lock of the same key
doubles it (up to ``max_cooldown``), and the strike count is forgotten after a quiet
``max_cooldown``.  While locked, logins fail at once without looking at the password,
with the same answer as a wrong password, whether or not the user exists.  A
successful login clears the user's record (not the address': one valid account must
not reset an attacker's budget for guessing others).  The clock is injectable.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.errors import AuthError

if TYPE_CHECKING:
    from pyxis.services import Services

MAX_KEYS = 10000


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    strikes: int = 0
    last: float = 0.0


class LoginLimiter:
    """Failure bookkeeping for login attempts (one per node)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_failures: int = 5,
        max_source_failures: int = 10,
        window: float = 60.0,
        cooldown: float = 60.0,
        max_cooldown: float = 3600.0,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.max_source_failures = max_source_failures
        self.window = window
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._records: dict[tuple[str, str], _Record] = {}

    @staticmethod
    def _keys(userid: str, source: str | None) -> list[tuple[str, str]]:
        keys = [("user", userid.lower())]
        if source:
            keys.append(("addr", source))
        return keys

    def locked(self, userid: str, source: str | None) -> bool:
        """Whether a login for ``userid`` from ``source`` is refused right now."""
        now = self.clock()
        return any(
            (rec := self._records.get(key)) is not None and rec.locked_until > now
            for key in self._keys(userid, source)
        )

    def remaining(self, userid: str, source: str | None) -> float:
        """Seconds until both keys are unlocked (0 when not locked)."""
        now = self.clock()
        ends = [
            rec.locked_until - now
            for key in self._keys(userid, source)
            if (rec := self._records.get(key)) is not None
        ]
        return max([0.0, *ends])

    def failure(self, userid: str, source: str | None) -> None:
        now = self.clock()
        self._prune(now)
        for key in self._keys(userid, source):
            rec = self._records.setdefault(key, _Record())
            if rec.strikes and now - rec.last > self.max_cooldown:
                rec.strikes = 0
            rec.last = now
            while rec.failures and rec.failures[0] <= now - self.window:
                rec.failures.popleft()
            rec.failures.append(now)
            limit = self.max_failures if key[0] == "user" else self.max_source_failures
            if len(rec.failures) >= limit:
                pause = min(self.cooldown * (2**rec.strikes), self.max_cooldown)
                rec.locked_until = now + pause
                rec.strikes += 1
                rec.failures.clear()

    def success(self, userid: str) -> None:
        self._records.pop(("user", userid.lower()), None)

    def _prune(self, now: float) -> None:
        if len(self._records) < MAX_KEYS:
            return
        stale = [
            key
            for key, rec in self._records.items()
            if rec.locked_until <= now and now - rec.last > self.max_cooldown
        ]
        for key in stale:
            del self._records[key]
        if len(self._records) >= MAX_KEYS:
            # still full of fresh records: forget the oldest half rather than grow
            oldest = sorted(self._records, key=lambda k: self._records[k].last)
            for key in oldest[: MAX_KEYS // 2]:
                del self._records[key]


_LIMITERS: weakref.WeakKeyDictionary[Services, LoginLimiter] = weakref.WeakKeyDictionary()


def limiter_for(svc: Services) -> LoginLimiter:
    """The node's limiter; its clock follows ``svc.access.clock`` (tests move it)."""
    limiter = _LIMITERS.get(svc)
    if limiter is None:
        limiter = _LIMITERS[svc] = LoginLimiter(clock=follow_clock(svc))
    return limiter


def follow_clock(svc: Services) -> Callable[[], float]:
    """A clock reading ``svc.access.clock`` without keeping ``svc`` alive."""
    ref = weakref.ref(svc)

    def now() -> float:
        target = ref()
        return target.access.clock() if target is not None else time.time()

    return now


async def guard(
    svc: Services,
    username: str,
    realm: str | None,
    source: str | None,
    login: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Run ``login`` unless the user or source is locked; book its outcome.

    A locked attempt fails like a wrong password, before any credential is looked at.
    The first step of a two-factor login (``NeedTFA``) does not count as a success.
    """
    userid = username if "@" in username or not realm else f"{username}@{realm}"
    limiter = limiter_for(svc)
    if limiter.locked(userid, source):
        raise AuthError("authentication failure")
    try:
        result = await login()
    except AuthError:
        limiter.failure(userid, source)
        raise
    if not result.get("NeedTFA"):
        limiter.success(userid)
    return result
