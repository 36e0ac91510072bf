"""Build ORD documents for a tenant's data products (contract §8).

One package (``{namespace}:package:DataProducts:v1``), every live data product with the 12 fields
ORD requires, one output-port ``apiResource`` per product (``apiProtocol: websocket``: its stream on
this server) and tombstones for deleted products.  Documents declare ``openResourceDiscovery: "1.13"``,
the newest version both bundled schemas (1.13.0 and 1.16.3) accept.

A product that cannot be expressed validly is *skipped and reported* with the field at fault, never
published broken: first :func:`validate_product_for_ord`, then (with ``validate=True``) the built
documents are checked against both schemas and any product an error points into is taken out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from dataproduct_mcp.domain.products import SEMVER_PATTERN, DataProduct, ProductStatus, ord_id_for
from dataproduct_mcp.ord.ids import (
    DATA_PRODUCT_ID_RE,
    MAX_ID_LENGTH,
    NAMESPACE_RE,
    ORD_ID_RE,
    RESPONSIBLE_RE,
    api_resource_id_for,
    package_id_for,
    responsible_for,
)

__all__ = [
    "DEFAULT_STREAM_URL",
    "DEFAULT_VENDOR",
    "DOCUMENT_SCHEMA_URL",
    "MAX_DOCUMENT_BYTES",
    "ORD_VERSION",
    "FieldProblem",
    "OrdBuild",
    "SkippedProduct",
    "Tombstone",
    "check_base_url",
    "rfc3339",
    "serialize_ord_document",
    "truncate",
    "validate_product_for_ord",
]

ORD_VERSION = "1.13"
DOCUMENT_SCHEMA_URL = "https://open-resource-discovery.org/spec-v1/interfaces/Document.schema.json"
DEFAULT_VENDOR = "customer:vendor:Customer:"
MAX_DOCUMENT_BYTES = 2_000_000  # ORD: a document MUST NOT exceed 2 MB (decimal, stricter than MiB)
# Placeholders: {base_url} {ws_base_url} {id} {ord_id} {name}.  Sessions live under /streams
# (open_stream returns ws://.../streams/{session_id}), so the entry point is that root.
DEFAULT_STREAM_URL = "{ws_base_url}/streams"
BASE_URL_RE = re.compile(r"^http[s]?:\/\/[^:\/\s]+\.[^:\/\s\.]+(:\d+)?(\/[a-zA-Z0-9-\._~]+)*$")
_SEMVER_RE = re.compile(SEMVER_PATTERN)
_TAG_RE = re.compile(r"^[a-zA-Z0-9-_.\/ ]*$")  # ORD tag pattern (both versions)
_LABEL_KEY_RE = re.compile(r"^[a-zA-Z0-9-_.]*$")  # 1.13.0 label key pattern (1.16.3 allows more)
_ENUMS = {
    "type": {"primary", "derived"},
    "category": {"business-object", "analytical", "other"},
    "visibility": {"public", "internal", "private"},
    "release_status": {"beta", "active", "deprecated", "sunset"},  # 1.13.0 has no "development"
}

StreamUrl = str | Callable[[DataProduct], str]
Tombstone = tuple[str, date | datetime]


@dataclass(frozen=True)
class FieldProblem:
    """A product field that cannot be expressed in ORD, and why."""

    field: str
    problem: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SkippedProduct:
    product_id: str
    ord_id: str
    problems: tuple[FieldProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "ord_id": self.ord_id, "problems": [p.to_dict() for p in self.problems]}


@dataclass
class OrdBuild:
    """Documents to serve (in order: the first holds the package and tombstones), what was left out."""

    documents: list[dict[str, Any]]
    skipped: list[SkippedProduct] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        if len(self.documents) != 1:
            raise ValueError(f"the build has {len(self.documents)} documents, not one")
        return self.documents[0]


def serialize_ord_document(doc: Mapping[str, Any]) -> bytes:
    """The bytes to serve (UTF-8, compact): sizes are measured on these, ETags should hash them."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def rfc3339(value: date | datetime) -> str:
    """RFC 3339 date-time (naive values are read as UTC; a date becomes its midnight UTC)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash, or ValueError when ORD's baseUrl pattern refuses it."""
    url = base_url.rstrip("/")
    if not BASE_URL_RE.fullmatch(url):
        raise ValueError(
            f"base_url {base_url!r} does not match ORD's baseUrl pattern (http[s]://host.domain[:port][/path]); "
            "use 127.0.0.1 rather than localhost"
        )
    return url


