"""Property strings: ``key=value,key=value`` values described by an inline format.

A format is a dict of key -> sub-schema in the upstream dialect.  One key may carry
``default_key: 1`` so that its value can be given without ``key=``; a key with
``alias`` + ``keyAlias`` (``virtio=MAC`` in a ``net`` string) sets two keys at once.
Duplicate and unknown keys are errors.  Values containing ``,`` or ``"`` are written
double-quoted with backslash escapes, which the parser understands.
"""

from __future__ import annotations

from typing import Any

from pyxis.schema.scalars import check_scalar

Format = dict[str, dict[str, Any]]


def split_items(text: str) -> list[str]:
    """Split on commas outside double quotes; quotes are kept for ``_unquote``."""
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    escaped = False
    for ch in text:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            cur.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == "," and not quoted:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if quoted:
        raise ValueError("unterminated quoted value")
    items.append("".join(cur))
    return items


def _unquote(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        out: list[str] = []
        it = iter(value[1:-1])
        for ch in it:
            out.append(next(it, "") if ch == "\\" else ch)
        return "".join(out)
    if '"' in value:
        raise ValueError("unexpected quote character")
    return value


def default_key(fmt: Format) -> str | None:
    for key, sub in fmt.items():
        if sub.get("default_key"):
            return key
    return None


def parse(fmt: Format, text: str) -> dict[str, Any]:
    """Parse ``text`` against ``fmt``; raise ``ValueError`` naming the bad key."""
    result: dict[str, Any] = {}
    dkey = default_key(fmt)
    if text == "":
        items: list[str] = []
    else:
        items = split_items(text)
    for item in items:
        if item == "":
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            if dkey is None:
                raise ValueError(
                    f"value without key, but schema does not define a default key: '{item}'"
                )
            if dkey in result:
                raise ValueError(f"duplicate key in comma-separated list property: {dkey}")
            key, raw = dkey, item
        key = key.strip()
        sub = fmt.get(key)
        if sub is None:
            raise ValueError(f"invalid key in comma-separated list property: {key}")
        value = _unquote(raw)
        if "alias" in sub:
            target = sub["alias"]
            if "keyAlias" in sub:
                kalias = sub["keyAlias"]
                if kalias in result:
                    raise ValueError(f"duplicate key in comma-separated list property: {kalias}")
                result[kalias] = key
            key, sub = target, fmt[target]
        if key in result:
            raise ValueError(f"duplicate key in comma-separated list property: {key}")
        try:
            result[key] = check_scalar(sub, value, lenient_bool=True)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from err
    for key, sub in fmt.items():
        if "alias" in sub or sub.get("optional") or key in result:
            continue
        raise ValueError(f"property '{key}' is missing")
    return result


def _quote(value: str) -> str:
    if any(c in value for c in ',"=') or value != value.strip():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(fmt: Format, data: dict[str, Any]) -> str:
    """Print ``data`` as a property string: default key first, then sorted keys."""
    parts: list[str] = []
    done: set[str] = set()
    dkey = default_key(fmt)
    # keyAlias pairs: model=virtio + macaddr=X prints as "virtio=X"
    for key, sub in fmt.items():
        kalias = sub.get("keyAlias")
        if kalias and data.get(kalias) == key and sub["alias"] in data:
            parts.append(f"{key}={_quote(_text(data[sub['alias']]))}")
            done.update((kalias, sub["alias"]))
            break
    if dkey and dkey in data and dkey not in done:
        parts.append(_quote(_text(data[dkey])))
        done.add(dkey)
    for key in sorted(data):
        if key in done or data[key] is None:
            continue
        if key not in fmt:
            raise ValueError(f"invalid key in comma-separated list property: {key}")
        parts.append(f"{key}={_quote(_text(data[key]))}")
    return ",".join(parts)
