"""corosync.conf as a typed model: parse, validate, edit (add/remove nodes) and render.

The file is a tree of ``name {`` ... ``}`` sections holding ``key: value`` lines.  The
parser builds that tree (errors name the line), then :func:`parse` maps the sections
Pyxis manages (``totem``, ``nodelist``, ``quorum`` with its ``device``, ``logging``,
``system``) onto dataclasses; keys the model does not name are kept in ``extra`` so a
render keeps every option an operator set.  Validation checks what corosync and
upstream's pvecm insist on: a valid cluster name, unique node names, ids and link
addresses, and a ``config_version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyxis.errors import ParamError

CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,14}\Z")
MAX_LINKS = 8
_KEY_RE = re.compile(r"^([A-Za-z0-9_.]+)\s*:\s*(.*)\Z")
_OPEN_RE = re.compile(r"^([A-Za-z0-9_.]+)\s*\{\Z")


class ConfError(ParamError):
    """A corosync.conf that does not parse or validate (names the line when it can)."""

    def __init__(self, msg: str, line: int | None = None) -> None:
        text = f"corosync.conf line {line}: {msg}" if line else f"corosync.conf: {msg}"
        super().__init__({"corosync.conf": text})
        self.line = line
        self.detail = text

    def __str__(self) -> str:
        return self.detail


@dataclass
class Block:
    """A raw section: ordered ``key: value`` pairs and sub-sections (with line numbers)."""

    name: str
    line: int = 0
    items: list[tuple[str, str, int]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        for k, v, _ in self.items:
            if k == key:
                return v
        return None


def parse_blocks(text: str) -> Block:
    """The section tree of ``text``; :class:`ConfError` names the offending line."""
    root = Block("")
    stack = [root]
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "}":
            if len(stack) == 1:
                raise ConfError("'}' without an open section", no)
            stack.pop()
            continue
        if m := _OPEN_RE.match(line):
            blk = Block(m.group(1), no)
            stack[-1].blocks.append(blk)
            stack.append(blk)
            continue
        if m := _KEY_RE.match(line):
            key, value = m.group(1), m.group(2).strip()
            if len(stack) == 1:
                raise ConfError(f"key '{key}' outside of any section", no)
            if not value:
                raise ConfError(f"key '{key}' has no value", no)
            stack[-1].items.append((key, value, no))
            continue
        raise ConfError(f"cannot parse '{line[:60]}'", no)
    if len(stack) > 1:
        raise ConfError(f"section '{stack[-1].name}' opened here is never closed", stack[-1].line)
    return root


@dataclass
class Interface:
    """``totem.interface``: one knet link's options."""

    linknumber: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Totem:
    cluster_name: str = ""
    config_version: int = 1
    extra: dict[str, str] = field(default_factory=dict)
    interfaces: list[Interface] = field(default_factory=list)


@dataclass
class Node:
    name: str
    nodeid: int
    quorum_votes: int = 1
    rings: dict[int, str] = field(default_factory=dict)  # link number -> address
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class QDevice:
    """``quorum.device`` of model ``net`` (corosync-qnetd)."""

    host: str
    algorithm: str = "ffsplit"
    tls: str = "off"
    votes: int | None = None
    model: str = "net"
    extra: dict[str, str] = field(default_factory=dict)
    net_extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Quorum:
    provider: str = "corosync_votequorum"
    two_node: bool = False
    wait_for_all: bool | None = None
    device: QDevice | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class CorosyncConf:
    """The whole file; unmanaged top-level sections are kept verbatim in ``others``."""

    totem: Totem = field(default_factory=Totem)
    nodes: list[Node] = field(default_factory=list)
    quorum: Quorum = field(default_factory=Quorum)
    logging: dict[str, str] = field(default_factory=dict)
    system: dict[str, str] = field(default_factory=dict)
    others: list[Block] = field(default_factory=list)

    # --- queries -----------------------------------------------------------------
    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def expected_votes(self) -> int:
        return sum(n.quorum_votes for n in self.nodes)

    def next_nodeid(self) -> int:
        used = {n.nodeid for n in self.nodes}
        return next(i for i in range(1, len(used) + 2) if i not in used)

    # --- edits -------------------------------------------------------------------
    def bump(self) -> None:
        """Increase ``config_version`` (every edit does; corosync refuses older ones)."""
        self.totem.config_version += 1

    def add_node(self, node: Node) -> None:
        """Add ``node`` after checking name, id and addresses are free; bumps the version."""
        if self.node(node.name) is not None:
            raise ConfError(f"node name '{node.name}' is already in use")
        if any(n.nodeid == node.nodeid for n in self.nodes):
            raise ConfError(f"node id {node.nodeid} is already in use")
        for other in self.nodes:
            for link, addr in node.rings.items():
                if addr in other.rings.values():
                    raise ConfError(
                        f"link{link} address {addr} is already used by node '{other.name}'"
                    )
        missing = sorted(set(self.links()) - set(node.rings))
        if self.nodes and missing:
            raise ConfError(f"the cluster uses link(s) {missing}: give an address for each")
        self.nodes.append(node)
        self.bump()

    def remove_node(self, name: str) -> Node:
        """Remove the node called ``name``; bumps the version."""
        node = self.node(name)
        if node is None:
            raise ConfError(f"node '{name}' does not exist in the cluster")
        self.nodes.remove(node)
        self.bump()
        return node

    def links(self) -> list[int]:
        """Link numbers the nodes have addresses on."""
        return sorted({link for n in self.nodes for link in n.rings})

    def validate(self) -> None:
        """Raise :class:`ConfError` on anything corosync or a cluster could not live with."""
        check_cluster_name(self.totem.cluster_name)
        if self.totem.config_version < 0:
            raise ConfError("totem.config_version must not be negative")
        names: set[str] = set()
        ids: set[int] = set()
        addrs: dict[str, str] = {}
        for n in self.nodes:
            if n.name in names:
                raise ConfError(f"duplicate node name '{n.name}'")
            if n.nodeid in ids or n.nodeid < 1:
                raise ConfError(f"node '{n.name}': invalid or duplicate nodeid {n.nodeid}")
            if not n.rings:
                raise ConfError(f"node '{n.name}' has no ring0_addr/linkX address")
            for addr in n.rings.values():
                if addr in addrs:
                    raise ConfError(f"address {addr} used by '{addrs[addr]}' and '{n.name}'")
                addrs[addr] = n.name
            names.add(n.name)
            ids.add(n.nodeid)
        dev = self.quorum.device
        if dev is not None and (dev.model != "net" or dev.algorithm not in ("ffsplit", "lms")):
            raise ConfError("quorum.device: only model net with algorithm ffsplit or lms")