def truncate(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))


def validate_product_for_ord(product: DataProduct, *, namespace: str) -> list[FieldProblem]:
    """What stops ``product`` from being a valid ORD data product in ``namespace``'s document.

    An empty list means it can be published.  Checks what the domain model does not already
    guarantee (or what a record built without validation may break).
    """
    problems: list[FieldProblem] = []
    if product.namespace != namespace:
        problems.append(
            FieldProblem(
                "namespace", f"product is in namespace {product.namespace!r}, the document describes {namespace!r}"
            )
        )
    if not NAMESPACE_RE.fullmatch(product.namespace or ""):
        problems.append(FieldProblem("namespace", "must match ^[a-z0-9]+(?:[.][a-z0-9]+)*$"))
    version_ok = isinstance(product.version, str) and _SEMVER_RE.fullmatch(product.version) is not None
    if not version_ok:
        problems.append(FieldProblem("version", f"{product.version!r} is not SemVer 2.0.0"))
    if not DATA_PRODUCT_ID_RE.fullmatch(product.ord_id or "") or len(product.ord_id) > MAX_ID_LENGTH:
        problems.append(
            FieldProblem(
                "ord_id",
                f"{product.ord_id!r} is not a data product ORD ID "
                "({namespace}:dataProduct:{name}:v{major}, at most 255 chars)",
            )
        )
    elif version_ok and product.ord_id != ord_id_for(product.namespace, product.name, product.version):
        expected = ord_id_for(product.namespace, product.name, product.version)
        problems.append(
            FieldProblem(
                "ord_id", f"{product.ord_id} does not match its namespace, name and major version (expected {expected})"
            )
        )
    else:
        port = api_resource_id_for(product.ord_id)
        if port is None or len(port) > MAX_ID_LENGTH:
            problems.append(FieldProblem("name", "too long for the output-port ORD ID (at most 255 chars)"))
    if not isinstance(product.title, str) or not product.title.strip() or len(product.title) > 255:
        problems.append(FieldProblem("title", "must be 1 to 255 characters"))
    if not isinstance(product.owner, str) or not product.owner.strip():
        problems.append(FieldProblem("owner", "is required (ORD `responsible`)"))
    elif not RESPONSIBLE_RE.fullmatch(responsible_for(product.owner, product.namespace or namespace)):
        problems.append(FieldProblem("owner", "cannot be turned into an ORD `responsible` id"))
    for name, allowed in _ENUMS.items():
        if _value(getattr(product, name)) not in allowed:
            problems.append(FieldProblem(name, f"must be one of {', '.join(sorted(allowed))}"))
    if not isinstance(product.updated_at, datetime):
        problems.append(FieldProblem("updated_at", "must be a date-time (ORD `lastUpdate`)"))
    for key, values in (product.labels or {}).items():
        if not _LABEL_KEY_RE.fullmatch(key) or not all(isinstance(v, str) and v for v in values):
            problems.append(
                FieldProblem(
                    f"labels.{key}", "label keys must match ^[a-zA-Z0-9-_.]*$ and values must be non-empty strings"
                )
            )
    return problems


def _stream_url(spec: StreamUrl, product: DataProduct, base_url: str) -> str:
    if callable(spec):
        return spec(product)
    ws_base = "ws" + base_url[4:] if base_url.startswith("http") else base_url
    return spec.format(base_url=base_url, ws_base_url=ws_base, id=product.id, ord_id=product.ord_id, name=product.name)


def _descriptions(product: DataProduct) -> tuple[str, str]:
    description = (product.description or "").strip()
    short = (product.short_description or "").strip()
    if not short:
        first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0] if description else ""
        short = first or product.title
    short = truncate(short, 255)
    return short, description or short


