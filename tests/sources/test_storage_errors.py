"""The one map from storage failures to our errors: every class it produces, from the texts pyarrow
(the AWS SDK) and deltalake (object_store) really raise (captured from moto and refused ports)."""

from __future__ import annotations

import pytest

from dataproduct_mcp.errors import DpError, FileNotFound, Forbidden, StorageUnavailable
from dataproduct_mcp.sources.storage import S3Config, storage_error

CASES = [
    (
        "When listing objects under key 'a/' in bucket 'data': AWS Error SIGNATURE_DOES_NOT_MATCH during "
        "ListObjectsV2 operation: The request signature we calculated does not match the signature you provided.",
        Forbidden,
    ),
    (
        "When listing objects under key 'a/' in bucket 'data': AWS Error INVALID_ACCESS_KEY_ID during "
        "ListObjectsV2 operation: The AWS Access Key Id you provided does not exist in our records.",
        Forbidden,
    ),
    (
        "When getting information for key 'x' in bucket 'b': AWS Error ACCESS_DENIED during HeadObject "
        "operation: No response body.",
        Forbidden,
    ),
    ("When reading 'k' in bucket 'b': AWS Error UNKNOWN (HTTP status 403) during GetObject operation", Forbidden),
    ("Generic S3 error: Error performing GET ... 403 Forbidden: <Code>AccessDenied</Code>", Forbidden),
    (
        "When listing objects under key '' in bucket 'gone': AWS Error NO_SUCH_BUCKET during ListObjectsV2 "
        "operation: The specified bucket does not exist",
        FileNotFound,
    ),
    ("When reading 'k' in bucket 'b': AWS Error UNKNOWN (HTTP status 404) during GetObject operation", FileNotFound),
    ("Generic delta kernel error: No files in log segment", FileNotFound),
    (
        "When getting information for key 'a/x.csv' in bucket 'data': AWS Error NETWORK_CONNECTION during "
        "HeadObject operation: curlCode: 7, Could not connect to server",
        StorageUnavailable,
    ),
    ("AWS Error SLOW_DOWN during GetObject operation: Please reduce your request rate.", StorageUnavailable),
    ("AWS Error UNKNOWN (HTTP status 503) during GetObject operation", StorageUnavailable),
    (
        "Kernel error -> Generic S3 error: Error performing GET http://127.0.0.1:1/lake/t1/_delta_log/_last_checkpoint"
        " after 10 retries - HTTP error - error sending request - client error (Connect) - tcp connect error - "
        "Connection refused (os error 111)",
        StorageUnavailable,
    ),
    ("AWS Error REQUEST_TIMEOUT during GetObject operation: timed out", StorageUnavailable),
    ("something storage said that we have never seen", StorageUnavailable),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_every_storage_failure_maps_to_one_of_our_errors(text: str, expected: type[DpError]) -> None:
    err = storage_error(OSError(text), "s3://data/a/x.csv")
    assert type(err) is expected
    assert err.context["path"] == "s3://data/a/x.csv"
    if expected is Forbidden:
        assert "DPMCP_S3_ACCESS_KEY_ID" in err.suggestion and "DPMCP_S3_SECRET_ACCESS_KEY" in err.suggestion
    assert "Traceback" not in err.message


def test_a_missing_object_and_our_own_errors_pass_through() -> None:
    assert type(storage_error(FileNotFoundError("x"), "s3://b/k")) is FileNotFound
    own = Forbidden("no")
    assert storage_error(own, "s3://b/k") is own
    assert StorageUnavailable.retryable and StorageUnavailable.http_status == 503


def test_the_secret_is_neither_shown_nor_in_the_repr_of_the_config() -> None:
    config = S3Config(access_key_id="AKIA", secret_access_key="very-secret", session_token="tok-secret")
    assert "very-secret" not in repr(config) and "tok-secret" not in repr(config)
    assert config.pyarrow_kwargs()["secret_key"] == "very-secret"
    assert not S3Config(endpoint_url="https://s3.example:9000").allow_http
    assert S3Config(endpoint_url="http://127.0.0.1:9000").delta_storage_options()["AWS_ALLOW_HTTP"] == "true"
