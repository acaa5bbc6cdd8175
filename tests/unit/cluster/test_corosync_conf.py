"""corosync.conf model: parse/render round trips, edits, validation and syntax errors."""

from __future__ import annotations

import pytest

from pyxis.cluster import corosync_conf as cc

UPSTREAM_LIKE = """\
logging {
  debug: off
  to_syslog: yes
}

nodelist {
  node {
    name: pve1
    nodeid: 1
    quorum_votes: 1
    ring0_addr: 10.0.0.1
    ring1_addr: 10.1.0.1
  }
  node {
    name: pve2
    nodeid: 2
    quorum_votes: 1
    ring0_addr: 10.0.0.2
    ring1_addr: 10.1.0.2
  }
}

quorum {
  provider: corosync_votequorum
  device {
    model: net
    votes: 1
    net {
      algorithm: ffsplit
      host: 10.0.0.9
      tls: off
    }
  }
}

totem {
  cluster_name: lab-1
  config_version: 7
  interface {
    linknumber: 0
  }
  interface {
    linknumber: 1
    knet_link_priority: 10
  }
  ip_version: ipv4-6
  link_mode: passive
  secauth: on
  version: 2
}
"""


def test_parse_upstream_like() -> None:
    conf = cc.parse(UPSTREAM_LIKE)
    assert conf.totem.cluster_name == "lab-1"
    assert conf.totem.config_version == 7
    assert [i.linknumber for i in conf.totem.interfaces] == [0, 1]
    assert conf.totem.interfaces[1].extra == {"knet_link_priority": "10"}
    assert [(n.name, n.nodeid, n.rings) for n in conf.nodes] == [
        ("pve1", 1, {0: "10.0.0.1", 1: "10.1.0.1"}),
        ("pve2", 2, {0: "10.0.0.2", 1: "10.1.0.2"}),
    ]
    dev = conf.quorum.device
    assert dev is not None and (dev.host, dev.algorithm, dev.tls, dev.votes) == (
        "10.0.0.9",
        "ffsplit",
        "off",
        1,
    )
    assert conf.expected_votes() == 2
    assert conf.links() == [0, 1]


def test_render_round_trip_is_stable() -> None:
    text = cc.render(cc.parse(UPSTREAM_LIKE))
    assert text == UPSTREAM_LIKE
    assert cc.render(cc.parse(text)) == text


def test_unknown_sections_and_keys_survive() -> None:
    text = UPSTREAM_LIKE + "\nresources {\n  watchdog_device: off\n}\n"
    text = text.replace("  secauth: on\n", "  secauth: on\n  token: 3000\n")
    again = cc.parse(cc.render(cc.parse(text)))
    assert again.totem.extra["token"] == "3000"
    assert again.others[0].name == "resources"


def test_new_cluster_add_remove_node() -> None:
    conf = cc.new_cluster("c1", "n1", {0: ("192.0.2.1", None), 1: ("198.51.100.1", 5)})
    assert conf.totem.config_version == 1
    conf.add_node(cc.Node("n2", conf.next_nodeid(), 1, {0: "192.0.2.2", 1: "198.51.100.2"}))
    assert conf.totem.config_version == 2
    assert [n.nodeid for n in conf.nodes] == [1, 2]
    conf.remove_node("n1")
    assert conf.totem.config_version == 3
    assert conf.next_nodeid() == 1
    parsed = cc.parse(cc.render(conf))
    assert parsed.totem.interfaces[1].extra == {"knet_link_priority": "5"}


@pytest.mark.parametrize(
    ("description", "node", "needle"),
    [
        ("name in use", cc.Node("n1", 5, 1, {0: "192.0.2.5"}), "name 'n1' is already in use"),
        ("id in use", cc.Node("n5", 1, 1, {0: "192.0.2.5"}), "node id 1 is already in use"),
        ("address in use", cc.Node("n5", 5, 1, {0: "192.0.2.1"}), "192.0.2.1 is already used"),
        ("missing link", cc.Node("n5", 5, 1, {1: "192.0.2.5"}), "give an address for each"),
    ],
)
def test_add_node_refusals(description: str, node: cc.Node, needle: str) -> None:
    conf = cc.new_cluster("c1", "n1", {0: ("192.0.2.1", None)})
    with pytest.raises(cc.ConfError, match=needle):
        conf.add_node(node)
    assert len(conf.nodes) == 1 and conf.totem.config_version == 1, description


