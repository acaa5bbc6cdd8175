"""``pveum``: users, tokens, ACLs and roles with upstream's subcommands."""

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
}
# upstream accepts "useradd"-style aliases from older releases
TABLE.update(
    {
        "useradd": TABLE["user add"],
        "userdel": TABLE["user delete"],
        "usermod": TABLE["user modify"],
        "aclmod": TABLE["acl modify"],
        "acldel": TABLE["acl delete"],
    }
)


def main(argv: list[str] | None = None) -> int:
    return run_table("pveum", TABLE, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
