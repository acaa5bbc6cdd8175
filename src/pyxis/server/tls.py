"""The node's self-signed TLS certificate, made on first start.

Stored in the config store as upstream (``nodes/<node>/pve-ssl.pem`` and ``.key``) and
written to the run directory for uvicorn, which loads certificates from files.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_self_signed(node: str, addresses: list[str]) -> tuple[bytes, bytes]:
    """Return (cert_pem, key_pem) for ``node``, valid for 10 years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pyxis"),
            x509.NameAttribute(NameOID.COMMON_NAME, node),
        ]
    )
    alt: list[x509.GeneralName] = [x509.DNSName(node), x509.DNSName("localhost")]
    fqdn = socket.getfqdn()
    if fqdn and fqdn != node:
        alt.append(x509.DNSName(fqdn))
    for addr in {"127.0.0.1", *addresses}:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(addr)))
        except ValueError:
            continue
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@lru_cache(maxsize=16)
def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint as ``AA:BB:...`` (what ``pvecm add --fingerprint`` expects).

    Cached by certificate: /cluster/resources reports it on every request."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
