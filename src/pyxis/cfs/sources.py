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