def check_cluster_name(name: str) -> str:
    if not CLUSTER_NAME_RE.match(name):
        raise ConfError(
            f"invalid cluster name '{name}': use letters, digits and '-', at most 15 characters"
        )
    return name


def _int(blk: Block, key: str, default: int) -> int:
    for k, v, no in blk.items:
        if k == key:
            if not re.fullmatch(r"\d+", v):
                raise ConfError(f"{blk.name}.{key} must be a number, got '{v}'", no)
            return int(v)
    return default


def _extra(blk: Block, known: set[str]) -> dict[str, str]:
    return {k: v for k, v, _ in blk.items if k not in known}


def _bool(value: str | None) -> bool | None:
    return None if value is None else value.lower() in ("1", "yes", "on", "true")


def _node(blk: Block) -> Node:
    rings: dict[int, str] = {}
    for k, v, no in blk.items:
        if m := re.fullmatch(r"ring(\d+)_addr", k):
            if int(m.group(1)) >= MAX_LINKS:
                raise ConfError(f"{k}: at most {MAX_LINKS} links (0-7)", no)
            rings[int(m.group(1))] = v
    name = blk.get("name")
    if not name:
        raise ConfError("node section without a name", blk.line)
    if blk.get("nodeid") is None:
        raise ConfError(f"node '{name}' has no nodeid", blk.line)
    return Node(
        name=name,
        nodeid=_int(blk, "nodeid", 0),
        quorum_votes=_int(blk, "quorum_votes", 1),
        rings=rings,
        extra=_extra(blk, {"name", "nodeid", "quorum_votes"} | {f"ring{i}_addr" for i in rings}),
    )


def _quorum(blk: Block) -> Quorum:
    q = Quorum(
        provider=blk.get("provider") or "corosync_votequorum",
        two_node=bool(_bool(blk.get("two_node"))),
        wait_for_all=_bool(blk.get("wait_for_all")),
        extra=_extra(blk, {"provider", "two_node", "wait_for_all"}),
    )
    for dev in blk.blocks:
        if dev.name != "device":
            raise ConfError(f"unknown section quorum.{dev.name}", dev.line)
        net = next((b for b in dev.blocks if b.name == "net"), Block("net"))
        host = net.get("host")
        if not host:
            raise ConfError("quorum.device.net needs a host", dev.line)
        votes = dev.get("votes")
        q.device = QDevice(
            host=host,
            algorithm=net.get("algorithm") or "ffsplit",
            tls=net.get("tls") or "on",
            votes=_int(dev, "votes", 1) if votes is not None else None,
            model=dev.get("model") or "net",
            extra=_extra(dev, {"model", "votes"}),
            net_extra=_extra(net, {"host", "algorithm", "tls"}),
        )
    return q


