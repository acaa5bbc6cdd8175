"""``pyxis``: the umbrella CLI.

``pyxis api ...`` is ``pvesh``; ``pyxis version`` prints the package and API versions.
Later capabilities (the multi-node testbed, the demo appliance) add subcommands here.
"""

from __future__ import annotations

import sys

import pyxis


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("help", "-h", "--help"):
        print(
            "usage: pyxis version | pyxis api get|create|set|delete|ls|usage PATH [...]\n"
            "       pyxis network setup-default [--root DIR]\n"
            "       pyxis testbed up|status|exec|kill|stop|cont|partition|heal|down [...]"
        )
        return 0 if args else 2
    if args[0] == "version":
        print(f"pyxis {pyxis.__version__} (API {pyxis.API_RELEASE})")
        return 0
    if args[0] == "network" and args[1:2] == ["setup-default"]:
        return _setup_default_network(args[2:])
    if args[0] == "appliance":
        from pyxis.cli import appliance

        return appliance.main(args[1:])
    if args[0] == "testbed":
        from pyxis.testbed import cli as testbed

        return testbed.main(args[1:])
    if args[0] == "api":
        from pyxis.cli import pvesh

        return pvesh.main(args[1:])
    print(f"pyxis: unknown command '{args[0]}'", file=sys.stderr)
    return 2


def _setup_default_network(args: list[str]) -> int:
    """Create the NAT bridge vmbr0 when the host has none (idempotent)."""
    import asyncio
    import os

    from pyxis.errors import PyxisError
    from pyxis.network import defaultnet
    from pyxis.paths import Paths

    root = args[1] if len(args) > 1 and args[0] == "--root" else os.environ.get("PYXIS_ROOT", "/")
    paths = Paths.at(root)
    paths.ensure()
    try:
        print("pyxis: " + asyncio.run(defaultnet.ensure(paths.run_dir)))
    except (PyxisError, OSError) as err:
        print(f"pyxis: default network not set up: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
