"""Data products: the fields users give (contract §5), the stored record, and the identity rules.

Identity: a product is identified per tenant by its ORD id
``{namespace}:dataProduct:{name}:v{major}``; ``name`` follows the ORD resource-name rule
``[a-zA-Z0-9._-]+`` and ``version`` is SemVer 2.0.0.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from dataproduct_mcp.domain.contract import AttachedContract
from dataproduct_mcp.domain.publication import PublicationRecord
from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.domain.validation import ValidationSummary

__all__ = [
    "NAME_PATTERN",
    "SEMVER_PATTERN",
    "Category",
    "DataProduct",
    "DataProductFields",
    "DataProductPatch",
    "FileRef",
    "ProductStatus",
    "ProductType",
    "ReleaseStatus",
    "Temporal",
    "Visibility",
    "content_hash",
    "ord_id_for",
    "semver_key",
]

NAME_PATTERN = r"^[a-zA-Z0-9._-]+$"
# SemVer 2.0.0, the regular expression from semver.org (also ORD's `version` pattern).
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# BCP 47 well-formedness (language[-script][-region][-variant]*[-extension]*[-x-private]), simplified from RFC 5646.
BCP47_PATTERN = (
    r"^(?:[a-zA-Z]{2,3}(?:-[a-zA-Z]{3}){0,3}|[a-zA-Z]{4,8})(?:-[a-zA-Z]{4})?(?:-(?:[a-zA-Z]{2}|\d{3}))?"
    r"(?:-(?:[a-zA-Z\d]{5,8}|\d[a-zA-Z\d]{3}))*(?:-[0-9a-wyzA-WYZ](?:-[a-zA-Z\d]{2,8})+)*(?:-x(?:-[a-zA-Z\d]{1,8})+)?$"
)
LABEL_KEY_PATTERN = r"^[a-zA-Z0-9._-]+$"
_SEMVER_RE = re.compile(SEMVER_PATTERN)

Text255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ProductType(StrEnum):
    primary = "primary"
    derived = "derived"


class Category(StrEnum):
    business_object = "business-object"
    analytical = "analytical"
    other = "other"


class Visibility(StrEnum):
    public = "public"
    internal = "internal"
    private = "private"


class ReleaseStatus(StrEnum):
    beta = "beta"
    active = "active"
    deprecated = "deprecated"
    sunset = "sunset"


class ProductStatus(StrEnum):
    draft = "draft"
    validated = "validated"
    published = "published"
    deprecated = "deprecated"
    deleted = "deleted"


class FileRef(BaseModel):
    """One data file of a product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="Path of the file, or a source: directory, glob, s3:// object or prefix, Delta table "
            "(inside the allowed roots).",
        ),
    ]
    format: Annotated[
        str | None,
        Field(max_length=32, description="Format name (see list_file_formats); detected if omitted."),
    ] = None
    description: Annotated[str | None, Field(max_length=4000)] = None

    @field_validator("path")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("path must not contain NUL bytes")
        return value