def parse(text: str) -> CorosyncConf:
    """Parse and validate ``text``."""
    root = parse_blocks(text)
    conf = CorosyncConf()
    seen: set[str] = set()
    for blk in root.blocks:
        if blk.name in seen and blk.name in ("totem", "nodelist", "quorum", "logging", "system"):
            raise ConfError(f"section '{blk.name}' appears twice", blk.line)
        seen.add(blk.name)
        if blk.name == "totem":
            conf.totem = Totem(
                cluster_name=blk.get("cluster_name") or "",
                config_version=_int(blk, "config_version", 0),
                extra=_extra(blk, {"cluster_name", "config_version"}),
                interfaces=[
                    Interface(_int(i, "linknumber", 0), _extra(i, {"linknumber"}))
                    for i in blk.blocks
                    if i.name == "interface"
                ],
            )
        elif blk.name == "nodelist":
            conf.nodes = [_node(n) for n in blk.blocks if n.name == "node"]
        elif blk.name == "quorum":
            conf.quorum = _quorum(blk)
        elif blk.name == "logging":
            conf.logging = _extra(blk, set())
        elif blk.name == "system":
            conf.system = _extra(blk, set())
        else:
            conf.others.append(blk)
    if "totem" not in seen:
        raise ConfError("no totem section")
    conf.validate()
    return conf


_UNSAFE = frozenset("{}#\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _kv(out: list[str], depth: int, items: dict[str, str]) -> None:
    """``key: value`` lines; a key or value that could end the line or open/close a
    section (so smuggle settings into the file) is refused, whatever validated it."""
    for k, v in items.items():
        bad = next((c for c in f"{k}{v}" if c in _UNSAFE or (ord(c) < 0x20 and c != "\t")), None)
        if bad is not None:
            raise ConfError(f"invalid character {bad!r} in '{k}'")
        out.append(f"{'  ' * depth}{k}: {v}")


def _raw(out: list[str], depth: int, blk: Block) -> None:
    out.append(f"{'  ' * depth}{blk.name} {{")
    _kv(out, depth + 1, {k: v for k, v, _ in blk.items})
    for sub in blk.blocks:
        _raw(out, depth + 1, sub)
    out.append(f"{'  ' * depth}}}")


def render(conf: CorosyncConf) -> str:
    """The file text, in the section and key order upstream's pvecm writes."""
    out: list[str] = []
    if conf.logging:
        out.append("logging {")
        _kv(out, 1, conf.logging)
        out += ["}", ""]
    out.append("nodelist {")
    for n in sorted(conf.nodes, key=lambda x: x.name):
        out.append("  node {")
        _kv(out, 2, {"name": n.name, "nodeid": str(n.nodeid), "quorum_votes": str(n.quorum_votes)})
        _kv(out, 2, {f"ring{i}_addr": a for i, a in sorted(n.rings.items())})
        _kv(out, 2, n.extra)
        out.append("  }")
    out += ["}", "", "quorum {"]
    q = conf.quorum
    _kv(out, 1, {"provider": q.provider})
    if q.two_node:
        _kv(out, 1, {"two_node": "1"})
    if q.wait_for_all is not None:
        _kv(out, 1, {"wait_for_all": "1" if q.wait_for_all else "0"})
    _kv(out, 1, q.extra)
    if q.device is not None:
        d = q.device
        out.append("  device {")
        _kv(out, 2, {"model": d.model, **({"votes": str(d.votes)} if d.votes else {})})
        _kv(out, 2, d.extra)
        out.append("    net {")
        _kv(out, 3, {"algorithm": d.algorithm, "host": d.host, "tls": d.tls, **d.net_extra})
        out += ["    }", "  }"]
    out += ["}", "", "totem {"]
    t = conf.totem
    _kv(out, 1, {"cluster_name": t.cluster_name, "config_version": str(t.config_version)})
    for iface in sorted(t.interfaces, key=lambda i: i.linknumber):
        out.append("  interface {")
        _kv(out, 2, {"linknumber": str(iface.linknumber), **iface.extra})
        out.append("  }")
    _kv(out, 1, t.extra)
    out += ["}"]
    if conf.system:
        out += ["", "system {"]
        _kv(out, 1, conf.system)
        out += ["}"]
    for blk in conf.others:
        out.append("")
        _raw(out, 0, blk)
    return "\n".join(out) + "\n"


def new_cluster(
    name: str,
    node: str,
    links: dict[int, tuple[str, int | None]],
    *,
    nodeid: int = 1,
    votes: int = 1,
) -> CorosyncConf:
    """The corosync.conf of a fresh one-node cluster (knet, authkey crypto, as pvecm)."""
    check_cluster_name(name)
    if not links:
        raise ConfError("at least one link address is needed")
    conf = CorosyncConf(
        totem=Totem(
            cluster_name=name,
            config_version=1,
            extra={
                "ip_version": "ipv4-6",
                "link_mode": "passive",
                "secauth": "on",
                "version": "2",
            },
            interfaces=[
                Interface(n, {"knet_link_priority": str(p)} if p is not None else {})
                for n, (_, p) in sorted(links.items())
            ],
        ),
        nodes=[Node(node, nodeid, votes, {n: addr for n, (addr, _) in sorted(links.items())})],
        logging={"debug": "off", "to_syslog": "yes"},
    )
    conf.validate()
    return conf
