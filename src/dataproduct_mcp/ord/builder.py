"""Assemble, size-split and check ORD documents (see ``document`` for what goes into them)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.ord.document import (
    DEFAULT_STREAM_URL,
    DEFAULT_VENDOR,
    MAX_DOCUMENT_BYTES,
    FieldProblem,
    OrdBuild,
    SkippedProduct,
    StreamUrl,
    Tombstone,
    check_base_url,
    document_skeleton,
    is_deleted,
    package_entry,
    product_entries,
    serialize_ord_document,
    tombstone_entries,
    validate_product_for_ord,
)
from dataproduct_mcp.ord.ids import NAMESPACE_RE, VENDOR_ID_RE, api_resource_id_for, integration_dependency_id_for
from dataproduct_mcp.ord.inputs import InputIndex, dependency_entry
from dataproduct_mcp.ord.validation import check_ord_documents

__all__ = ["build_ord_document", "build_ord_documents"]

_POLICY_LEVEL_RE = re.compile(r"^([a-z0-9]+(?:[.][a-z0-9]+)*):([a-zA-Z0-9._\-]+):(v0|v[1-9][0-9]*)$")
_PATH_RE = re.compile(r"^#(\d+)/(dataProducts|apiResources|integrationDependencies)/(\d+)(?:/([^/]+))?")
# ORD property -> the product field it comes from (for reporting the field at fault).
_ORD_TO_FIELD = {
    "ordId": "ord_id", "localId": "id", "title": "title", "shortDescription": "short_description",
    "description": "description", "version": "version", "lastUpdate": "updated_at", "visibility": "visibility",
    "releaseStatus": "release_status", "partOfPackage": "namespace", "type": "type", "category": "category",
    "responsible": "owner", "outputPorts": "name", "tags": "tags", "labels": "labels", "links": "homepage",
    "entryPoints": "id",
}  # fmt: skip
# (product, its dataProducts entry, its output-port apiResources entry, its integrationDependencies entry)
_Entry = tuple[DataProduct, dict[str, Any], dict[str, Any], dict[str, Any] | None]
_Owners = dict[str, list[DataProduct]]  # section -> the product behind each of its entries


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _make_doc(
    skeleton: dict[str, Any], package: dict | None, items: list[tuple[str, Any]]
) -> tuple[dict[str, Any], _Owners]:
    doc = dict(skeleton)
    if package is not None:
        doc["packages"] = [package]
    entries = [entry for kind, entry in items if kind == "product"]
    owners: _Owners = {
        "dataProducts": [e[0] for e in entries],
        "apiResources": [e[0] for e in entries],
        "integrationDependencies": [e[0] for e in entries if e[3] is not None],
    }
    sections = {
        "apiResources": [e[2] for e in entries],
        "dataProducts": [e[1] for e in entries],
        "integrationDependencies": [e[3] for e in entries if e[3] is not None],
        "tombstones": [entry for kind, entry in items if kind == "tombstone"],
    }
    doc.update({section: values for section, values in sections.items() if values})
    return doc, owners


def _cost(item: tuple[str, Any]) -> int:
    kind, entry = item
    if kind != "product":
        return _size(entry) + 1
    return _size(entry[1]) + _size(entry[2]) + (_size(entry[3]) + 1 if entry[3] is not None else 0) + 2


def _split(
    skeleton: dict[str, Any], package: dict, items: list[tuple[str, Any]], max_bytes: int | None
) -> tuple[list[dict[str, Any]], list[_Owners]]:
    """Greedy packing by measured entry sizes, then verified on the real serialization."""
    chunks: list[list[tuple[str, Any]]] = []
    if max_bytes is None:
        chunks.append(items)
    else:
        overhead = _size(skeleton) + _size(package) + 96  # section keys, brackets, the package array
        current: list[tuple[str, Any]] = []
        used = overhead
        for item in items:
            cost = _cost(item)
            if current and used + cost > max_bytes:
                chunks.append(current)
                current, used = [], overhead
            current.append(item)
            used += cost
        chunks.append(current)
    docs: list[dict[str, Any]] = []
    owners: list[_Owners] = []
    pending = list(chunks)
    while pending:
        chunk = pending.pop(0)
        doc, doc_owners = _make_doc(skeleton, package if not docs else None, chunk)
        if max_bytes is not None and len(serialize_ord_document(doc)) > max_bytes and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        docs.append(doc)
        owners.append(doc_owners)
    return docs, owners


def _with_inputs(
    entries: dict[str, tuple[DataProduct, dict[str, Any], dict[str, Any]]],
    index: InputIndex,
    namespace: str,
    no_inputs: set[str],
    notes: list[str],
) -> list[_Entry]:
    """Each product's entries with its integration dependency (``inputPorts`` on its entry)."""
    out: list[_Entry] = []
    for ord_id in sorted(entries):
        product, entry, api = entries[ord_id]
        dependency = None
        if product.input_ports and ord_id not in no_inputs:
            upstreams, port_notes = index.upstreams(product)
            notes.extend(port_notes)
            dependency = dependency_entry(product, upstreams, namespace=namespace)
            if dependency is None and upstreams:
                notes.append(f"{ord_id}: the ORD id of its input ports would be too long; left out")
        if dependency is not None:
            entry = {**entry, "inputPorts": [{"ordId": dependency["ordId"]}]}
        out.append((product, entry, api, dependency))
    return out


