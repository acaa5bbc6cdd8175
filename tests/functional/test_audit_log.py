"""The audit log of state-changing calls and ``GET /cluster/log``."""

from __future__ import annotations

import json

import httpx
from funchelp import NODE, UserFactory, wait_task

from pyxis.access import audit
from pyxis.services import Services

API = "/api2/json"


def _records(svc: Services) -> list[dict[str, object]]:
    path = audit.log_for(svc).path
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_changes_are_logged_with_secrets_redacted(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, svc: Services
) -> None:
    r = await root_api.post(
        f"{API}/access/users", data={"userid": "aud@pve", "password": "very-secret-pw"}
    )
    assert r.status_code == 200
    r = await root_api.post(f"{API}/access/users/aud@pve/token/ci")
    token_value = r.json()["data"]["value"]
    await root_api.get(f"{API}/access/users")
    r = await api.post(
        f"{API}/access/ticket", data={"username": "aud@pve", "password": "wrong-password"}
    )
    assert r.status_code == 401
    await root_api.put(f"{API}/access/roles/PVEAdmin", data={"privs": "VM.Audit"})
    recs = _records(svc)
    assert [(r["method"], r["path"], r["status"]) for r in recs] == [
        ("POST", "/api2/json/access/users", 200),
        ("POST", "/api2/json/access/users/aud@pve/token/ci", 200),
        ("POST", "/api2/json/access/ticket", 401),
        ("PUT", "/api2/json/access/roles/PVEAdmin", 400),
    ]
    assert recs[0]["params"] == {"userid": "aud@pve", "password": "***"}
    assert recs[0]["user"] == "root@pam" and recs[0]["node"] == NODE
    assert recs[2]["user"] == "aud@pve" and recs[2]["params"]["password"] == "***"
    assert "authentication failure" in str(recs[2]["message"])
    assert "built-in" in str(recs[3]["errors"])
    raw = audit.log_for(svc).path.read_text()
    assert "very-secret-pw" not in raw and "wrong-password" not in raw
    assert token_value not in raw


def test_redaction_table() -> None:
    cases = {
        "password": "***",
        "new-password": "***",
        "confirmation-password": "***",
        "cipassword": "***",
        "value": "***",
        "otp": "***",
        "tfa-challenge": "***",
        "client-key": "***",
        "bind-secret": "***",
        "ldap_password": "***",
        "comment": "plain",
        "userid": "plain",
    }
    out = audit.redact(dict.fromkeys(cases, "plain"))
    assert out == cases


async def test_token_calls_name_the_token(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, svc: Services
) -> None:
    r = await root_api.post(f"{API}/access/users/root@pam/token/auto", data={"privsep": "0"})
    value = r.json()["data"]["value"]
    hdr = {"Authorization": f"PVEAPIToken=root@pam!auto={value}"}
    r = await api.post(f"{API}/access/groups", data={"groupid": "g1"}, headers=hdr)
    assert r.status_code == 200, r.text
    rec = _records(svc)[-1]
    assert rec["token"] == "root@pam!auto" and rec["user"] == "root@pam"
    assert rec["source"] == "127.0.0.1"


async def test_rotation(tmp_path: object) -> None:
    from pathlib import Path

    log = audit.AuditLog(Path(str(tmp_path)) / "a.log", max_bytes=300, keep=2, clock=lambda: 5.0)
    for i in range(60):
        log.append({"i": i})
    assert len(log.files()) == 3
    assert all(p.stat().st_size <= 300 for p in log.files())
    newest = log.entries(5)
    assert [e["i"] for e in newest] == [59, 58, 57, 56, 55]
    assert all(e["time"] == 5 for e in newest)


async def test_cluster_log_merges_audit_and_tasks(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    r = await root_api.post(f"{API}/nodes/{NODE}/qemu", data={"vmid": "100", "memory": "64"})
    upid = r.json()["data"]
    await wait_task(root_api, upid)
    await root_api.post(f"{API}/access/groups", data={"groupid": "x"})
    r = await root_api.get(f"{API}/cluster/log", params={"max": "10"})
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    assert len(entries) <= 10
    for e in entries:
        assert {"uid", "time", "pri", "severity", "node", "pid", "user", "tag", "msg"} <= set(e)
    msgs = [e["msg"] for e in entries]
    assert any(m.startswith("POST /api2/json/access/groups") for m in msgs)
    assert f"starting task {upid}" in msgs
    assert any(m.startswith(f"end task {upid} OK") for m in msgs)
    times = [e["time"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert len({e["uid"] for e in entries}) == len(entries)
    r = await root_api.get(f"{API}/cluster/log", params={"max": "1"})
    assert len(r.json()["data"]) == 1


async def test_cluster_log_without_sys_syslog_shows_own_entries(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await root_api.post(f"{API}/access/groups", data={"groupid": "secret-group"})
    sess = await user_session("lu@pve", "PVEAuditor", "/")
    await sess.post("/access/groups", data={"groupid": "denied"})
    entries = (await sess.get("/cluster/log")).json()["data"]
    assert entries and all(e["user"] == "lu@pve" for e in entries)
    assert not any("secret-group" in e["msg"] for e in entries)
    admin = await user_session("la@pve", "PVEAdmin", "/")
    entries = (await admin.get("/cluster/log", params={"max": "100"})).json()["data"]
    assert any("secret-group" in e["msg"] for e in entries)
