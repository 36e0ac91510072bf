"""The ``select`` capability of the ORD Provider API (ORD 1.16, "select Parameter").

With ``capabilities.selector: true`` announced in the configuration, both the configuration and the
document endpoints accept ``?select=<ORD ID>``:

- configuration: list only the document(s) that contain the selected resource;
- document: return only that resource, plus what must be updated with it (for a data product its
  output-port API resources and the integration dependency of its input ports; the package if it
  is in the same document).  No tombstones.  The dependency's aspects keep naming the upstream
  products' output ports, which are resources of their own (select those to get them).

The spec fixes the HTTP status: ``500`` for a malformed ORD ID, ``404`` when it is well formed but
nothing matches.  These functions raise ``InvalidArgument(field="select")`` and ``NotFound``; the
HTTP side maps them to exactly those statuses (:data:`SELECT_HTTP_STATUS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataproduct_mcp.errors import InvalidArgument, NotFound
from dataproduct_mcp.ord.ids import is_valid_ord_id

__all__ = ["SELECT_HTTP_STATUS", "select_configuration", "select_document"]

SELECT_HTTP_STATUS = {"invalid-argument": 500, "not-found": 404}
_SECTIONS = ("packages", "consumptionBundles", "products", "vendors", "apiResources", "eventResources",
             "entityTypes", "capabilities", "dataProducts", "integrationDependencies", "agents")  # fmt: skip


def _check(ord_id: str) -> None:
    if not is_valid_ord_id(ord_id):
        raise InvalidArgument(f"select={ord_id!r} is not a valid ORD ID", field="select")


def _contains(doc: Mapping[str, Any], ord_id: str) -> bool:
    return any(
        isinstance(e, Mapping) and e.get("ordId") == ord_id for section in _SECTIONS for e in doc.get(section) or []
    )


def select_configuration(
    config: Mapping[str, Any], documents: Sequence[Mapping[str, Any]], ord_id: str
) -> dict[str, Any]:
    """``config`` listing only the documents containing ``ord_id``; ``documents[i]`` is the document
    behind ``config.openResourceDiscoveryV1.documents[i]``."""
    _check(ord_id)
    v1 = config["openResourceDiscoveryV1"]
    listed = v1.get("documents") or []
    keep = [listed[i] for i, doc in enumerate(documents) if i < len(listed) and _contains(doc, ord_id)]
    if not keep:
        raise NotFound(f"no ORD resource {ord_id}", suggestion="Request the configuration without select.")
    return {**config, "openResourceDiscoveryV1": {**v1, "documents": keep}}


def select_document(doc: Mapping[str, Any], ord_id: str) -> dict[str, Any]:
    """``doc`` reduced to the selected resource and what belongs with it."""
    _check(ord_id)
    if not _contains(doc, ord_id):
        raise NotFound(f"no ORD resource {ord_id} in this document", suggestion="Request it without select.")
    wanted = {ord_id}
    packages: set[str] = set()
    for section in _SECTIONS:
        for entry in doc.get(section) or []:
            if isinstance(entry, Mapping) and entry.get("ordId") == ord_id:
                for ports in ("outputPorts", "inputPorts"):
                    wanted.update(str(p.get("ordId")) for p in entry.get(ports) or [] if isinstance(p, Mapping))
                if isinstance(entry.get("partOfPackage"), str):
                    packages.add(entry["partOfPackage"])
    wanted |= packages
    out: dict[str, Any] = {k: v for k, v in doc.items() if not isinstance(v, list)}
    for section in _SECTIONS:
        chosen = [e for e in doc.get(section) or [] if isinstance(e, Mapping) and e.get("ordId") in wanted]
        if chosen:
            out[section] = chosen
    return out
