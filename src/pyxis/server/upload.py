"""Streaming multipart uploads (``POST .../storage/{storage}/upload``).

The file part is written straight into a temporary file inside the target storage (so
the final move is a same-filesystem rename) and never held in memory; other form
fields are collected as ordinary parameters.  The handler validates the name and
moves the file into place; the server removes the temporary file if anything fails.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from pyxis.api.context import Upload
from pyxis.errors import ParamError, PyxisError
from pyxis.services import Services

MAX_FIELD = 64 * 1024


class _Collector:
    """Callbacks for the multipart parser: fields into a dict, the file onto disk."""

    def __init__(self, tmpdir: Path) -> None:
        self.tmpdir = tmpdir
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._name = ""
        self._filename: str | None = None
        self._buf = bytearray()
        self._fd: int | None = None
        self._size = 0

    def on_part_begin(self) -> None:
        self._headers, self._buf, self._filename, self._size = {}, bytearray(), None, 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = opts.get(b"name", b"").decode("utf-8", "replace")
        fname = opts.get(b"filename")
        if fname is not None:
            if self.upload is not None:
                raise ParamError.one(self._name, "only one file per upload")
            self._filename = fname.decode("utf-8", "replace")
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.tmpdir)
            self._fd = fd
            self.upload = Upload(filename=self._filename, path=Path(tmp), size=0)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._fd is not None:
            view = memoryview(data)[start:end]
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._size += end - start
        else:
            self._buf += data[start:end]
            if len(self._buf) > MAX_FIELD:
                raise ParamError.one(self._name, "form field too large")

    def on_part_end(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            assert self.upload is not None
            self.upload.size = self._size
            # upstream's file field is called "filename": its value is the client name
            self.fields[self._name] = self.upload.filename
        else:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.upload is not None and self.upload.path.exists():
            self.upload.path.unlink()


async def receive_upload(
    svc: Services,
    scope: dict[str, Any],
    receive: Any,
    pathparams: dict[str, str],
    hdrs: dict[str, str],
) -> tuple[dict[str, Any], Upload | None]:
    ctype, opts = parse_options_header(hdrs.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in opts:
        raise PyxisError("upload needs a multipart/form-data body", status=400)
    tmpdir = svc.storage.upload_tmpdir(pathparams.get("storage", ""))
    col = _Collector(tmpdir)
    parser = MultipartParser(
        opts[b"boundary"],
        callbacks={
            "on_part_begin": col.on_part_begin,
            "on_part_data": col.on_part_data,
            "on_part_end": col.on_part_end,
            "on_header_field": col.on_header_field,
            "on_header_value": col.on_header_value,
            "on_header_end": col.on_header_end,
            "on_headers_finished": col.on_headers_finished,
        },
    )
    try:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise PyxisError("client disconnected during upload", status=400)
            parser.write(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        parser.finalize()
    except ParseError as err:
        col.abort()
        raise PyxisError(f"malformed multipart body: {err}", status=400) from err
    except BaseException:
        col.abort()
        raise
    return dict(col.fields), col.upload
