"""ORD identifiers: the patterns the official schemas use, and how ours are derived.

- package            ``{namespace}:package:DataProducts:v1``
- data product       the product's ``ord_id`` (``{namespace}:dataProduct:{name}:v{major}``)
- output port        ``{namespace}:apiResource:{name}.stream:v{major}`` (its WebSocket stream)
- input ports        ``{namespace}:integrationDependency:{name}:v{major}`` (the product's upstreams)
- responsible        ``{namespace}:team:{slug of owner}`` (an owner already in that shape is kept)
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "API_RESOURCE_ID_RE",
    "DATA_PRODUCT_ID_RE",
    "INTEGRATION_DEPENDENCY_ID_RE",
    "NAMESPACE_RE",
    "ORD_ID_RE",
    "PACKAGE_ID_RE",
    "RESPONSIBLE_RE",
    "VENDOR_ID_RE",
    "api_resource_id_for",
    "integration_dependency_id_for",
    "is_valid_ord_id",
    "package_id_for",
    "parse_ord_id",
    "responsible_for",
]

_NS = r"([a-z0-9]+(?:[.][a-z0-9]+)*)"
_NAME = r"([a-zA-Z0-9._\-]+)"
_MAJOR = r"(v0|v[1-9][0-9]*)"
NAMESPACE_RE = re.compile(rf"^{_NS}$")
DATA_PRODUCT_ID_RE = re.compile(rf"^{_NS}:(dataProduct):{_NAME}:{_MAJOR}$")
API_RESOURCE_ID_RE = re.compile(rf"^{_NS}:(apiResource):{_NAME}:{_MAJOR}$")
INTEGRATION_DEPENDENCY_ID_RE = re.compile(rf"^{_NS}:(integrationDependency):{_NAME}:{_MAJOR}$")
PACKAGE_ID_RE = re.compile(rf"^{_NS}:(package):{_NAME}:{_MAJOR}$")
VENDOR_ID_RE = re.compile(rf"^{_NS}:(vendor):{_NAME}:()$")
# The ORD ID of any resource or taxonomy a tombstone (and a `select`) may name (1.16.3's list).
ORD_ID_RE = re.compile(
    rf"^{_NS}:(package|consumptionBundle|product|vendor|apiResource|eventResource|capability|entityType"
    rf"|integrationDependency|dataProduct|agent):{_NAME}:(v0|v[1-9][0-9]*|)?$"
)
RESPONSIBLE_RE = re.compile(r"^([a-z0-9]+(?:[.][a-z0-9]+)*):([a-zA-Z0-9._\-\/]+):([a-zA-Z0-9._\-\/]+)$")
MAX_ID_LENGTH = 255
PACKAGE_NAME = "DataProducts"
STREAM_SUFFIX = ".stream"


def is_valid_ord_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and ORD_ID_RE.fullmatch(value) is not None


def parse_ord_id(value: str) -> tuple[str, str, str, str] | None:
    """(namespace, type, resource name, version part) or None."""
    match = ORD_ID_RE.fullmatch(value)
    if match is None:
        return None
    return match[1], match[2], match[3], match[4] or ""


def package_id_for(namespace: str) -> str:
    return f"{namespace}:package:{PACKAGE_NAME}:v1"


def api_resource_id_for(data_product_ord_id: str) -> str | None:
    """The output-port API resource id belonging to a data product ORD id (None if malformed)."""
    match = DATA_PRODUCT_ID_RE.fullmatch(data_product_ord_id)
    if match is None:
        return None
    return f"{match[1]}:apiResource:{match[3]}{STREAM_SUFFIX}:{match[4]}"


def integration_dependency_id_for(data_product_ord_id: str) -> str | None:
    """The id of the integration dependency holding a data product's input ports (None if malformed
    or longer than ORD ids may be)."""
    match = DATA_PRODUCT_ID_RE.fullmatch(data_product_ord_id)
    if match is None:
        return None
    dep_id = f"{match[1]}:integrationDependency:{match[3]}:{match[4]}"
    return dep_id if len(dep_id) <= MAX_ID_LENGTH else None


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-zA-Z0-9._\-]+", "-", ascii_text).strip("-.").lower()
    return re.sub(r"-{2,}", "-", slug)


def responsible_for(owner: str, namespace: str) -> str:
    """A ``responsible`` value matching the ORD pattern, derived from the product owner.

    An owner written as ``ns:type:id`` is used unchanged; otherwise ``{namespace}:team:{slug}``,
    where an owner with no ASCII letters or digits gets a stable ``owner-<hash>`` slug.
    """
    text = owner.strip()
    if RESPONSIBLE_RE.fullmatch(text) and len(text) <= MAX_ID_LENGTH:
        return text
    slug = _slug(text)[:100]
    if not slug:
        slug = "owner-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{namespace}:team:{slug}"
