"""``pyxis appliance build|install``: the demo appliance for a first VM without internet.

``build`` makes (or reuses) the image from Debian packages and prints where it is;
``install`` also uploads it to a storage of the local node through the daemon: the ISO
as ``STORAGE:iso/pyxis-demo.iso`` and the disk as ``STORAGE:import/pyxis-demo.raw``, and
prints the ``qm create`` commands that boot it.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyxis.cli.client import ApiError, LocalClient


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pyxis appliance")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build or reuse the demo image and print its paths")
    inst = sub.add_parser("install", help="build it and upload it to a storage")
    inst.add_argument("--storage", default="local")
    inst.add_argument("--root", default=None)
    args = ap.parse_args(argv)
    from pyxis.appliance.builder import build

    image = build()
    if args.cmd == "build":
        print(json.dumps(image.as_json(), indent=2))
        return 0
    client = LocalClient(args.root)
    try:
        node = client.node
        for content, path, name in (
            ("iso", image.iso, "pyxis-demo.iso"),
            ("import", image.disk, "pyxis-demo.raw"),
        ):
            upid = client.upload(
                f"/nodes/{node}/storage/{args.storage}/upload",
                {"content": content},
                "filename",
                path,
                name,
            )
            status = client.wait_task(str(upid), echo=False)
            if status != "OK":
                print(f"pyxis appliance: upload of {name} failed: {status}", file=sys.stderr)
                return 1
            print(f"uploaded {args.storage}:{content}/{name}")
    except ApiError as err:
        print(f"pyxis appliance: {err}", file=sys.stderr)
        return 1
    s = args.storage
    print(
        "\nboot it from the ISO:\n"
        f"  qm create 900 --name demo --memory 256 --kvm 0 --serial0 socket --vga serial0 "
        f"--ide2 {s}:iso/pyxis-demo.iso,media=cdrom --net0 virtio,bridge=vmbr0 --agent 1\n"
        "or from a disk imported from the image:\n"
        f"  qm create 901 --name demo-disk --memory 256 --kvm 0 --serial0 socket "
        f"--scsi0 {s}:0,import-from={s}:import/pyxis-demo.raw --boot order=scsi0 "
        "--net0 virtio,bridge=vmbr0 --agent 1\n"
        "then: qm start 900 && qm terminal 900"
    )
    return 0
