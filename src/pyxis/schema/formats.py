"""Named string formats (``pve-node``, ``pve-vmid``, ``pve-storage-id`` ...).

Each format is a function that receives the raw string and returns the normalised
value or raises ``ValueError`` with a message that ends up in the 400 response.  A
format name ending in ``-list`` validates a list of the base format separated by
commas, semicolons, whitespace or NUL, as upstream does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

FormatFn = Callable[[str], str]

_FORMATS: dict[str, FormatFn] = {}

CONFIGID_RE = re.compile(r"^[a-z][a-z0-9_-]+\Z", re.IGNORECASE)
NODE_RE = re.compile(r"^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?\Z")
STORAGE_ID_RE = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]\Z", re.IGNORECASE)
REALM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+\Z")
USER_RE = re.compile(r"^[^\s:/]+\Z")
TOKEN_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+\Z")
ROLE_RE = re.compile(r"^[A-Za-z0-9.\-_]+\Z")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z")
DNS_NAME_RE = re.compile(
    r"^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?\.)*"
    r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$"
)
PRIV_RE = re.compile(r"^[A-Z][A-Za-z]*\.[A-Za-z.]+\Z")
LIST_SPLIT_RE = re.compile(r"[,;\s\0]+")
CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none")


def register(name: str) -> Callable[[FormatFn], FormatFn]:
    def deco(fn: FormatFn) -> FormatFn:
        _FORMATS[name] = fn
        return fn

    return deco


def lookup(name: str) -> FormatFn | None:
    """Return the validator for ``name`` (handles ``-list`` variants), or None if unknown."""
    fn = _FORMATS.get(name)
    if fn is not None:
        return fn
    if name.endswith("-list"):
        base = _FORMATS.get(name[: -len("-list")])
        if base is not None:
            return _list_of(base)
    return None


def known() -> list[str]:
    return sorted(_FORMATS)


def _list_of(base: FormatFn) -> FormatFn:
    def check(value: str) -> str:
        items = [x for x in LIST_SPLIT_RE.split(value) if x]
        return ",".join(base(x) for x in items)

    return check


def _matching(regex: re.Pattern[str], what: str) -> FormatFn:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"value does not look like a valid {what}")
        return value

    return check


register("pve-configid")(_matching(CONFIGID_RE, "configuration key"))
register("pve-node")(_matching(NODE_RE, "node name"))
register("pve-storage-id")(_matching(STORAGE_ID_RE, "storage ID"))
register("pve-realm")(_matching(REALM_RE, "realm name"))
register("pve-roleid")(_matching(ROLE_RE, "role ID"))
register("pve-groupid")(_matching(ROLE_RE, "group ID"))
register("pve-poolid")(_matching(re.compile(r"^[A-Za-z0-9.\-_/]+\Z"), "pool ID"))
register("mac-addr")(_matching(MAC_RE, "MAC address"))
register("dns-name")(_matching(DNS_NAME_RE, "DNS name"))
register("pve-priv")(_matching(PRIV_RE, "privilege name"))


@register("pve-userid")
def userid(value: str) -> str:
    """``user@realm``; the user part may not contain whitespace, ':' or '/'."""
    if len(value) > 64 or "@" not in value:
        raise ValueError("value does not look like a valid user name")
    user, _, realm = value.rpartition("@")
    if not user or not USER_RE.fullmatch(user) or not REALM_RE.fullmatch(realm):
        raise ValueError("value does not look like a valid user name")
    return value


@register("pve-tokenid-full")
def full_tokenid(value: str) -> str:
    user, sep, token = value.partition("!")
    if not sep or not TOKEN_NAME_RE.fullmatch(token):
        raise ValueError("value does not look like a valid token ID")
    userid(user)
    return value


# upstream's pve-tokenid (ACL ``tokens`` lists) is the full ``user@realm!name``
register("pve-tokenid")(full_tokenid)


@register("pve-vmid")
def vmid(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{2,8}", value):
        raise ValueError("value does not look like a valid VM ID")
    return value


@register("pve-storage-content")
def storage_content(value: str) -> str:
    if value not in CONTENT_TYPES:
        raise ValueError(f"invalid content type '{value}'")
    return value


@register("pve-storage-path")
def storage_path(value: str) -> str:
    if not value.startswith("/") or "\0" in value or "\n" in value:
        raise ValueError("value does not look like a valid absolute path")
    if any(part == ".." for part in value.split("/")):
        raise ValueError("path may not contain '..' components")
    return value


@register("pve-volume-id")
def volume_id(value: str) -> str:
    # Full checks (traversal etc.) live in pyxis.storage.volid; here only the shape.
    if not re.fullmatch(r"[a-z][a-z0-9\-_.]*[a-z0-9]:.+", value, re.IGNORECASE):
        raise ValueError(f"unable to parse volume ID '{value}'")
    return value


@register("ip")
def ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IP address") from err
    return value


@register("ipv4")
def ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IPv4 address") from err
    return value


@register("ipv6")
def ipv6(value: str) -> str:
    try:
        ipaddress.IPv6Address(value)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IPv6 address") from err
    return value


@register("CIDR")
def cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid CIDR") from err
    return value


@register("address")
def address(value: str) -> str:
    try:
        return ip(value)
    except ValueError:
        return _matching(DNS_NAME_RE, "address")(value)


@register("email-opt")
def email(value: str) -> str:
    if value and not re.fullmatch(r"[^\s@]+@[^\s@]+", value):
        raise ValueError("value does not look like a valid email address")
    return value


@register("pve-tag")
def tag(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9_][a-z0-9_\-+.]*", value, re.IGNORECASE):
        raise ValueError(f"invalid tag '{value}'")
    return value


@register("pve-task-status-type")
def task_status_type(value: str) -> str:
    if value not in ("ok", "warning", "error", "unknown"):
        raise ValueError(f"invalid task status type '{value}'")
    return value


@register("urlencoded")
def urlencoded(value: str) -> str:
    return value


@register("disk-size")
def disk_size(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?[KMGT]?", value):
        raise ValueError("value does not look like a valid disk size")
    return value


@register("pve-startup-order")
def startup_order(value: str) -> str:
    if not re.fullmatch(r"(order=\d+|up=\d+|down=\d+)(,(order=\d+|up=\d+|down=\d+))*|\d+", value):
        raise ValueError("invalid startup order")
    return value


register("mac-prefix")(
    _matching(re.compile(r"^[0-9a-fA-F][02468aAcCeE](:[0-9a-fA-F]{2}){0,2}:?\Z"), "MAC prefix")
)


ABS_PATH_RE = re.compile(r"^/[^\0\n]*\Z")
BRIDGE_RE = re.compile(r"^[-_.\w]+\Z", re.ASCII)
HOTPLUG_FEATURES = ("network", "disk", "cpu", "memory", "usb", "cloudinit")


@register("pve-volume-id-or-absolute-path")
def volume_id_or_absolute_path(value: str) -> str:
    if ABS_PATH_RE.fullmatch(value):
        return value
    return volume_id(value)


@register("pve-volume-id-or-qm-path")
def volume_id_or_qm_path(value: str) -> str:
    """A guest drive's ``file``: volume ID, absolute path, ``none``, ``cdrom``, or an
    allocation request ``[STORAGE:]SIZE_GiB``."""
    if value in ("none", "cdrom") or re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    return volume_id_or_absolute_path(value)


register("pve-bridge-id")(_matching(BRIDGE_RE, "bridge name"))


@register("pve-tag-list")
def tag_list(value: str) -> str:
    # Kept as given: guest configs store tags ';'-separated, which a normalising
    # list check would rewrite.
    for item in LIST_SPLIT_RE.split(value):
        if item:
            tag(item)
    return value


@register("pve-hotplug-features")
def hotplug_features(value: str) -> str:
    if value in ("0", "1"):
        return value
    for item in re.split(r"\s*,\s*", value.strip()):
        if item not in HOTPLUG_FEATURES:
            raise ValueError(f"invalid hotplug feature '{item}'")
    return value


@register("pve-ipv4-config")
def ipv4_config(value: str) -> str:
    if value == "dhcp":
        return value
    try:
        ipaddress.IPv4Interface(value)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IPv4 configuration") from err
    if "/" not in value:
        raise ValueError(f"value '{value}' is not a valid IPv4 configuration")
    return value


@register("pve-ipv6-config")
def ipv6_config(value: str) -> str:
    if value in ("dhcp", "auto"):
        return value
    try:
        ipaddress.IPv6Interface(value)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IPv6 configuration") from err
    if "/" not in value:
        raise ValueError(f"value '{value}' is not a valid IPv6 configuration")
    return value
