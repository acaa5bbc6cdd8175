"""One error tree for the whole product.

Every error carries the HTTP status the API answers with; parameter errors carry a
per-field dict so that a 400 names the offending parameter.  Input errors (4xx) are
separate from execution errors (5xx).  Raise with ``raise ... from err``.
"""

from __future__ import annotations


class PyxisError(Exception):
    """Root of all Pyxis errors; ``status`` is the HTTP status code."""

    status = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ParamError(PyxisError):
    """Parameter verification failed (400) with one message per offending parameter."""

    status = 400

    def __init__(
        self, errors: dict[str, str], message: str = "Parameter verification failed."
    ) -> None:
        super().__init__(message)
        self.errors = dict(errors)

    @classmethod
    def one(cls, param: str, msg: str) -> ParamError:
        return cls({param: msg})


class AuthError(PyxisError):
    """Authentication failed or missing (401)."""

    status = 401


class PermissionDenied(PyxisError):
    """Authenticated but not allowed (403)."""

    status = 403

    def __init__(self, message: str = "Permission check failed") -> None:
        super().__init__(message)


class NotFound(PyxisError):
    """A named object does not exist (404; upstream often answers 500 with the same text)."""

    status = 404


class Conflict(PyxisError):
    """State conflict: digest mismatch, object exists, lock held.

    Upstream answers these with 500; we answer 409 so that clients and fuzzers can tell
    a refused request from a server fault (the message text is upstream's).
    """

    status = 409


class NotImplementedErr(PyxisError):
    """Unknown path or method (501)."""

    status = 501


class QuorumError(PyxisError):
    """The config store refuses writes: no quorum."""

    status = 500

    def __init__(self, message: str = "cluster not ready - no quorum?") -> None:
        super().__init__(message)


class StoreError(PyxisError):
    """Config store limits or integrity problems."""

    status = 500


class CommandError(PyxisError):
    """An external command failed; keeps argv, exit code and stderr."""

    status = 500

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {returncode}"
        super().__init__(f"command '{argv[0]}' failed: {tail}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
