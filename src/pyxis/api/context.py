"""What a handler receives besides its validated parameters.

``Call`` names the caller (user or token), the node's services and, for upload
methods, the streamed file (for websocket methods, the connection).  ``Listing`` lets
a list handler report ``total``;
``Download`` asks the server to stream a file instead of a JSON envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyxis.schema.registry import Method
    from pyxis.server.websocket import WebSocket
    from pyxis.services import Services


@dataclass
class Upload:
    """A file streamed to ``path`` (a temporary name inside the target directory)."""

    filename: str
    path: Path
    size: int


@dataclass
class Call:
    svc: Services
    authid: str
    method: Method
    client: str | None = None
    upload: Upload | None = None
    # the accepted-to-be connection of a ``websocket=True`` method
    websocket: WebSocket | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return self.authid.split("!", 1)[0]

    @property
    def tokenid(self) -> str | None:
        return self.authid if "!" in self.authid else None

    @property
    def is_root(self) -> bool:
        return self.authid == "root@pam"


@dataclass
class Listing:
    data: list[Any]
    total: int


@dataclass
class Download:
    path: Path
    content_type: str = "application/octet-stream"