def product_entries(
    product: DataProduct, *, namespace: str, base_url: str, stream_url: StreamUrl
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The ``dataProducts`` and ``apiResources`` entries of one (already validated) product."""
    notes: list[str] = []
    package = package_id_for(namespace)
    port_id = api_resource_id_for(product.ord_id) or ""
    short, description = _descriptions(product)
    last_update = rfc3339(product.updated_at)
    responsible = responsible_for(product.owner, namespace)
    common = {
        "version": product.version,
        "lastUpdate": last_update,
        "visibility": _value(product.visibility),
        "releaseStatus": _value(product.release_status),
        "partOfPackage": package,
    }
    entry: dict[str, Any] = {
        "ordId": product.ord_id,
        "localId": product.id,
        "title": product.title,
        "shortDescription": short,
        "description": description,
        **common,
        "type": _value(product.type),
        "category": _value(product.category),
        "responsible": responsible,
        "outputPorts": [{"ordId": port_id}],
    }
    words = list(dict.fromkeys([*product.tags, *product.keywords]))
    tags = [w for w in words if _TAG_RE.fullmatch(w)]
    if len(tags) < len(words):
        notes.append(
            f"{product.ord_id}: {len(words) - len(tags)} tag(s)/keyword(s) with characters ORD tags "
            "do not allow were left out"
        )
    if tags:
        entry["tags"] = tags
    if product.labels:
        entry["labels"] = {k: list(v) for k, v in product.labels.items()}
    if product.homepage is not None:
        entry["links"] = [{"title": "Homepage", "url": str(product.homepage)}]
    api: dict[str, Any] = {
        "ordId": port_id,
        "title": truncate(f"{product.title} (stream)", 255),
        "shortDescription": truncate(f"WebSocket stream of the rows of data product {product.title}", 255),
        "description": (
            "Streams the rows of the data product's files over WebSocket: a JSON `schema` message, then "
            "numbered batches (JSON Lines or CSV text frames, or Arrow IPC binary frames), then an `end` "
            "message with the row count. Open a session with the MCP tool `open_stream` (source = "
            f"`{product.id}`) to get the session URL and its bearer token."
        ),
        **common,
        "apiProtocol": "websocket",
        "entryPoints": [_stream_url(stream_url, product, base_url)],
        "supportedUseCases": ["streaming"],
        "responsible": responsible,
    }
    return entry, api, notes


def document_skeleton(*, base_url: str, policy_levels: Sequence[str] | None, description: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": DOCUMENT_SCHEMA_URL,
        "openResourceDiscovery": ORD_VERSION,
        "description": description or "Data products served by dataproduct-mcp.",
        "perspective": "system-instance",
        "describedSystemInstance": {"baseUrl": base_url},
    }
    if policy_levels:
        doc["policyLevels"] = list(policy_levels)
    return doc


def package_entry(namespace: str, *, vendor: str, title: str | None, policy_levels: Sequence[str] | None) -> dict:
    entry: dict[str, Any] = {
        "ordId": package_id_for(namespace),
        "title": title or f"Data products of {namespace}",
        "shortDescription": f"The registered data products of {namespace} and their stream APIs.",
        "description": (
            f"Data products registered with dataproduct-mcp in namespace {namespace}, each with a "
            "WebSocket output port that streams its rows."
        ),
        "version": "1.0.0",
        "vendor": vendor,
    }
    if policy_levels:
        entry["policyLevels"] = list(policy_levels)
    return entry


def tombstone_entries(tombstones: Iterable[Tombstone], live_ids: set[str], warnings: list[str]) -> list[dict[str, str]]:
    """Tombstones for deleted data products and their output ports (well-formed, not live, unique)."""
    out: dict[str, str] = {}
    for ord_id, removed in tombstones:
        if not isinstance(ord_id, str) or not ORD_ID_RE.fullmatch(ord_id):
            warnings.append(f"tombstone {ord_id!r} is not a well-formed ORD ID; left out")
            continue
        ids = [ord_id]
        port = api_resource_id_for(ord_id)
        if port is not None:
            ids.append(port)
        for one in ids:
            if one in live_ids:
                continue  # re-registered since: the live description wins
            stamp = rfc3339(removed)
            out[one] = max(out.get(one, stamp), stamp)
    return [{"ordId": ord_id, "removalDate": stamp} for ord_id, stamp in out.items()]


def is_deleted(product: DataProduct) -> bool:
    return _value(product.status) == ProductStatus.deleted.value or product.deleted_at is not None
