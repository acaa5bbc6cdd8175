"""What the config store view shows: the node's store, its virtual files, a validator.

Kept apart from :mod:`pyxis.cfs.ops` so that callers need not import pyfuse3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyxis.store.base import ConfigStore

Validator = Callable[[ConfigStore, str, bytes], str | None]
"""``(store, path, new content)`` -> why the content is refused, or None."""


@dataclass
class Sources:
    """Where the view gets its contents (callables: the node's store may be replaced)."""

    store: Callable[[], ConfigStore]
    node: str
    virtual: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    validate: Validator | None = None
    # files the validator guards: never deleted or renamed away through the view, and
    # written only over the very content the validator checked against
    guarded: frozenset[str] = frozenset()
