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
from dataproduct_mcp.ord.ids import NAMESPACE_RE, VENDOR_ID_RE
from dataproduct_mcp.ord.validation import check_ord_documents

__all__ = ["build_ord_document", "build_ord_documents"]

_POLICY_LEVEL_RE = re.compile(r"^([a-z0-9]+(?:[.][a-z0-9]+)*):([a-zA-Z0-9._\-]+):(v0|v[1-9][0-9]*)$")
_PATH_RE = re.compile(r"^#(\d+)/(dataProducts|apiResources)/(\d+)(?:/([^/]+))?")
# ORD property -> the product field it comes from (for reporting the field at fault).
_ORD_TO_FIELD = {
    "ordId": "ord_id", "localId": "id", "title": "title", "shortDescription": "short_description",
    "description": "description", "version": "version", "lastUpdate": "updated_at", "visibility": "visibility",
    "releaseStatus": "release_status", "partOfPackage": "namespace", "type": "type", "category": "category",
    "responsible": "owner", "outputPorts": "name", "tags": "tags", "labels": "labels", "links": "homepage",
    "entryPoints": "id",
}  # fmt: skip
_Entry = tuple[DataProduct, dict[str, Any], dict[str, Any]]


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _make_doc(skeleton: dict[str, Any], package: dict | None, items: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(skeleton)
    if package is not None:
        doc["packages"] = [package]
    apis = [entry[2] for kind, entry in items if kind == "product"]
    products = [entry[1] for kind, entry in items if kind == "product"]
    stones = [entry for kind, entry in items if kind == "tombstone"]
    if apis:
        doc["apiResources"] = apis
    if products:
        doc["dataProducts"] = products
    if stones:
        doc["tombstones"] = stones
    return doc


def _split(
    skeleton: dict[str, Any], package: dict, items: list[tuple[str, Any]], max_bytes: int | None
) -> tuple[list[dict[str, Any]], list[list[_Entry]]]:
    """Greedy packing by measured entry sizes, then verified on the real serialization."""
    chunks: list[list[tuple[str, Any]]] = []
    if max_bytes is None:
        chunks.append(items)
    else:
        overhead = _size(skeleton) + _size(package) + 64  # section keys, brackets, the package array
        current: list[tuple[str, Any]] = []
        used = overhead
        for item in items:
            kind, entry = item
            cost = _size(entry[1]) + _size(entry[2]) + 2 if kind == "product" else _size(entry) + 1
            if current and used + cost > max_bytes:
                chunks.append(current)
                current, used = [], overhead
            current.append(item)
            used += cost
        chunks.append(current)
    docs: list[dict[str, Any]] = []
    order: list[list[_Entry]] = []
    pending = list(chunks)
    while pending:
        chunk = pending.pop(0)
        doc = _make_doc(skeleton, package if not docs else None, chunk)
        if max_bytes is not None and len(serialize_ord_document(doc)) > max_bytes and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        docs.append(doc)
        order.append([entry for kind, entry in chunk if kind == "product"])
    return docs, order


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
) -> OrdBuild:
    """ORD documents for ``products`` (a tenant's, in one namespace), each under ``max_bytes``.

    The first document holds the package; ORD forbids describing anything twice, so the others
    reference it (check the set with ``check_ord_documents``).  Deleted products (status
    ``deleted`` or ``deleted_at`` set) join ``tombstones``; tombstones (ORD id, removal date) also
    tombstone the product's output port.  Products that cannot be expressed are in ``skipped``.
    ``stream_url`` is a template (``{base_url}``, ``{ws_base_url}``, ``{id}``, ``{ord_id}``,
    ``{name}``) or a callable giving each product's WebSocket entry point.

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
    entries: dict[str, _Entry] = {}
    for product in products:
        if is_deleted(product):
            stones.append((product.ord_id, product.deleted_at or product.updated_at))
            continue
        problems = validate_product_for_ord(product, namespace=namespace)
        if not problems and product.ord_id in entries:
            problems = [FieldProblem("ord_id", "another product in this build has the same ord_id")]
        if problems:
            build.skipped.append(SkippedProduct(product.id, product.ord_id, tuple(problems)))
            continue
        entry, api, notes = product_entries(product, namespace=namespace, base_url=base, stream_url=stream_url)
        build.warnings.extend(notes)
        entries[product.ord_id] = (product, entry, api)
    live_ids = set(entries) | {e[2]["ordId"] for e in entries.values()}
    stone_entries = tombstone_entries(stones, live_ids, build.warnings)
    skeleton = document_skeleton(base_url=base, policy_levels=policy_levels, description=description)
    package = package_entry(namespace, vendor=vendor, title=package_title, policy_levels=policy_levels)

    for _attempt in range(3):
        items: list[tuple[str, Any]] = [("product", entries[k]) for k in sorted(entries)]
        items += [("tombstone", s) for s in sorted(stone_entries, key=lambda s: s["ordId"])]
        docs, order = _split(skeleton, package, items, max_bytes)
        build.documents = docs
        if not validate:
            break
        bad: dict[str, list[FieldProblem]] = {}
        for problem in check_ord_documents(docs, max_problems=10_000):
            match = _PATH_RE.match(problem.path)
            if match is None:
                build.warnings.append(f"document problem ({problem.check}) at {problem.path}: {problem.message}")
                continue
            i, section, j, prop = int(match[1]), match[2], int(match[3]), match[4]
            product = order[i][j][0]
            field = _ORD_TO_FIELD.get(prop or "", prop or section)
            bad.setdefault(product.ord_id, []).append(FieldProblem(field, f"{problem.check}: {problem.message}"))
        if not bad:
            break
        for ord_id, problems in bad.items():
            product = entries.pop(ord_id)[0]
            build.skipped.append(SkippedProduct(product.id, product.ord_id, tuple(dict.fromkeys(problems))))
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
