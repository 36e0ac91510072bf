"""The error hierarchy and the boundary that maps every exception to a contract §4 error."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import BaseModel, ValidationError

from dataproduct_mcp import errors
from dataproduct_mcp.persistence.dialects.sqlite import map_error as map_sqlite_error
from dataproduct_mcp.server.errors import error_result, map_exception

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "docs" / "contract.md"
CONTRACT_CODES = {
    "invalid-argument", "not-found", "already-exists", "conflict", "path-not-allowed", "file-not-found",
    "unsupported-format", "too-large", "registry-unavailable", "registry-rejected", "unauthorized", "forbidden",
    "rate-limited", "shutting-down", "internal",
}  # fmt: skip


# Codes added after the contract's list was written (it predates object storage); each is documented.
EXTRA_CODES = {"storage-unavailable"}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def test_every_contract_error_code_has_exactly_one_class() -> None:
    assert CONTRACT_CODES <= set(errors.ERROR_CODES)
    assert set(errors.ERROR_CODES) - CONTRACT_CODES == EXTRA_CODES
    classes = errors.DpError.__subclasses__()  # one class per code; refinements subclass them
    assert sorted(c.code for c in classes) == sorted(CONTRACT_CODES | EXTRA_CODES)


def test_every_code_beyond_the_contract_is_documented() -> None:
    text = DOCS.read_text()
    for code in EXTRA_CODES:
        assert f"| `{code}` |" in text, code


ERROR_CLASSES = [
    c for n in errors.__all__ if isinstance(c := getattr(errors, n), type) and issubclass(c, errors.DpError)
]


@pytest.mark.parametrize("cls", ERROR_CLASSES)
def test_every_error_class_says_its_http_status_and_whether_it_is_retryable(cls: type[errors.DpError]) -> None:
    assert 400 <= cls.http_status <= 599
    assert (cls.http_status >= 500) == (
        cls.code in {"internal", "registry-unavailable", "shutting-down", "registry-rejected", "storage-unavailable"}
    )
    exc = cls("boom", retry_after=1.0) if cls is errors.RateLimited else cls("boom")
    expected = (
        cls.code in {"registry-unavailable", "rate-limited", "shutting-down", "storage-unavailable"}
        or cls is errors.DatabaseUnavailable
    )
    assert errors.is_retryable(exc) is expected


def test_a_timeout_is_retryable_and_other_foreign_exceptions_are_not() -> None:
    assert errors.is_retryable(TimeoutError())
    assert not errors.is_retryable(ValueError("x"))


def test_the_contract_file_lists_the_same_codes_when_present() -> None:
    if CONTRACT.exists():  # the shared contract sits beside the checkout on developer machines and CI
        text = CONTRACT.read_text()
        section = text[text.index("## 4. Errors") : text.index("## 5.")]
        assert CONTRACT_CODES <= set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", section))


@pytest.mark.parametrize("cls", ERROR_CLASSES)
def test_every_error_class_maps_to_itself_at_the_boundary(cls: type[errors.DpError]) -> None:
    exc = cls("boom", retry_after=1.0) if cls is errors.RateLimited else cls("boom")
    wrapped = UnexpectedToolError("Error executing tool t")
    wrapped.__cause__ = exc
    assert map_exception(wrapped, "t") is exc
    body = error_result(exc, "a" * 32).structured_content
    assert body is not None
    assert body["error"]["code"] == cls.code
    assert body["error"]["suggestion"]


def test_an_unexpected_exception_is_internal_without_its_message() -> None:
    wrapped = UnexpectedToolError("Error executing tool t")
    wrapped.__cause__ = KeyError("/secret/path/outside/roots")
    err = map_exception(wrapped, "t")
    assert err.code == "internal"
    text = error_result(err, "b" * 32).content[0].text  # type: ignore[union-attr]
    assert "/secret" not in text
    assert json.loads(text)["error"]["trace_id"] == "b" * 32


def test_sdk_argument_validation_becomes_invalid_argument_naming_the_field() -> None:
    class M(BaseModel):
        limit: int

    with pytest.raises(ValidationError) as info:
        M.model_validate({"limit": "many"})
    wrapped = ToolError("Error executing tool t: ...")
    wrapped.__cause__ = info.value
    err = map_exception(wrapped, "t")
    assert err.code == "invalid-argument"
    assert err.context["field"] == "limit"


def test_unknown_tool_is_not_found() -> None:
    assert map_exception(ToolError("Unknown tool: nope"), "nope").code == "not-found"


def test_a_read_only_database_is_internal_with_a_suggestion() -> None:
    wrapped = UnexpectedToolError("x")
    wrapped.__cause__ = map_sqlite_error(sqlite3.OperationalError("attempt to write a readonly database"))
    err = map_exception(wrapped, "t")
    assert err.code == "internal"
    assert "writable" in err.suggestion
