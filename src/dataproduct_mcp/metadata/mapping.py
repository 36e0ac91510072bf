"""Map a data product (or raw §5 metadata) to DCMI Metadata Terms statements.

The mapping (contract §7) produces an ordered list of :class:`Statement` s about one subject IRI;
``serializers`` turns them into a flat JSON record, JSON-LD, Turtle, RDF/XML or oai_dc XML.

Choices, so that a reader does not have to reverse-engineer them:

- creator = owner; publisher = ``publisher``, else owner; contributor = contributors.
- subject = tags then keywords (deduplicated, plain literals).
- abstract = short_description; title/description/abstract carry the product ``language`` tag.
- created = created_at, modified = date = updated_at, issued = ``last_publication.published_at``
  (or ``delivered_at``) -- all ``xsd:dateTime``/``xsd:date`` in W3CDTF; naive times are read as UTC.
- type = ``dcmitype:Dataset`` (also the subject's ``rdf:type``).
- format = media types of the files (format name, else inferred from the extension, ``.gz`` stripped);
  IANA-registered types as ``https://www.iana.org/assignments/media-types/<type>`` IRIs, the others
  (JSON Lines, Avro) as literals typed ``dcterms:IMT``.
- identifier = ord_id and ``urn:uuid:<id>``.  language = BCP 47 literal typed ``dcterms:RFC5646``.
- license = an IRI for SPDX ids (Creative Commons ids -> creativecommons.org legal code, others ->
  ``https://spdx.org/licenses/<id>``) and http(s) IRIs; anything else becomes a ``dcterms:rights``
  literal with a warning.
- temporal = a DCMI Period literal (``start=...; end=...; scheme=W3C-DTF``) typed ``dcterms:Period``:
  it stays inside the DCMI vocabulary, round-trips without blank nodes and flattens verbatim into
  ``dc:coverage``.  spatial = an IRI when given one, else a literal.
- source = input ports (a product id becomes that product's subject IRI, an ORD id a literal; the
  one rule of :func:`~dataproduct_mcp.domain.lineage.port_ref`, which lineage and ORD resolve by);
  relation = homepage; conformsTo = the product's table schema as compact JSON text, and its
  attached ODCS data contract's id (``urn:uuid:<id>`` for a UUID, else a literal).
- labels: mapped through the custom mappings (label key -> term); IRI-looking values become IRIs.
- Everything else that has a value is listed in ``unmapped`` (file paths are never emitted).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from dataproduct_mcp.domain.lineage import port_ref
from dataproduct_mcp.domain.products import DataProduct, DataProductPatch, FileRef, Temporal
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.metadata.sanitize import strip_xml_illegal
from dataproduct_mcp.metadata.terms import (
    DCMITYPE,
    DCTERMS,
    EXTENSION_FORMATS,
    FORMAT_MEDIA_TYPES,
    IANA_REGISTERED,
    license_iri,
    normalize_term,
)

__all__ = ["Mapped", "Statement", "map_statements", "subject_iri"]

IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")
_IRI_VALUE_RE = re.compile(r"^(?:https?|urn):[^\s<>\"{}|\\^`]+$")
_ALWAYS_UNMAPPED = ("name", "version", "type", "category", "visibility", "release_status", "status",
                    "revision", "tenant", "namespace", "deleted_at", "last_validation")  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """One ``dcterms:<term>`` value about the subject: the RDF node and its flat text."""

    term: str
    node: URIRef | Literal
    text: str


@dataclass
class Mapped:
    subject: str
    statements: list[Statement] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _RecordExtras(BaseModel):
    """Stored-record fields a raw metadata dict may carry."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    ord_id: str | None = None
    tenant: str | None = None
    namespace: str | None = None
    revision: int | None = None
    status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    last_validation: dict[str, Any] | None = None
    last_publication: dict[str, Any] | None = None


_RECORD_KEYS = set(_RecordExtras.model_fields)
_BODY_KEYS = {(info.alias or name) for name, info in DataProductPatch.model_fields.items()}