def test_remove_unknown_node() -> None:
    conf = cc.new_cluster("c1", "n1", {0: ("192.0.2.1", None)})
    with pytest.raises(cc.ConfError, match="does not exist"):
        conf.remove_node("nope")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("lab", True),
        ("a-b-3", True),
        ("x" * 15, True),
        ("x" * 16, False),
        ("bad_name", False),
        ("-lead", False),
        ("sp ace", False),
        ("", False),
        ("dot.ted", False),
    ],
)
def test_cluster_names(name: str, ok: bool) -> None:
    if ok:
        assert cc.check_cluster_name(name) == name
    else:
        with pytest.raises(cc.ConfError, match="invalid cluster name"):
            cc.check_cluster_name(name)


@pytest.mark.parametrize(
    ("description", "text", "line", "needle"),
    [
        ("unclosed", "totem {\n  cluster_name: a\n", 1, "never closed"),
        ("stray brace", "totem {\n}\n}\n", 3, "without an open section"),
        ("garbage", "totem {\n  cluster_name a\n}\n", 2, "cannot parse"),
        ("top-level key", "cluster_name: a\n", 1, "outside of any section"),
        ("empty value", "totem {\n  cluster_name:\n}\n", 2, "has no value"),
        ("bad number", "totem {\n  cluster_name: a\n  config_version: x\n}\n", 3, "number"),
        ("twice", "totem {\n cluster_name: a\n}\ntotem {\n}\n", 4, "appears twice"),
        (
            "node no id",
            "totem {\n cluster_name: a\n}\nnodelist {\n node {\n  name: n\n"
            "  ring0_addr: 1.2.3.4\n }\n}\n",
            5,
            "no nodeid",
        ),
        (
            "ring8",
            "totem {\n cluster_name: a\n}\nnodelist {\n node {\n  name: n\n  nodeid: 1\n"
            "  ring8_addr: 1.2.3.4\n }\n}\n",
            8,
            "at most 8 links",
        ),
    ],
)
def test_syntax_errors_name_the_line(description: str, text: str, line: int, needle: str) -> None:
    with pytest.raises(cc.ConfError) as info:
        cc.parse(text)
    assert info.value.line == line, description
    assert needle in str(info.value)
    assert f"line {line}" in str(info.value)


@pytest.mark.parametrize(
    ("description", "edit", "needle"),
    [
        ("no totem", lambda t: t.replace("totem {", "tutem {"), "no totem section"),
        ("bad name", lambda t: t.replace("lab-1", "lab_1"), "invalid cluster name"),
        ("dup name", lambda t: t.replace("name: pve2", "name: pve1"), "duplicate node name"),
        ("dup id", lambda t: t.replace("nodeid: 2", "nodeid: 1"), "duplicate nodeid"),
        ("dup addr", lambda t: t.replace("10.0.0.2", "10.0.0.1"), "used by"),
        ("bad algorithm", lambda t: t.replace("ffsplit", "coinflip"), "ffsplit or lms"),
    ],
)
def test_validation_errors(description: str, edit: object, needle: str) -> None:
    assert callable(edit)
    with pytest.raises(cc.ConfError, match=needle):
        cc.parse(edit(UPSTREAM_LIKE))


def test_conf_error_is_a_400_naming_the_file() -> None:
    err = cc.ConfError("boom", 3)
    assert err.status == 400
    assert err.errors == {"corosync.conf": "corosync.conf line 3: boom"}


@pytest.mark.parametrize(
    "evil",
    [
        "10.0.0.9\n    }\n  }\n}\nuidgid {\n  uid: 1000\n}",
        "10.0.0.9 }",
        "10.0.0.9 {",
        "host\r",
        "host\u2028x",
        "# comment",
    ],
)
def test_render_refuses_values_that_would_add_structure(evil: str) -> None:
    conf = cc.parse(UPSTREAM_LIKE)
    conf.nodes[0].rings[0] = evil
    with pytest.raises(cc.ConfError, match="invalid character"):
        cc.render(conf)


@pytest.mark.parametrize("value", ["10.0.0.9\n", "node1\n", "qnetd.example.com\n"])
def test_address_and_node_formats_refuse_a_trailing_newline(value: str) -> None:
    from pyxis.schema.formats import lookup

    for fmt in ("address", "pve-node"):
        check = lookup(fmt)
        assert check is not None
        with pytest.raises(ValueError):
            check(value)
