"""A throw-away OpenLDAP server (Debian ``slapd``) for realm tests.

``Slapd.start`` writes a cn=config tree with ``slapadd -n0`` (mdb backend, suffix
``dc=pyxis,dc=test``, root DN ``cn=admin,dc=pyxis,dc=test``), loads the given data
LDIF with ``slapadd -n1`` and runs ``slapd`` in the foreground on
``ldap://127.0.0.1:<free port>``; ``stop`` terminates it.  Nothing outside the work
directory is touched, and Debian's own slapd instance (never started here: no systemd)
is not involved.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

SUFFIX = "dc=pyxis,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "admin-secret"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


def available() -> bool:
    return Path(SLAPD).exists() and Path(SLAPADD).exists() and Path("/etc/ldap/schema").is_dir()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config_ldif(workdir: Path, dbdir: Path) -> str:
    includes = "".join(f"include: file:///etc/ldap/schema/{s}.ldif\n\n" for s in SCHEMAS)
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {workdir}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {dbdir}
olcSuffix: {SUFFIX}
olcRootDN: {ROOT_DN}
olcRootPW: {ROOT_PW}
olcDbMaxSize: 67108864
olcAccess: {{0}}to attrs=userPassword by anonymous auth by self read by * none
olcAccess: {{1}}to * by users read by * none
"""


class Slapd:
    """One slapd process serving ``data_ldif`` under ``SUFFIX``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def _run(self, *argv: str, stdin: str | None = None) -> None:
        res = subprocess.run(argv, input=stdin.encode() if stdin else None, capture_output=True)
        if res.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {res.stderr.decode(errors='replace')}")

    def start(self, data_ldif: str) -> None:
        confdir, dbdir = self.workdir / "slapd.d", self.workdir / "db"
        for d in (confdir, dbdir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        (self.workdir / "config.ldif").write_text(_config_ldif(self.workdir, dbdir))
        (self.workdir / "data.ldif").write_text(data_ldif)
        self._run(SLAPADD, "-n0", "-F", str(confdir), "-l", str(self.workdir / "config.ldif"))
        self._run(SLAPADD, "-n1", "-F", str(confdir), "-l", str(self.workdir / "data.ldif"))
        self.port = free_port()
        with (self.workdir / "slapd.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [SLAPD, "-d", "0", "-F", str(confdir), "-h", self.url + "/"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited: " + (self.workdir / "slapd.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change set (``ldapmodify``) as the root DN."""
        self._run("ldapmodify", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW, stdin=ldif)
