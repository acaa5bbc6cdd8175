"""schemathesis hooks for ``fuzz_api.py``: keep generated requests off the fuzzing session.

schemathesis reuses values it saw in responses, so it soon sends the fuzz user's own
id back (``PUT /access/users/fuzz@pve enable=0``, ``DELETE`` of that user, ACL changes
that strip its ``Administrator`` role) or deletes the ``local`` storage.  Either ends
meaningful fuzzing: every later request becomes a 401, or every storage request a 404.
Before each call, such targets are swapped for expendable decoys created for the
purpose, so those operations still run against a real user or storage:

- any mention of the fuzz user (path, query or body; plain or percent-encoded);
- the storage id ``local`` in ``PUT``/``DELETE /storage/{storage}``;
- ``POST /cluster/config`` (create a cluster) gets an invalid cluster name: a created
  cluster would start corosync on the host running the fuzzer and turn the fuzz node
  into a cluster member for the rest of the run (the cluster system tests cover create).

A 501 answer from a declared operation means "this variant is not implemented yet"
(a known gap, announced as such), not a fault: it is dropped from the failures and
written to ``PYXIS_FUZZ_GAPS`` so that ``fuzz_api.py`` can list it.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import schemathesis

USER = os.environ["PYXIS_FUZZ_USER"]
DECOY_USER = os.environ["PYXIS_FUZZ_DECOY_USER"]
STORAGE = os.environ["PYXIS_FUZZ_STORAGE"]
DECOY_STORAGE = os.environ["PYXIS_FUZZ_DECOY_STORAGE"]
GAPS = os.environ.get("PYXIS_FUZZ_GAPS")
SWAPS = [(USER, DECOY_USER), (quote(USER, safe=""), quote(DECOY_USER, safe=""))]


def _swap_text(value: str) -> str:
    for old, new in SWAPS:
        value = value.replace(old, new)
    return value


def _swap(container: Any) -> None:
    if not isinstance(container, dict):
        return
    for key, value in container.items():
        if isinstance(value, str):
            container[key] = _swap_text(value)
        elif isinstance(value, list):
            container[key] = [_swap_text(v) if isinstance(v, str) else v for v in value]


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    for part in (case.path_parameters, case.query, case.body):
        _swap(part)
    params = case.path_parameters
    if (
        case.method.upper() in ("PUT", "DELETE")
        and case.operation.path.endswith("/json/storage/{storage}")
        and isinstance(params, dict)
        and params.get("storage") == STORAGE
    ):
        params["storage"] = DECOY_STORAGE
    if (
        case.method.upper() == "POST"
        and case.operation.path.endswith("/json/cluster/config")
        and isinstance(case.body, dict)
    ):
        case.body["clustername"] = "not a cluster name!"


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if response.status_code != 501:
        return True
    try:
        message = json.loads(response.content).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    if GAPS:
        with open(GAPS, "a") as fh:
            fh.write(f"{case.method.upper()} {case.operation.path}: {message}\n")
    return False
