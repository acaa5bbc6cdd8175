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
        print("usage: pyxis version | pyxis api get|create|set|delete|ls|usage PATH [...]")
        return 0 if args else 2
    if args[0] == "version":
        print(f"pyxis {pyxis.__version__} (API {pyxis.API_RELEASE})")
        return 0
    if args[0] == "api":
        from pyxis.cli import pvesh

        return pvesh.main(args[1:])
    print(f"pyxis: unknown command '{args[0]}'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
