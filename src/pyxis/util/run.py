"""The one place external commands are run.

Commands are argv lists, never shell strings.  Tests swap the module-level runner
(``set_runner``) for a fake that records calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pyxis.errors import CommandError


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[list[str], float | None, bytes | None], Awaitable[Result]]


async def _real_runner(argv: list[str], timeout: float | None, stdin: bytes | None) -> Result:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    return Result(
        argv, proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )


_runner: Runner = _real_runner


def set_runner(runner: Runner | None) -> None:
    """Install a fake runner (tests); ``None`` restores the real one."""
    global _runner
    _runner = runner or _real_runner


async def run(
    argv: Sequence[str],
    *,
    timeout: float | None = 600,
    stdin: bytes | None = None,
    check: bool = True,
) -> Result:
    """Run ``argv``; with ``check`` raise ``CommandError`` on a non-zero exit."""
    args = [str(a) for a in argv]
    res = await _runner(args, timeout, stdin)
    if check and res.returncode != 0:
        raise CommandError(args, res.returncode, res.stderr)
    return res


async def run_fd(argv: Sequence[str], stdin_fd: int, *, timeout: float | None = None) -> Result:
    """Run ``argv`` reading ``stdin_fd`` (left open for the caller); raise on failure.

    For byte streams that must not pass through Python (disk images, migration data):
    the child reads the descriptor directly.  Always the real runner, never a fake.
    """
    args = [str(a) for a in argv]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=stdin_fd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    res = Result(
        args, proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if res.returncode != 0:
        raise CommandError(args, res.returncode, res.stderr)
    return res
