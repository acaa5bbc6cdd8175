"""The cluster CA and the node certificates it signs.

As upstream: the CA certificate is ``pve-root-ca.pem`` in the store (every node trusts
it), its key ``priv/pve-root-ca.key``; each node's HTTPS certificate is
``nodes/<node>/pve-ssl.pem`` + ``.key``, signed by the CA, with the node name, its
addresses and ``localhost`` as subject alternative names.  The CA is made at bootstrap
when missing; a node whose certificate is self-signed, or signed by another CA (it
joined a cluster), or lacks one of its addresses gets a new one.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from pyxis.store.base import ConfigStore

CA_CERT = "pve-root-ca.pem"
CA_KEY = "priv/pve-root-ca.key"
CA_DAYS = 3650
NODE_DAYS = 2 * 365


def node_paths(node: str) -> tuple[str, str]:
    return f"nodes/{node}/pve-ssl.pem", f"nodes/{node}/pve-ssl.key"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def make_ca(cluster_hint: str = "") -> tuple[bytes, bytes]:
    """A new CA (cert_pem, key_pem) valid for 10 years."""
    key = _key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pyxis Cluster Manager CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pyxis Cluster CA {cluster_hint}".strip()),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _alt_names(node: str, addresses: list[str]) -> list[x509.GeneralName]:
    alt: list[x509.GeneralName] = [x509.DNSName(node), x509.DNSName("localhost")]
    fqdn = socket.getfqdn()
    if fqdn and fqdn not in (node, "localhost") and "." in fqdn:
        alt.append(x509.DNSName(fqdn))
    for addr in dict.fromkeys(["127.0.0.1", "::1", *addresses]):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(addr)))
        except ValueError:
            alt.append(x509.DNSName(addr))
    return alt


def issue_node_cert(
    ca_cert_pem: bytes, ca_key_pem: bytes, node: str, addresses: list[str]
) -> tuple[bytes, bytes]:
    """A node certificate (cert_pem, key_pem) signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pyxis Cluster Node"),
            x509.NameAttribute(NameOID.COMMON_NAME, node),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=NODE_DAYS))
        .add_extension(x509.SubjectAlternativeName(_alt_names(node, addresses)), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def needs_new_cert(cert_pem: bytes | None, ca_cert_pem: bytes, addresses: list[str]) -> bool:
    """Whether the node certificate is missing, not signed by this CA, or lacks an address."""
    if not cert_pem:
        return True
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_cert_pem)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    have |= set(san.get_values_for_type(x509.DNSName))
    return any(str(_norm(a)) not in have for a in addresses)


def _norm(addr: str) -> str:
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


async def ensure_ca(store: ConfigStore, writer: str) -> bytes:
    """The CA certificate, made now when the store has none."""
    cert, key = store.read(CA_CERT), store.read(CA_KEY)
    if cert is None or key is None:
        cert, key = make_ca()
        await store.write(CA_KEY, key, writer=writer)
        await store.write(CA_CERT, cert, writer=writer)
    return cert


async def ensure_node_cert(
    store: ConfigStore, node: str, addresses: list[str], *, force: bool = False
) -> bool:
    """Make the node certificate when needed (or ``force``); return whether it changed."""
    ca_cert = await ensure_ca(store, node)
    ca_key = store.read(CA_KEY)
    assert ca_key is not None
    cert_path, key_path = node_paths(node)
    if not force and not needs_new_cert(store.read(cert_path), ca_cert, addresses):
        return False
    cert, key = issue_node_cert(ca_cert, ca_key, node, addresses)
    await store.write(key_path, key, writer=node)
    await store.write(cert_path, cert, writer=node)
    return True
