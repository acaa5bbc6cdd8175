"""Storage definitions (/storage) and volumes on a node (/nodes/{node}/storage)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from funchelp import NODE, UPID_RE, UserFactory, err, volpath, wait_task

from pyxis.services import Services

NS = f"/api2/json/nodes/{NODE}/storage"


def _ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [s["storage"] for s in r.json()["data"]]


async def _create_dir(
    root_api: httpx.AsyncClient, sid: str, path: Path, content: str = "iso,vztmpl,images"
) -> None:
    r = await root_api.post(
        "/api2/json/storage",
        data={"storage": sid, "type": "dir", "path": str(path), "content": content},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"storage": sid, "type": "dir"}


# --- /storage ---------------------------------------------------------------------


async def test_default_local_storage(root_api: httpx.AsyncClient, svc: Services) -> None:
    r = await root_api.get("/api2/json/storage")
    (local,) = [s for s in r.json()["data"] if s["storage"] == "local"]
    assert local["type"] == "dir"
    assert local["path"] == str(svc.paths.default_storage)
    assert {"iso", "vztmpl", "images", "backup"} <= set(local["content"].split(","))
    assert "digest" not in local


async def test_storage_lifecycle(root_api: httpx.AsyncClient, tmp_path: Path) -> None:
    target = tmp_path / "st1"
    await _create_dir(root_api, "st1", target)
    # activation created the directory layout for the enabled content
    assert (target / "template/iso").is_dir()
    assert (target / "template/cache").is_dir()
    assert (target / "images").is_dir()
    assert not (target / "dump").exists()
    assert "st1" in _ids(await root_api.get("/api2/json/storage"))
    assert _ids(await root_api.get("/api2/json/storage", params={"type": "dir"})).count("st1") == 1

    r = await root_api.get("/api2/json/storage/st1")
    cfg = r.json()["data"]
    assert cfg["storage"] == "st1"
    assert cfg["type"] == "dir"
    assert cfg["path"] == str(target)
    assert set(cfg["content"].split(",")) == {"iso", "vztmpl", "images"}
    assert len(cfg["digest"]) == 40

    r = await root_api.put(
        "/api2/json/storage/st1",
        data={"content": "iso,backup", "disable": "1", "digest": cfg["digest"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"storage": "st1", "type": "dir"}
    cfg2 = (await root_api.get("/api2/json/storage/st1")).json()["data"]
    assert set(cfg2["content"].split(",")) == {"iso", "backup"}
    assert cfg2["disable"] == 1
    assert cfg2["digest"] != cfg["digest"]

    # the old digest is stale now: 409 with upstream's message, nothing changed
    r = await root_api.put(
        "/api2/json/storage/st1", data={"content": "images", "digest": cfg["digest"]}
    )
    assert r.status_code == 409
    assert err(r)["message"].startswith("detected modified configuration")
    cfg3 = (await root_api.get("/api2/json/storage/st1")).json()["data"]
    assert cfg3 == cfg2

    r = await root_api.put("/api2/json/storage/st1", data={"delete": "disable"})
    assert r.status_code == 200, r.text
    assert "disable" not in (await root_api.get("/api2/json/storage/st1")).json()["data"]

    r = await root_api.delete("/api2/json/storage/st1")
    assert r.status_code == 200, r.text
    assert "st1" not in _ids(await root_api.get("/api2/json/storage"))
    r = await root_api.get("/api2/json/storage/st1")
    assert r.status_code == 404
    # volumes stay on disk, as upstream
    assert (target / "template/iso").is_dir()


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"path": "/elsewhere"}, "path"),
        ({"type": "dir"}, "type"),
        ({"delete": "path"}, "path"),
        ({"delete": "nosuchoption"}, "nosuchoption"),
        ({"content": "iso", "delete": "content"}, "content"),
        ({"content": "bogus"}, "content"),
    ],
    ids=["fixed-path", "type", "delete-fixed", "delete-unknown", "set-and-delete", "bad-content"],
)
async def test_update_refusals(
    root_api: httpx.AsyncClient, tmp_path: Path, data: dict[str, str], param: str
) -> None:
    await _create_dir(root_api, "st1", tmp_path / "st1")
    before = (await root_api.get("/api2/json/storage/st1")).json()["data"]
    r = await root_api.put("/api2/json/storage/st1", data=data)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]
    assert (await root_api.get("/api2/json/storage/st1")).json()["data"] == before


async def test_update_or_delete_of_unknown_storage(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put("/api2/json/storage/nosuch", data={"content": "iso"})
    assert r.status_code == 404
    r = await root_api.delete("/api2/json/storage/nosuch")
    assert r.status_code == 404


async def test_duplicate_storage_id_is_refused(root_api: httpx.AsyncClient, tmp_path: Path) -> None:
    await _create_dir(root_api, "st1", tmp_path / "a")
    r = await root_api.post(
        "/api2/json/storage", data={"storage": "st1", "type": "dir", "path": str(tmp_path / "b")}
    )
    assert 400 <= r.status_code < 500
    assert "already defined" in err(r)["message"]
    assert (await root_api.get("/api2/json/storage/st1")).json()["data"]["path"] == str(
        tmp_path / "a"
    )
    assert not (tmp_path / "b").exists()
    r = await root_api.post(
        "/api2/json/storage", data={"storage": "local", "type": "dir", "path": "/srv/x"}
    )
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize(
    "path",
    ["relative/dir", "./here", "/tmp/../etc", "/srv/a/../../etc", "", "/x\ny"],
    ids=["relative", "dot", "dotdot", "deep-dotdot", "empty", "newline"],
)
async def test_bad_storage_path_is_400(
    root_api: httpx.AsyncClient, tmp_path: Path, path: str
) -> None:
    r = await root_api.post(
        "/api2/json/storage", data={"storage": "bad1", "type": "dir", "path": path}
    )
    assert r.status_code == 400, r.text
    assert "path" in r.json()["errors"]
    assert "bad1" not in _ids(await root_api.get("/api2/json/storage"))


async def test_dir_storage_needs_a_path(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post("/api2/json/storage", data={"storage": "nopath", "type": "dir"})
    assert r.status_code == 400
    assert "path" in r.json()["errors"]


# --- /nodes/{node}/storage ----------------------------------------------------------


async def test_node_storage_status(root_api: httpx.AsyncClient, tmp_path: Path) -> None:
    await _create_dir(root_api, "st1", tmp_path / "st1", content="iso")
    r = await root_api.get(NS)
    items = {s["storage"]: s for s in r.json()["data"]}
    assert set(items) >= {"local", "st1"}
    for item in items.values():
        assert item["type"] == "dir"
        assert item["active"] == 1
        assert item["enabled"] == 1
        assert item["shared"] == 0
        assert item["total"] > 0
        assert 0 <= item["used"] <= item["total"]
        assert 0 <= item["avail"] <= item["total"]
        assert 0 <= item["used_fraction"] <= 1
    assert items["st1"]["content"] == "iso"
    # content filter
    r = await root_api.get(NS, params={"content": "images"})
    assert "st1" not in _ids(r)
    assert "local" in _ids(r)
    r = await root_api.get(NS, params={"storage": "st1", "format": "1"})
    (st1,) = r.json()["data"]
    assert st1["formats"]["default"] == "raw"
    assert {"raw", "qcow2"} <= set(st1["formats"]["supported"])

    r = await root_api.get(f"{NS}/st1/status")
    status = r.json()["data"]
    assert status["type"] == "dir"
    assert status["active"] == 1
    assert status["total"] > 0
    assert "storage" not in status
    r = await root_api.get(f"{NS}/nosuch/status")
    assert r.status_code == 404
    r = await root_api.get(f"{NS}/st1")
    assert [d["subdir"] for d in r.json()["data"]] == ["content", "status", "upload"]


async def test_disabled_storage_status(root_api: httpx.AsyncClient, tmp_path: Path) -> None:
    await _create_dir(root_api, "st1", tmp_path / "st1")
    await root_api.put("/api2/json/storage/st1", data={"disable": "1"})
    r = await root_api.get(NS, params={"storage": "st1"})
    (item,) = r.json()["data"]
    assert item["enabled"] == 0
    assert item["active"] == 0
    r = await root_api.get(NS, params={"enabled": "1"})
    assert "st1" not in _ids(r)


# --- volumes --------------------------------------------------------------------------


async def _alloc(
    root_api: httpx.AsyncClient, vmid: int, filename: str, size: str, fmt: str | None = None
) -> httpx.Response:
    data = {"vmid": str(vmid), "filename": filename, "size": size}
    if fmt:
        data["format"] = fmt
    return await root_api.post(f"{NS}/local/content", data=data)


@pytest.mark.parametrize(
    ("filename", "fmt", "size", "volid", "nbytes"),
    [
        ("vm-100-disk-0.raw", None, "1M", "local:100/vm-100-disk-0.raw", 1 << 20),
        ("vm-100-disk-1", "qcow2", "16M", "local:100/vm-100-disk-1.qcow2", 16 << 20),
        ("vm-100-disk-2.vmdk", None, "1M", "local:100/vm-100-disk-2.vmdk", 1 << 20),
        ("vm-100-disk-3", None, "2048", "local:100/vm-100-disk-3.raw", 2 << 20),
        ("vm-100-disk-4.qcow2", "qcow2", "1G", "local:100/vm-100-disk-4.qcow2", 1 << 30),
    ],
    ids=["raw-1M", "qcow2-16M", "vmdk-1M", "raw-kib", "qcow2-1G"],
)
async def test_alloc_volume(
    root_api: httpx.AsyncClient,
    svc: Services,
    filename: str,
    fmt: str | None,
    size: str,
    volid: str,
    nbytes: int,
) -> None:
    r = await _alloc(root_api, 100, filename, size, fmt)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == volid
    r = await root_api.get(f"{NS}/local/content/{volpath(volid)}")
    assert r.status_code == 200, r.text
    info = r.json()["data"]
    expected = svc.paths.default_storage / "images" / volid.split(":", 1)[1]
    assert info["path"] == str(expected)
    assert expected.is_file()
    assert info["size"] == nbytes
    assert info["format"] == volid.rsplit(".", 1)[1]
    # a volname without the storage prefix names the same volume
    r = await root_api.get(f"{NS}/local/content/{volpath(volid.split(':', 1)[1])}")
    assert r.json()["data"]["path"] == info["path"]


@pytest.mark.parametrize(
    ("vmid", "filename", "size", "fmt", "param"),
    [
        (100, "vm-101-disk-0.raw", "1M", None, "filename"),
        (100, "disk.raw", "1M", None, "filename"),
        (100, "../vm-100-disk-0.raw", "1M", None, "filename"),
        (100, "vm-100-disk-0.raw", "1M", "qcow2", "format"),
        (100, "vm-100-disk-0.raw", "1T", None, "size"),
        (100, "vm-100-disk-0.raw", "0", None, "size"),
        (100, "vm-100-disk-0.raw", "-1M", None, "size"),
        (99, "vm-99-disk-0.raw", "1M", None, "vmid"),
        (100, "vm-100-disk-0.raw", "1M", "iso", "format"),
    ],
    ids=[
        "wrong-vmid",
        "bad-name",
        "traversal",
        "format-mismatch",
        "bad-unit",
        "zero",
        "negative",
        "vmid-range",
        "bad-format",
    ],
)
async def test_alloc_refusals(
    root_api: httpx.AsyncClient,
    svc: Services,
    vmid: int,
    filename: str,
    size: str,
    fmt: str | None,
    param: str,
) -> None:
    r = await _alloc(root_api, vmid, filename, size, fmt)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]
    images = svc.paths.default_storage / "images"
    assert list(images.rglob("*.*")) == []


async def test_alloc_same_name_twice_fails(root_api: httpx.AsyncClient) -> None:
    assert (await _alloc(root_api, 100, "vm-100-disk-0.raw", "1M")).status_code == 200
    r = await _alloc(root_api, 100, "vm-100-disk-0.raw", "2M")
    assert r.status_code >= 400
    r = await root_api.get(f"{NS}/local/content/local:100%2Fvm-100-disk-0.raw")
    assert r.json()["data"]["size"] == 1 << 20


async def test_content_listing_filters(root_api: httpx.AsyncClient, svc: Services) -> None:
    for vmid, name in ((100, "vm-100-disk-0.raw"), (101, "vm-101-disk-0.qcow2")):
        assert (await _alloc(root_api, vmid, name, "1M")).status_code == 200
    iso = svc.paths.default_storage / "template/iso/boot.iso"
    iso.write_bytes(b"iso!")

    async def volids(**params: str) -> list[str]:
        r = await root_api.get(f"{NS}/local/content", params=params)
        assert r.status_code == 200, r.text
        return [v["volid"] for v in r.json()["data"]]

    assert await volids() == [
        "local:100/vm-100-disk-0.raw",
        "local:101/vm-101-disk-0.qcow2",
        "local:iso/boot.iso",
    ]
    assert await volids(content="images") == [
        "local:100/vm-100-disk-0.raw",
        "local:101/vm-101-disk-0.qcow2",
    ]
    assert await volids(content="iso") == ["local:iso/boot.iso"]
    assert await volids(vmid="101") == ["local:101/vm-101-disk-0.qcow2"]
    assert await volids(content="images", vmid="100") == ["local:100/vm-100-disk-0.raw"]
    assert await volids(content="backup") == []
    r = await root_api.get(f"{NS}/local/content")
    by_id = {v["volid"]: v for v in r.json()["data"]}
    disk = by_id["local:101/vm-101-disk-0.qcow2"]
    assert (disk["format"], disk["size"], disk["vmid"]) == ("qcow2", 1 << 20, 101)
    assert by_id["local:iso/boot.iso"]["format"] == "iso"
    assert by_id["local:iso/boot.iso"]["size"] == 4
    r = await root_api.get(f"{NS}/local/content", params={"content": "nonsense"})
    assert r.status_code == 400
    assert "content" in r.json()["errors"]


async def test_delete_volume_task(root_api: httpx.AsyncClient, svc: Services) -> None:
    assert (await _alloc(root_api, 100, "vm-100-disk-0.raw", "1M")).status_code == 200
    r = await root_api.delete(f"{NS}/local/content/local:100%2Fvm-100-disk-0.raw")
    upid = r.json()["data"]
    assert UPID_RE.match(upid)
    assert (await wait_task(root_api, upid))["exitstatus"] == "OK"
    assert not (svc.paths.default_storage / "images/100/vm-100-disk-0.raw").exists()
    # deleting it again fails before any task starts
    r = await root_api.delete(f"{NS}/local/content/local:100%2Fvm-100-disk-0.raw")
    assert r.status_code >= 400
    assert r.json()["data"] is None


async def test_volume_of_another_storage_is_refused(
    root_api: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _create_dir(root_api, "st1", tmp_path / "st1")
    assert (await _alloc(root_api, 100, "vm-100-disk-0.raw", "1M")).status_code == 200
    r = await root_api.get(f"{NS}/st1/content/local:100%2Fvm-100-disk-0.raw")
    assert r.status_code == 403


TRAVERSALS = [
    "local:../../etc/shadow",
    "local:/etc/passwd",
    "local:iso/../../../outside.iso",
    "local:images/100/../../../../outside",
    "local:100/../../../outside.raw",
    "local:iso/x\x00.iso",
    "local:iso/./boot.iso",
    "local:iso//boot.iso",
    "local:..",
    "local:iso\\..\\..\\outside.iso",
    "local:",
]


@pytest.mark.parametrize("volid", TRAVERSALS, ids=range(len(TRAVERSALS)))
@pytest.mark.parametrize("http", ["GET", "DELETE", "PUT"])
async def test_traversal_volume_ids_are_400(
    root_api: httpx.AsyncClient, svc: Services, tmp_path: Path, volid: str, http: str
) -> None:
    # bait outside the storage that a traversal would reach
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    (tmp_path / "outside.raw").write_text("keep me")
    (tmp_path / "var" / "outside.iso").write_text("keep me")
    before = sorted(p.name for p in svc.paths.default_storage.rglob("*"))
    url = f"{NS}/local/content/{volpath(volid).replace(chr(0), '%00')}"
    data = {"notes": "x"} if http == "PUT" else None
    r = await root_api.request(http, url, data=data)
    assert r.status_code == 400, r.text
    assert "volume" in r.json()["errors"], r.text
    assert outside.read_text() == "keep me"
    assert (tmp_path / "outside.raw").read_text() == "keep me"
    assert (tmp_path / "var" / "outside.iso").read_text() == "keep me"
    assert sorted(p.name for p in svc.paths.default_storage.rglob("*")) == before
    # no task was started
    r = await root_api.get(f"/api2/json/nodes/{NODE}/tasks", params={"source": "all"})
    assert r.json()["total"] == 0


async def test_symlink_out_of_the_storage_is_refused(
    root_api: httpx.AsyncClient, svc: Services, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.iso"
    secret.write_text("top secret")
    link = svc.paths.default_storage / "template/iso/link.iso"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    r = await root_api.delete(f"{NS}/local/content/local:iso%2Flink.iso")
    if r.status_code == 200:
        await wait_task(root_api, r.json()["data"])
    assert secret.read_text() == "top secret"
    r = await root_api.get(f"{NS}/local/content/local:iso%2Flink.iso")
    assert r.status_code == 400
    assert "volume" in r.json()["errors"]


# --- uploads ------------------------------------------------------------------------


def _leftovers(base: Path) -> list[str]:
    return sorted(
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.name.startswith(".upload-") or p.name.endswith(".staged")
    )


async def _upload(
    client: httpx.AsyncClient,
    content: str,
    filename: str,
    payload: bytes,
    *,
    storage: str = "local",
    headers: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    return await client.post(
        f"{NS}/{storage}/upload",
        data={"content": content, **extra},
        files={"filename": (filename, payload, "application/octet-stream")},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("content", "filename", "subdir", "algo"),
    [
        ("iso", "tiny.iso", "template/iso", None),
        ("iso", "tiny.img", "template/iso", "sha256"),
        ("vztmpl", "debian-12-standard.tar.zst", "template/cache", "md5"),
        ("vztmpl", "alpine.tar.gz", "template/cache", "sha512"),
    ],
)
async def test_upload_ok(
    root_api: httpx.AsyncClient,
    svc: Services,
    content: str,
    filename: str,
    subdir: str,
    algo: str | None,
) -> None:
    payload = os.urandom(100_000)
    extra = {}
    if algo:
        extra = {"checksum": hashlib.new(algo, payload).hexdigest(), "checksum-algorithm": algo}
    r = await _upload(root_api, content, filename, payload, **extra)
    assert r.status_code == 200, r.text
    upid = r.json()["data"]
    assert UPID_RE.match(upid)
    status = await wait_task(root_api, upid)
    assert status["exitstatus"] == "OK"
    target = svc.paths.default_storage / subdir / filename
    assert target.read_bytes() == payload
    assert _leftovers(svc.paths.default_storage) == []
    r = await root_api.get(f"{NS}/local/content", params={"content": content})
    assert f"local:{content}/{filename}" in [v["volid"] for v in r.json()["data"]]
    if algo:
        log = (await root_api.get(f"/api2/json/nodes/{NODE}/tasks/{upid}/log")).json()["data"]
        assert any("checksum verified" in ln["t"] for ln in log)


async def test_upload_checksum_mismatch(root_api: httpx.AsyncClient, svc: Services) -> None:
    payload = b"not what you expected" * 100
    r = await _upload(
        root_api,
        "iso",
        "wrong.iso",
        payload,
        checksum=hashlib.sha256(b"something else").hexdigest(),
        **{"checksum-algorithm": "sha256"},
    )
    assert r.status_code == 200, r.text
    status = await wait_task(root_api, r.json()["data"])
    assert status["exitstatus"].startswith("checksum mismatch")
    assert not (svc.paths.default_storage / "template/iso/wrong.iso").exists()
    assert _leftovers(svc.paths.default_storage) == []


async def test_upload_strips_client_directories(
    root_api: httpx.AsyncClient, svc: Services, tmp_path: Path
) -> None:
    # upstream keeps only the last path component of the client's file name
    r = await _upload(root_api, "iso", "../../escape.iso", b"data")
    assert r.status_code == 200, r.text
    assert (await wait_task(root_api, r.json()["data"]))["exitstatus"] == "OK"
    assert (svc.paths.default_storage / "template/iso/escape.iso").read_bytes() == b"data"
    assert not (tmp_path / "escape.iso").exists()
    assert not (svc.paths.default_storage / "escape.iso").exists()
    assert not (svc.paths.default_storage / "template/escape.iso").exists()


@pytest.mark.parametrize(
    ("content", "filename", "param"),
    [
        ("iso", "x.txt", "filename"),
        ("iso", "x.tar.gz", "filename"),
        ("vztmpl", "x.iso", "filename"),
        ("iso", ".hidden.iso", "filename"),
        ("iso", "..", "filename"),
        ("iso", "bad name.iso", "filename"),
        ("iso", "semi;colon.iso", "filename"),
        ("images", "vm-100-disk-0.raw", "content"),
        ("backup", "vzdump-qemu-100.vma", "content"),
    ],
)
async def test_upload_bad_name_or_content(
    root_api: httpx.AsyncClient, svc: Services, content: str, filename: str, param: str
) -> None:
    r = await _upload(root_api, content, filename, b"payload" * 1000)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]
    assert _leftovers(svc.paths.default_storage) == []
    assert [p for p in svc.paths.default_storage.rglob("*") if p.is_file()] == []
    r = await root_api.get(f"/api2/json/nodes/{NODE}/tasks", params={"source": "all"})
    assert r.json()["total"] == 0


async def test_upload_to_storage_without_that_content(
    root_api: httpx.AsyncClient, svc: Services, tmp_path: Path
) -> None:
    await _create_dir(root_api, "imgonly", tmp_path / "imgonly", content="images")
    r = await _upload(root_api, "iso", "x.iso", b"abc", storage="imgonly")
    assert r.status_code == 400, r.text
    assert "content" in r.json()["errors"]
    assert _leftovers(tmp_path / "imgonly") == []


async def test_upload_bad_checksum_algorithm(root_api: httpx.AsyncClient, svc: Services) -> None:
    r = await _upload(
        root_api, "iso", "x.iso", b"abc", checksum="00", **{"checksum-algorithm": "crc32"}
    )
    assert r.status_code == 400
    assert "checksum-algorithm" in r.json()["errors"]
    r = await _upload(root_api, "iso", "x.iso", b"abc", checksum="00")
    assert r.status_code == 400
    assert "checksum-algorithm" in r.json()["errors"]
    assert _leftovers(svc.paths.default_storage) == []


async def test_upload_needs_multipart(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post(f"{NS}/local/upload", data={"content": "iso", "filename": "x.iso"})
    assert r.status_code == 400


async def test_upload_malformed_multipart_is_400(
    root_api: httpx.AsyncClient, svc: Services
) -> None:
    # found by the API fuzzer: a bare CR inside a part header used to answer 500
    body = b'--xx\r\nContent-Disposition: form-data; name="content"\r\x0d\r\niso\r\n--xx--\r\n'
    r = await root_api.post(
        f"{NS}/local/upload",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert r.status_code == 400, r.text
    assert "malformed multipart body" in r.json()["message"]
    assert _leftovers(svc.paths.default_storage) == []


async def test_upload_without_csrf_is_allowed_for_tickets(
    admin: Any, svc: Services, user_session: UserFactory
) -> None:
    # upstream exempts uploads from the CSRF check (the GUI posts a plain form)
    r = await _upload(admin.client, "iso", "viaticket.iso", b"ticket upload")
    assert r.status_code == 200, r.text
    assert (await wait_task(admin.client, r.json()["data"]))["exitstatus"] == "OK"
    assert (svc.paths.default_storage / "template/iso/viaticket.iso").exists()
    # ...which does not waive the privilege check
    auditor = await user_session("aud@pve", role="PVEAuditor")
    r = await _upload(auditor.client, "iso", "denied.iso", b"x" * 50_000)
    assert r.status_code == 403, r.text
    assert not (svc.paths.default_storage / "template/iso/denied.iso").exists()
    assert _leftovers(svc.paths.default_storage) == []
    # a user holding Datastore.AllocateTemplate on the storage may upload
    tmpl = await user_session("tmpl@pve", role="PVEDatastoreAdmin", path="/storage/local")
    r = await _upload(tmpl.client, "iso", "allowed.iso", b"ok")
    assert r.status_code == 200, r.text
    assert (await wait_task(tmpl.client, r.json()["data"]))["exitstatus"] == "OK"


async def test_upload_unauthenticated_is_401(api: httpx.AsyncClient, svc: Services) -> None:
    r = await _upload(api, "iso", "anon.iso", b"x" * 10_000)
    assert r.status_code == 401
    assert _leftovers(svc.paths.default_storage) == []
    assert not (svc.paths.default_storage / "template/iso/anon.iso").exists()


# --- permissions on volumes -------------------------------------------------------------


async def test_volume_permissions(
    root_api: httpx.AsyncClient, svc: Services, user_session: UserFactory
) -> None:
    assert (await _alloc(root_api, 100, "vm-100-disk-0.raw", "1M")).status_code == 200
    url = f"/nodes/{NODE}/storage/local/content/local:100%2Fvm-100-disk-0.raw"
    nobody = await user_session("nobody@pve")
    assert (await nobody.get(url)).status_code == 403
    assert (await nobody.delete(url)).status_code == 403
    r = await nobody.get(f"/nodes/{NODE}/storage/local/content")
    assert r.status_code == 403
    # storage audit shows the storage but not a guest's disks without VM.Audit
    auditor = await user_session("aud@pve", role="PVEDatastoreUser", path="/storage/local")
    r = await auditor.get(f"/nodes/{NODE}/storage/local/content")
    assert r.status_code == 200
    assert r.json()["data"] == []
    # Datastore.AllocateSpace plus VM.Config.Disk on the guest allows deleting its disk
    r = await root_api.put(
        "/api2/json/access/acl",
        data={"path": "/vms/100", "roles": "PVEVMAdmin", "users": "aud@pve"},
    )
    assert r.status_code == 200
    r = await auditor.delete(url)
    assert r.status_code == 200, r.text
    assert (await wait_task(auditor.client, r.json()["data"]))["exitstatus"] == "OK"
    assert not (svc.paths.default_storage / "images/100/vm-100-disk-0.raw").exists()