def _coerce(product: DataProduct | Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Plain dict of field values (``schema`` key, not ``schema_``) and unknown keys."""
    if isinstance(product, DataProduct):
        data = {name: getattr(product, name) for name in DataProduct.model_fields}
        data["schema"] = data.pop("schema_")
        for key in ("last_validation", "last_publication", "contract"):  # the flat view the mapping reads
            if data[key] is not None:
                data[key] = data[key].model_dump(mode="json")
        return data, []
    if not isinstance(product, Mapping):
        raise InvalidArgument("metadata must be an object with the fields of a data product", field="metadata")
    body = {k: v for k, v in product.items() if k in _BODY_KEYS}
    extras = {k: v for k, v in product.items() if k in _RECORD_KEYS}
    unknown = sorted(str(k) for k in product if k not in _BODY_KEYS and k not in _RECORD_KEYS)
    try:
        patch = DataProductPatch.model_validate(body)
        record = _RecordExtras.model_validate(extras)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "metadata"
        raise InvalidArgument(f"metadata.{where}: {first['msg']}", field=f"metadata.{where}") from exc
    data = {name: getattr(patch, name) for name in DataProductPatch.model_fields}
    data["schema"] = data.pop("schema_")
    data.update(record.model_dump())
    return data, unknown


def subject_iri(base_uri: str, local: str) -> str:
    """``base_uri`` joined with a path-escaped local name."""
    if not _SCHEME_RE.match(base_uri):
        raise ValueError(f"base_uri must be an absolute IRI (with a scheme), got {base_uri!r}")
    sep = "" if base_uri.endswith(("/", "#", ":")) else "/"
    return f"{base_uri}{sep}{quote(local, safe=':@-._~')}"


def _w3cdtf(value: date | datetime, field_name: str, warnings: list[str]) -> Literal:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            warnings.append(f"{field_name} has no time zone; read as UTC")
            value = value.replace(tzinfo=UTC)
        text = value.isoformat().replace("+00:00", "Z")
        return Literal(text, datatype=XSD.dateTime)
    return Literal(value.isoformat(), datatype=XSD.date)


def _period(temporal: Temporal, warnings: list[str]) -> str:
    parts = []
    for name in ("start", "end"):
        value = getattr(temporal, name)
        if value is not None:
            parts.append(f"{name}={_w3cdtf(value, f'temporal.{name}', warnings)}")
    parts.append("scheme=W3C-DTF")
    return "; ".join(parts)


def _file_media_type(ref: FileRef) -> str | None:
    name = (ref.format or "").strip().lower().lstrip(".")
    if not name:
        suffixes = [s.lower() for s in PurePosixPath(ref.path.replace("\\", "/")).suffixes]
        if suffixes and suffixes[-1] in (".gz", ".gzip"):
            suffixes = suffixes[:-1]
        name = EXTENSION_FORMATS.get(suffixes[-1], "") if suffixes else ""
    for prefix in ("gzip+", "gz+"):
        name = name.removeprefix(prefix)
    return FORMAT_MEDIA_TYPES.get(name.removesuffix(".gz").removesuffix("-gz"))


class _Builder:
    def __init__(self, subject: str, warnings: list[str]) -> None:
        self.out = Mapped(subject=subject, warnings=warnings)
        self._seen: set[tuple[str, URIRef | Literal]] = set()

    def clean(self, text: str, where: str) -> str:
        cleaned, removed = strip_xml_illegal(text)
        if removed:
            self.out.warnings.append(f"{where}: removed {removed} character(s) not allowed in XML")
        return cleaned

    def add(self, term: str, node: URIRef | Literal, text: str | None = None) -> None:
        key = (term, node)
        if key not in self._seen:
            self._seen.add(key)
            self.out.statements.append(Statement(term, node, str(node) if text is None else text))

    def literal(self, term: str, text: str, where: str, lang: str | None = None) -> None:
        cleaned = self.clean(text, where)
        if cleaned.strip():
            self.add(term, Literal(cleaned, lang=lang), cleaned)


def map_statements(
    product: DataProduct | Mapping[str, Any],
    *,
    base_uri: str,
    custom_mappings: Mapping[str, str] | None = None,
) -> Mapped:
    """The DCMI statements for a product or raw metadata (see the module docstring)."""
    mappings = {key: normalize_term(term) for key, term in (custom_mappings or {}).items()}
    data, unknown = _coerce(product)
    warnings: list[str] = []
    if data.get("id"):
        local = str(data["id"])
    elif data.get("ord_id") or data.get("name"):
        local = str(data.get("ord_id") or data.get("name"))
    else:
        canonical = json.dumps(data, sort_keys=True, default=str).encode()
        local = "record-" + hashlib.sha256(canonical).hexdigest()[:16]
    b = _Builder(subject_iri(base_uri, local), warnings)
    lang = data.get("language")

    b.add("type", URIRef(DCMITYPE + "Dataset"), "Dataset")
    if data.get("title"):
        b.literal("title", data["title"], "title", lang)
    if data.get("description"):
        b.literal("description", data["description"], "description", lang)
    if data.get("short_description"):
        b.literal("abstract", data["short_description"], "short_description", lang)
    if data.get("owner"):
        b.literal("creator", data["owner"], "owner")
    publisher = data.get("publisher") or data.get("owner")
    if publisher:
        b.literal("publisher", publisher, "publisher")
    for i, person in enumerate(data.get("contributors") or []):
        b.literal("contributor", person, f"contributors[{i}]")
    for key in ("tags", "keywords"):
        for i, word in enumerate(data.get(key) or []):
            b.literal("subject", word, f"{key}[{i}]")

    for term, key in (("created", "created_at"), ("modified", "updated_at"), ("date", "updated_at")):
        if data.get(key) is not None:
            b.add(term, _w3cdtf(data[key], key, warnings))
    publication = data.get("last_publication") or {}
    for key in ("published_at", "delivered_at"):
        if isinstance(publication.get(key), str):
            try:
                issued = datetime.fromisoformat(publication[key].replace("Z", "+00:00"))
            except ValueError:
                warnings.append(f"last_publication.{key} is not an ISO 8601 date-time; no dcterms:issued")
            else:
                b.add("issued", _w3cdtf(issued, f"last_publication.{key}", warnings))
            break

    unknown_formats = 0
    for ref in data.get("files") or []:
        media_type = _file_media_type(ref)
        if media_type is None:
            unknown_formats += 1
        elif media_type in IANA_REGISTERED:
            b.add("format", URIRef(IANA_MEDIA_TYPES + media_type), media_type)
        else:
            b.add("format", Literal(media_type, datatype=URIRef(DCTERMS + "IMT")), media_type)
    if unknown_formats:
        warnings.append(f"files: {unknown_formats} file(s) of unknown format have no dcterms:format")

    if data.get("ord_id"):
        b.literal("identifier", data["ord_id"], "ord_id")
    if data.get("id"):
        try:
            b.add("identifier", Literal(uuid.UUID(str(data["id"])).urn))
        except ValueError:
            b.literal("identifier", str(data["id"]), "id")
    if lang:
        b.add("language", Literal(lang, datatype=URIRef(DCTERMS + "RFC5646")), lang)

    if data.get("license"):
        iri, _spdx = license_iri(data["license"])
        if iri is not None:
            b.add("license", URIRef(iri))
        else:
            b.literal("rights", data["license"], "license")
            warnings.append(
                f"license {data['license'][:80]!r} is not a known SPDX id or an IRI; kept as a dcterms:rights statement"
            )

    if data.get("spatial"):
        spatial = b.clean(data["spatial"], "spatial")
        if _IRI_VALUE_RE.match(spatial):
            b.add("spatial", URIRef(spatial))
        else:
            b.literal("spatial", spatial, "spatial")
    if data.get("temporal") is not None:
        period = _period(data["temporal"], warnings)
        b.add("temporal", Literal(period, datatype=URIRef(DCTERMS + "Period")), period)

    for i, port in enumerate(data.get("input_ports") or []):
        ref = port_ref(str(port))  # the rule lineage and ORD resolve ports by
        if ref.kind == "id":
            b.add("source", URIRef(subject_iri(base_uri, ref.key)))
        else:
            b.literal("source", port, f"input_ports[{i}]")
    if data.get("homepage") is not None:
        b.add("relation", URIRef(str(data["homepage"])))
    if data.get("schema") is not None:
        schema_json = json.dumps(
            data["schema"].model_dump(mode="json", exclude_defaults=True), separators=(",", ":"), ensure_ascii=False
        )
        b.literal("conformsTo", schema_json, "schema")
    contract = data.get("contract")
    if isinstance(contract, Mapping) and contract.get("id"):
        contract_id = str(contract["id"])
        try:  # the attached ODCS data contract, by its id (a UUID as urn:uuid:...)
            b.add("conformsTo", URIRef(uuid.UUID(contract_id).urn))
        except ValueError:
            b.literal("conformsTo", contract_id, "contract.id")

    for key, values in (data.get("labels") or {}).items():
        label_term = mappings.get(key)
        if label_term is None:
            b.out.unmapped.append(f"labels.{key}")
            continue
        for i, value in enumerate(values):
            text = b.clean(value, f"labels.{key}[{i}]")
            if _IRI_VALUE_RE.match(text):
                b.add(label_term, URIRef(text))
            elif text.strip():
                b.add(label_term, Literal(text), text)

    for key in _ALWAYS_UNMAPPED:
        if data.get(key) not in (None, "", [], {}):
            b.out.unmapped.append(key)
    files = data.get("files") or []
    if files:
        b.out.unmapped.append("files.path")
        if any(f.description for f in files):
            b.out.unmapped.append("files.description")
    b.out.unmapped.extend(unknown)
    if unknown:
        warnings.append(f"ignored unknown metadata field(s): {', '.join(unknown[:20])}")
    return b.out
