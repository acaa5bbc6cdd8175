"""The appliance catalog: container templates this node can build without internet.

Each ``Appliance`` is one entry of ``/nodes/{node}/aplinfo`` (fields as upstream's
index: template, package, version, os, section, type, headline, description ...) plus
how to build it (``tmplbuild``).  Built archives are cached outside the repository in
``${XDG_CACHE_HOME:-~/.cache}/pyxis/templates/<key>/<template>`` where the key hashes
the builder's source and the versions of the Debian packages that go in, so tests and
repeated downloads reuse one build.  A build happens in a temporary sibling directory
renamed into place; ``install_template`` then copies the archive into a storage's
``vztmpl`` directory under a temporary name and renames it, so a listing never shows a
half-written template.  ``pveam update`` writes the catalog as a JSON index below the
node's state directory; the API serves that index when present.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyxis.appliance.builder import default_cache_root
from pyxis.errors import NotFound
from pyxis.guests.lxc import tmplbuild
from pyxis.guests.lxc.tmplbuild import BuildError, Log
from pyxis.paths import Paths

__all__ = [
    "CATALOG",
    "Appliance",
    "BuildError",
    "aplinfo",
    "build_template",
    "cache_root",
    "index_path",
    "install_template",
    "read_index",
    "write_index",
]

Populate = Callable[[Path, Log], Awaitable[None]]
BUSYBOX = "busybox-1.35-pyxis_1.0-1_amd64.tar.zst"
DEBIAN = "debian-12-standard_12.7-1_amd64.tar.zst"


@dataclass(frozen=True)
class Appliance:
    """One buildable template; ``inputs`` are the Debian packages whose versions key
    the cache, ``normalise`` forces root-owned members (trees built unprivileged)."""

    template: str
    package: str
    version: str
    os: str
    section: str
    headline: str
    description: str
    populate: Populate
    inputs: tuple[str, ...]
    normalise: bool = True

    def info(self) -> dict[str, Any]:
        """The aplinfo entry."""
        return {
            "template": self.template,
            "package": self.package,
            "version": self.version,
            "os": self.os,
            "section": self.section,
            "type": "lxc",
            "headline": self.headline,
            "description": self.description,
            "architecture": "amd64",
            "maintainer": "Pyxis <pyxis@localhost>",
            "infopage": "https://pyxis.invalid/templates",
            "location": f"pyxis-build:{self.package}",
            "source": "pyxis",
            "certified": "no",
        }


CATALOG: dict[str, Appliance] = {
    a.template: a
    for a in (
        Appliance(
            template=BUSYBOX,
            package="busybox-1.35-pyxis",
            version="1.0-1",
            os="busybox",
            section="system",
            headline="Busybox (tiny test container)",
            description="Debian's static busybox with busybox init, getty on the console "
            "and tty1, and network set up from the container config. Built locally.",
            populate=tmplbuild.populate_busybox,
            inputs=(tmplbuild.BUSYBOX_PACKAGE,),
        ),
        Appliance(
            template=DEBIAN,
            package="debian-12-standard",
            version="12.7-1",
            os="debian-12",
            section="system",
            headline="Debian 12 Bookworm (standard)",
            description="Debian 12 minbase with systemd, ifupdown and openssh-server, "
            "bootstrapped locally from the configured Debian mirror (takes minutes).",
            populate=tmplbuild.populate_debian,
            inputs=("debootstrap", "systemd", "openssh-server", "base-files"),
            normalise=False,
        ),
    )
}


def appliance(template: str) -> Appliance:
    """The catalog entry named ``template`` (file, package or os name); NotFound."""
    for app in CATALOG.values():
        if template in (app.template, app.package, app.os):
            return app
    raise NotFound(f"no such template '{template}' in the appliance list")


def aplinfo() -> list[dict[str, Any]]:
    """The catalog as upstream's aplinfo list, sorted by template name."""
    return [CATALOG[name].info() for name in sorted(CATALOG)]


def cache_root() -> Path:
    """Where built templates are cached (beside the guest-image cache)."""
    return default_cache_root().parent / "templates"


async def cache_key(app: Appliance) -> str:
    """Hash of the builder code and the versions of the packages that go in."""
    h = hashlib.sha256()
    h.update(Path(tmplbuild.__file__).read_bytes())
    h.update(app.template.encode())
    for pkg in app.inputs:
        version = await tmplbuild.installed_version(pkg) or await tmplbuild.candidate_version(pkg)
        h.update(f"{pkg}={version}".encode())
    return h.hexdigest()[:16]


async def build_template(
    template: str, root: Path | None = None, *, log: Log = print, force: bool = False
) -> Path:
    """The cached archive of ``template``, built first when missing (or ``force``)."""
    app = appliance(template)
    base = root or cache_root()
    key = await cache_key(app)
    final = base / key
    archive = final / app.template
    if archive.is_file() and not force:
        log(f"using cached build {archive}")
        return archive
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=base))
    try:
        tree = staging / "rootfs"
        tree.mkdir()
        await app.populate(tree, log)
        out = staging / "out"
        out.mkdir()
        await tmplbuild.pack(tree, out / app.template, normalise=app.normalise)
        manifest = {"template": app.template, "key": key}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if force and final.exists():
            await asyncio.to_thread(shutil.rmtree, final)
        try:
            out.rename(final)
        except OSError:
            # a concurrent builder put its complete copy in place first: use that
            if not archive.is_file():
                raise
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)
    log(f"built {archive} ({archive.stat().st_size} bytes)")
    return archive


async def install_template(
    template: str, target: Path, *, root: Path | None = None, log: Log = print
) -> Path:
    """Build (or reuse) ``template`` and place it at ``target`` (the storage's upload
    path for ``vztmpl``) atomically; returns ``target``."""
    archive = await build_template(template, root, log=log)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        await asyncio.to_thread(shutil.copyfile, archive, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log(f"stored as {target}")
    return target


def index_path(paths: Paths) -> Path:
    """The node's appliance index (written by ``pveam update``)."""
    return paths.lib_dir / "apl-info" / "pyxis.json"


def write_index(paths: Paths) -> Path:
    """Rebuild the index from the catalog (no network involved); returns its path."""
    path = index_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(aplinfo(), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_index(paths: Paths) -> list[dict[str, Any]]:
    """The index as written by ``write_index``, else the built-in catalog."""
    try:
        data = json.loads(index_path(paths).read_text())
    except (OSError, ValueError):
        return aplinfo()
    # entries we can no longer build are dropped: download would fail for them
    return [d for d in data if isinstance(d, dict) and d.get("template") in CATALOG]