def build_ord_documents(
    products: Iterable[DataProduct],
    tombstones: Iterable[Tombstone] = (),
    *,
    namespace: str,
    base_url: str,
    stream_url: StreamUrl = DEFAULT_STREAM_URL,
    policy_levels: Sequence[str] | None = None,
    vendor: str = DEFAULT_VENDOR,
    package_title: str | None = None,
    description: str | None = None,
    max_bytes: int | None = MAX_DOCUMENT_BYTES,
    validate: bool = True,
    references: Iterable[DataProduct] = (),
) -> OrdBuild:
    """ORD documents for ``products`` (a tenant's, in one namespace), each under ``max_bytes``.

    The first document holds the package; ORD forbids describing anything twice, so the others
    reference it (check the set with ``check_ord_documents``).  Deleted products (status
    ``deleted`` or ``deleted_at`` set) join ``tombstones``; tombstones (ORD id, removal date) also
    tombstone the product's output port.  Products that cannot be expressed are in ``skipped``.
    ``stream_url`` is a template (``{base_url}``, ``{ws_base_url}``, ``{id}``, ``{ord_id}``,
    ``{name}``) or a callable giving each product's WebSocket entry point.

    Input ports become integration dependencies (:mod:`.inputs`): a port may name a product of
    ``products`` or of ``references`` (live products of the same tenant described in other
    documents: their output ports are referenced, not described); other ports are left out with a
    warning. A deleted product with input ports also tombstones its integration dependency.

    Raises ``ValueError`` for a bad namespace, base_url, vendor or policy level (configuration errors).
    """
    if not NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(f"namespace {namespace!r} must match ^[a-z0-9]+(?:[.][a-z0-9]+)*$")
    base = check_base_url(base_url)
    if not VENDOR_ID_RE.fullmatch(vendor):
        raise ValueError(f"vendor {vendor!r} is not an ORD vendor id (e.g. {DEFAULT_VENDOR})")
    for level in policy_levels or ():
        if not _POLICY_LEVEL_RE.fullmatch(level):
            raise ValueError(f"policy level {level!r} is not an ORD specification id (e.g. sap:core:v1)")
    build = OrdBuild(documents=[])
    stones: list[Tombstone] = list(tombstones)
    entries: dict[str, tuple[DataProduct, dict[str, Any], dict[str, Any]]] = {}
    deleted: list[DataProduct] = []
    skipped: dict[str, DataProduct] = {}
    for product in products:
        if is_deleted(product):
            deleted.append(product)
            removed = product.deleted_at or product.updated_at
            stones.append((product.ord_id, removed))
            dep_id = integration_dependency_id_for(product.ord_id) if product.input_ports else None
            if dep_id is not None:
                stones.append((dep_id, removed))
            continue
        problems = validate_product_for_ord(product, namespace=namespace)
        if not problems and product.ord_id in entries:
            problems = [FieldProblem("ord_id", "another product in this build has the same ord_id")]
        if problems:
            build.skipped.append(SkippedProduct(product.id, product.ord_id, tuple(problems)))
            skipped[product.id] = product
            continue
        entry, api, notes = product_entries(product, namespace=namespace, base_url=base, stream_url=stream_url)
        build.warnings.extend(notes)
        entries[product.ord_id] = (product, entry, api)
    elsewhere = [
        r
        for r in references
        if not is_deleted(r) and r.ord_id not in entries and not validate_product_for_ord(r, namespace=namespace)
    ]
    described_elsewhere = {port: "apiResources" for r in elsewhere if (port := api_resource_id_for(r.ord_id))}
    live_ids = set(entries) | {e[2]["ordId"] for e in entries.values()}
    live_ids |= {dep for k in entries if (dep := integration_dependency_id_for(k))}
    stone_entries = tombstone_entries(stones, live_ids, build.warnings)
    skeleton = document_skeleton(base_url=base, policy_levels=policy_levels, description=description)
    package = package_entry(namespace, vendor=vendor, title=package_title, policy_levels=policy_levels)

    no_inputs: set[str] = set()  # products whose dependency the checks refused (a bug if ever non-empty)
    input_notes: list[str] = []
    for _attempt in range(3):
        index = InputIndex((e[0] for e in entries.values()), elsewhere, deleted=deleted, skipped=skipped.values())
        input_notes = []
        full = _with_inputs(entries, index, namespace, no_inputs, input_notes)
        items: list[tuple[str, Any]] = [("product", e) for e in full]
        items += [("tombstone", s) for s in sorted(stone_entries, key=lambda s: s["ordId"])]
        docs, owners = _split(skeleton, package, items, max_bytes)
        build.documents = docs
        if not validate:
            break
        bad: dict[str, list[FieldProblem]] = {}
        refused: set[str] = set()
        for problem in check_ord_documents(docs, max_problems=10_000, described_elsewhere=described_elsewhere):
            match = _PATH_RE.match(problem.path)
            if match is None:
                build.warnings.append(f"document problem ({problem.check}) at {problem.path}: {problem.message}")
                continue
            i, section, j, prop = int(match[1]), match[2], int(match[3]), match[4]
            product = owners[i][section][j]
            if section == "integrationDependencies" or prop == "inputPorts":
                refused.add(product.ord_id)
                build.warnings.append(
                    f"{product.ord_id}: its input ports were left out of ORD ({problem.check}: {problem.message})"
                )
                continue
            field = _ORD_TO_FIELD.get(prop or "", prop or section)
            bad.setdefault(product.ord_id, []).append(FieldProblem(field, f"{problem.check}: {problem.message}"))
        if not bad and not refused - no_inputs:
            break
        no_inputs |= refused
        for ord_id, problems in bad.items():
            product = entries.pop(ord_id)[0]
            skipped[product.id] = product
            build.skipped.append(SkippedProduct(product.id, product.ord_id, tuple(dict.fromkeys(problems))))
    build.warnings.extend(input_notes)
    if max_bytes is None and len(build.documents) == 1:
        size = len(serialize_ord_document(build.documents[0]))
        if size > MAX_DOCUMENT_BYTES:
            build.warnings.append(f"the document is {size} bytes, above ORD's 2 MB limit; serve build_ord_documents")
    return build


def build_ord_document(
    products: Iterable[DataProduct], tombstones: Iterable[Tombstone] = (), **options: Any
) -> OrdBuild:
    """One ORD document with everything (no size split; ``build.document`` is it).  For the
    ``get_ord_document`` tool and for ``product_ids`` subsets; serve ``build_ord_documents`` over HTTP."""
    options["max_bytes"] = None
    return build_ord_documents(products, tombstones, **options)
