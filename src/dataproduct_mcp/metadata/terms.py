"""DCMI vocabulary tables: the DCMI Metadata Terms, their simple-DC (15 element) flattening,
file-format media types and known licences.

Everything here is data; no I/O.
"""

from __future__ import annotations

__all__ = [
    "DC11",
    "DCMITYPE",
    "DCTERMS",
    "DC_ELEMENTS",
    "DCTERMS_PROPERTIES",
    "FORMAT_MEDIA_TYPES",
    "EXTENSION_FORMATS",
    "IANA_REGISTERED",
    "license_iri",
    "normalize_term",
    "simple_dc_element",
]

DCTERMS = "http://purl.org/dc/terms/"
DC11 = "http://purl.org/dc/elements/1.1/"
DCMITYPE = "http://purl.org/dc/dcmitype/"

# The 15 elements of the Dublin Core Metadata Element Set, in their canonical order (oai_dc output order).
DC_ELEMENTS: tuple[str, ...] = (
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
)

# Every property of the DCMI Metadata Terms namespace (http://purl.org/dc/terms/), mapped to the
# simple-DC element it refines (its flattening for oai_dc) or None when it refines none of the 15.
DCTERMS_PROPERTIES: dict[str, str | None] = {
    **{element: element for element in DC_ELEMENTS},
    "abstract": "description",
    "tableOfContents": "description",
    "accessRights": "rights",
    "license": "rights",
    "rightsHolder": "rights",
    "alternative": "title",
    "available": "date",
    "created": "date",
    "dateAccepted": "date",
    "dateCopyrighted": "date",
    "dateSubmitted": "date",
    "issued": "date",
    "modified": "date",
    "valid": "date",
    "bibliographicCitation": "identifier",
    "conformsTo": "relation",
    "hasFormat": "relation",
    "hasPart": "relation",
    "hasVersion": "relation",
    "isFormatOf": "relation",
    "isPartOf": "relation",
    "isReferencedBy": "relation",
    "isReplacedBy": "relation",
    "isRequiredBy": "relation",
    "isVersionOf": "relation",
    "references": "relation",
    "replaces": "relation",
    "requires": "relation",
    "extent": "format",
    "medium": "format",
    "spatial": "coverage",
    "temporal": "coverage",
    "accrualMethod": None,
    "accrualPeriodicity": None,
    "accrualPolicy": None,
    "audience": None,
    "educationLevel": None,
    "instructionalMethod": None,
    "mediator": None,
    "provenance": None,
}

_LOWER_TERMS = {name.lower(): name for name in DCTERMS_PROPERTIES}


def normalize_term(term: str) -> str:
    """``dcterms:spatial``, ``dc:subject``, ``spatial`` or a full DCMI IRI -> the dcterms local name.

    Raises ``ValueError`` when the term is not a DCMI property.
    """
    text = term.strip()
    for prefix in (DCTERMS, DC11, "dcterms:", "dct:", "dc:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    name = _LOWER_TERMS.get(text.lower())
    if name is None or ":" in text or "/" in text:
        raise ValueError(f"{term!r} is not a DCMI term (expected e.g. 'dcterms:spatial')")
    return name


def simple_dc_element(term: str) -> str | None:
    """The one of the 15 simple-DC elements a dcterms property flattens to (None if none)."""
    return DCTERMS_PROPERTIES.get(term)


# File format names (as list_file_formats names them) -> media type.
# IANA-registered where a registration exists; see IANA_REGISTERED for which ones are.
FORMAT_MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    # JSON Lines has no IANA registration.  application/jsonl is what jsonlines.org proposes and the
    # OpenAPI media-type registry lists; application/json-seq (RFC 7464) is a different framing
    # (RS-prefixed records) and application/x-ndjson is an unregistered x- type.
    "jsonl": "application/jsonl",
    "ndjson": "application/jsonl",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.file",
    "feather": "application/vnd.apache.arrow.file",
    # No Avro media type is IANA-registered (AVRO-488); application/avro is the name Avro tooling uses.
    "avro": "application/avro",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml",
}

IANA_REGISTERED: frozenset[str] = frozenset(
    {
        "text/csv",
        "text/tab-separated-values",
        "application/json",
        "application/vnd.apache.parquet",
        "application/vnd.apache.arrow.file",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/xml",
        "application/gzip",
    }
)

EXTENSION_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".avro": "avro",
    ".xlsx": "xlsx",
    ".xml": "xml",
}

# Common SPDX licence identifiers (canonical spelling).  Creative Commons ones map to their
# creativecommons.org legal code, the others to https://spdx.org/licenses/<id>.
_SPDX_IDS: tuple[str, ...] = (
    "0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "Artistic-2.0",
    "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause", "BSL-1.0",
    "CC-BY-1.0", "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-4.0",
    "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0",
    "CDLA-Permissive-2.0", "CDLA-Sharing-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1", "EUPL-1.2",
    "GFDL-1.3-only", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "LPPL-1.3c", "MIT",
    "MIT-0", "MPL-2.0", "MS-PL", "MulanPSL-2.0", "NCSA", "ODbL-1.0", "ODC-By-1.0", "OFL-1.1", "OGL-UK-3.0",
    "OSL-3.0", "PDDL-1.0", "PostgreSQL", "Python-2.0", "Unlicense", "UPL-1.0", "W3C", "WTFPL", "Zlib",
    "etalab-2.0", "DL-DE-BY-2.0", "DL-DE-ZERO-2.0", "NLOD-2.0", "OGDL-Taiwan-1.0",
)  # fmt: skip
_SPDX_LOWER = {spdx.lower(): spdx for spdx in _SPDX_IDS}
# Deprecated SPDX ids still seen in the wild -> their current id.
_SPDX_ALIASES = {"gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only", "lgpl-2.1": "LGPL-2.1-only",
                 "lgpl-3.0": "LGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only", "apache 2.0": "Apache-2.0",
                 "apache2": "Apache-2.0", "cc0": "CC0-1.0", "cc-by": "CC-BY-4.0"}  # fmt: skip


def _creative_commons_iri(spdx: str) -> str | None:
    if spdx == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if spdx.startswith("CC-BY"):
        parts = spdx.split("-")  # CC, BY, [NC], [SA|ND], version
        version = parts[-1]
        kinds = "-".join(p.lower() for p in parts[1:-1])
        return f"https://creativecommons.org/licenses/{kinds}/{version}/"
    return None


def license_iri(value: str) -> tuple[str | None, str | None]:
    """(IRI, canonical SPDX id) for a licence given as an SPDX id, a known alias or an http(s) IRI;
    (None, None) when it is free text or an SPDX expression we cannot turn into one IRI."""
    text = value.strip()
    if text.startswith(("http://", "https://")) and " " not in text:
        return text, None
    spdx = _SPDX_LOWER.get(text.lower()) or _SPDX_ALIASES.get(text.lower())
    if spdx is None:
        return None, None
    return _creative_commons_iri(spdx) or f"https://spdx.org/licenses/{spdx}", spdx
