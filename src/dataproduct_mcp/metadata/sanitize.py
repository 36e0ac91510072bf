"""Text clean-up before XML/RDF output: XML 1.0 cannot carry most C0 controls, lone surrogates
or U+FFFE/U+FFFF, and RDF/XML and oai_dc are XML."""

from __future__ import annotations

import re

__all__ = ["strip_xml_illegal"]

# Complement of the XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def strip_xml_illegal(text: str) -> tuple[str, int]:
    """(text without XML-illegal characters, how many were removed)."""
    cleaned, count = _ILLEGAL.subn("", text)
    return cleaned, count