class Temporal(BaseModel):
    """Temporal coverage: an ISO 8601 start and/or end date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date | datetime | None = None
    end: date | datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Temporal:
        if self.start is None and self.end is None:
            raise ValueError("temporal needs a start or an end")
        if self.start is not None and self.end is not None:
            start = self.start.date() if isinstance(self.start, datetime) else self.start
            end = self.end.date() if isinstance(self.end, datetime) else self.end
            if start > end:
                raise ValueError("temporal.start is after temporal.end")
        return self


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_WS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _check_single_line(value: str | None) -> str | None:
    """One line of text without control characters (they break logs, XML and RDF output)."""
    if value is not None:
        if "\n" in value or "\r" in value:
            raise ValueError("must be a single line")
        if _CONTROL_RE.search(value):
            raise ValueError("must not contain control characters")
    return value


def _check_strings(value: Any) -> Any:
    if isinstance(value, str):
        return _check_single_line(value)
    if isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    return value


class _ProductBody(BaseModel):
    """Fields shared by registration and patches (all optional here)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    title: Text255 | None = None
    short_description: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = (
        None
    )
    description: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=16384)] = None
    version: Annotated[str | None, Field(pattern=SEMVER_PATTERN, max_length=128)] = None
    owner: Text255 | None = None
    type: ProductType | None = None
    category: Category | None = None
    visibility: Visibility | None = None
    release_status: ReleaseStatus | None = None
    tags: Annotated[list[Tag] | None, Field(max_length=64)] = None
    keywords: Annotated[list[Tag] | None, Field(max_length=64)] = None
    license: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = None
    language: Annotated[str | None, Field(pattern=BCP47_PATTERN, max_length=64)] = None
    publisher: Text255 | None = None
    contributors: Annotated[list[Text255] | None, Field(max_length=100)] = None
    temporal: Temporal | None = None
    spatial: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = None
    homepage: AnyHttpUrl | None = None
    files: Annotated[list[FileRef] | None, Field(max_length=200)] = None
    schema_: Annotated[TableSchema | None, Field(alias="schema")] = None
    input_ports: Annotated[list[Text255] | None, Field(max_length=100)] = None
    labels: Annotated[dict[str, list[Tag]] | None, Field(max_length=64)] = None

    @field_validator("short_description", "title", "owner", "publisher", "license", "spatial")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return _check_single_line(value)

    @field_validator("tags", "keywords", "contributors", "input_ports", "labels")
    @classmethod
    def _clean_items(cls, value: Any) -> Any:
        return _check_strings(value)

    @field_validator("description")
    @classmethod
    def _clean_text(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL_EXCEPT_WS_RE.search(value):
            raise ValueError("must not contain control characters other than tab and newline")
        return value

    @field_validator("labels")
    @classmethod
    def _label_keys(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if value is not None:
            for key in value:
                if not re.fullmatch(LABEL_KEY_PATTERN, key) or len(key) > 100:
                    raise ValueError(f"label key {key!r} must match {LABEL_KEY_PATTERN} (max 100 chars)")
        return value

    @field_validator("tags", "keywords")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class DataProductFields(_ProductBody):
    """What a caller gives to register a product (contract §5)."""

    name: Annotated[str, Field(min_length=1, max_length=150, pattern=NAME_PATTERN)]
    title: Text255
    version: Annotated[str, Field(pattern=SEMVER_PATTERN, max_length=128)]
    owner: Text255
    type: ProductType = ProductType.primary
    category: Category = Category.other
    visibility: Visibility = Visibility.public
    release_status: ReleaseStatus = ReleaseStatus.beta
    tags: Annotated[list[Tag], Field(max_length=64)] = []
    keywords: Annotated[list[Tag], Field(max_length=64)] = []
    contributors: Annotated[list[Text255], Field(max_length=100)] = []
    files: Annotated[list[FileRef], Field(max_length=200)] = []
    input_ports: Annotated[list[Text255], Field(max_length=100)] = []
    labels: Annotated[dict[str, list[Tag]], Field(max_length=64)] = {}

    @property
    def major(self) -> int:
        return semver_key(self.version)[0]

    def canonical(self) -> dict[str, Any]:
        """JSON-ready dict with the contract's field names (``schema``, not ``schema_``)."""
        return self.model_dump(mode="json", by_alias=True)


class DataProductPatch(_ProductBody):
    """Fields to change in ``update_data_product``; omitted fields stay as they are, ``null`` clears
    an optional field. ``name`` and the major version are identity and cannot change."""

    name: Annotated[str | None, Field(min_length=1, max_length=150, pattern=NAME_PATTERN)] = None


class DataProduct(DataProductFields):
    """The stored record: the caller's fields plus what the server maintains."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str
    ord_id: str
    tenant: str
    namespace: str
    revision: int
    status: ProductStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    last_validation: ValidationSummary | None = None
    last_publication: PublicationRecord | None = None
    contract: AttachedContract | None = Field(
        default=None, description="The ODCS data contract attached with import_contract (None: no contract)."
    )

    def fields(self) -> DataProductFields:
        data = self.model_dump(by_alias=True, include=set(DataProductFields.model_fields))
        return DataProductFields.model_validate(data)


def semver_key(version: str) -> tuple[int, int, int, tuple[Any, ...]]:
    """Sort key that orders SemVer 2.0.0 strings by precedence (build metadata ignored)."""
    match = _SEMVER_RE.match(version)
    if match is None:
        raise ValueError(f"not a SemVer 2.0.0 version: {version!r}")
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        pre_key: tuple[Any, ...] = ((2,),)  # a release sorts after all its pre-releases
    else:
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
        pre_key = ((1,), *pre_key)
    return major, minor, patch, pre_key


def ord_id_for(namespace: str, name: str, version: str) -> str:
    return f"{namespace}:dataProduct:{name}:v{semver_key(version)[0]}"


def content_hash(fields: DataProductFields) -> str:
    """Stable hash of a product's caller-given content (for idempotent registration)."""
    payload = json.dumps(fields.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
