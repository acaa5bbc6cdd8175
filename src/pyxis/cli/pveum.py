"""``pveum``: users, tokens, groups, roles, ACLs, pools and realms with upstream's subcommands."""

from __future__ import annotations

import sys
from typing import Any

from pyxis.cli.common import Cmd, print_result, run_table


def _token_secret(data: Any, fmt: str) -> None:
    if fmt == "text" and isinstance(data, dict):
        print(f"full-tokenid: {data.get('full-tokenid')}")
        print(f"value: {data.get('value')}")
        print("The secret is shown only once; store it now.")
    else:
        print_result(data, fmt)


TABLE: dict[str, Cmd] = {
    "user add": Cmd("POST", "/access/users", ["userid"]),
    "user modify": Cmd("PUT", "/access/users/{userid}", ["userid"]),
    "user delete": Cmd("DELETE", "/access/users/{userid}", ["userid"]),
    "user list": Cmd(
        "GET",
        "/access/users",
        [],
        columns=["userid", "enable", "expire", "firstname", "lastname", "email", "comment"],
    ),
    "user token add": Cmd(
        "POST",
        "/access/users/{userid}/token/{tokenid}",
        ["userid", "tokenid"],
        output=_token_secret,
    ),
    "user token list": Cmd("GET", "/access/users/{userid}/token", ["userid"]),
    "user token modify": Cmd(
        "PUT", "/access/users/{userid}/token/{tokenid}", ["userid", "tokenid"]
    ),
    "user token remove": Cmd(
        "DELETE", "/access/users/{userid}/token/{tokenid}", ["userid", "tokenid"]
    ),
    "passwd": Cmd("PUT", "/access/password", ["userid"], stdin_password="password"),  # noqa: S106
    "acl modify": Cmd("PUT", "/access/acl", ["path"]),
    "acl delete": Cmd("PUT", "/access/acl", ["path"], fixed={"delete": 1}),
    "acl list": Cmd(
        "GET", "/access/acl", [], columns=["path", "type", "ugid", "roleid", "propagate"]
    ),
    "role list": Cmd("GET", "/access/roles", [], columns=["roleid", "privs", "special"]),
    "role add": Cmd("POST", "/access/roles", ["roleid"]),
    "role modify": Cmd("PUT", "/access/roles/{roleid}", ["roleid"]),
    "role delete": Cmd("DELETE", "/access/roles/{roleid}", ["roleid"]),
    "group add": Cmd("POST", "/access/groups", ["groupid"]),
    "group modify": Cmd("PUT", "/access/groups/{groupid}", ["groupid"]),
    "group delete": Cmd("DELETE", "/access/groups/{groupid}", ["groupid"]),
    "group list": Cmd("GET", "/access/groups", [], columns=["groupid", "users", "comment"]),
    "pool add": Cmd("POST", "/pools", ["poolid"]),
    "pool modify": Cmd("PUT", "/pools", ["poolid"]),
    "pool delete": Cmd("DELETE", "/pools", ["poolid"]),
    "pool list": Cmd("GET", "/pools", [], columns=["poolid", "comment"]),
    "realm add": Cmd("POST", "/access/domains", ["realm"]),
    "realm modify": Cmd("PUT", "/access/domains/{realm}", ["realm"]),
    "realm delete": Cmd("DELETE", "/access/domains/{realm}", ["realm"]),
    "realm list": Cmd("GET", "/access/domains", [], columns=["realm", "type", "comment"]),
    "user permissions": Cmd("GET", "/access/permissions", ["userid"]),
}
# upstream accepts "useradd"-style aliases from older releases
TABLE.update(
    {
        "useradd": TABLE["user add"],
        "userdel": TABLE["user delete"],
        "usermod": TABLE["user modify"],
        "aclmod": TABLE["acl modify"],
        "acldel": TABLE["acl delete"],
        "groupadd": TABLE["group add"],
        "groupdel": TABLE["group delete"],
        "groupmod": TABLE["group modify"],
        "roleadd": TABLE["role add"],
        "roledel": TABLE["role delete"],
        "rolemod": TABLE["role modify"],
    }
)


def main(argv: list[str] | None = None) -> int:
    return run_table("pveum", TABLE, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
