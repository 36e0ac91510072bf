"""A real S3-compatible server for tests: moto's server on 127.0.0.1 (a free port), with IAM
authentication enforced, so a wrong secret is refused by the server itself (no client mock).

Start-up creates an IAM user allowed ``s3:*`` and its access key (while moto still lets
unauthenticated calls through), then turns authentication on (moto's ``/moto-api/reset-auth``
with a count of 0): from then on every request must be signed with that key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs

from dataproduct_mcp.sources.storage import S3Config, Storage

REGION = "us-east-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str

    def config(self, **overrides: Any) -> S3Config:
        base: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region": REGION,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "connect_timeout_s": 2.0,
            "request_timeout_s": 10.0,
            "max_attempts": 2,
        }
        return S3Config(**{**base, **overrides})

    def storage(self, block_bytes: int = 256 * 1024, **overrides: Any) -> Storage:
        return Storage(self.config(**overrides), block_bytes=block_bytes)

    def fs(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(**self.config().pyarrow_kwargs(), allow_bucket_creation=True)

    def env(self) -> dict[str, str]:
        """The DPMCP_S3_* settings of a server process talking to this S3."""
        return {
            "DPMCP_S3_ENDPOINT_URL": self.endpoint,
            "DPMCP_S3_REGION": REGION,
            "DPMCP_S3_ACCESS_KEY_ID": self.access_key,
            "DPMCP_S3_SECRET_ACCESS_KEY": self.secret_key,
            "DPMCP_S3_CONNECT_TIMEOUT_SECONDS": "2",
            "DPMCP_S3_REQUEST_TIMEOUT_SECONDS": "10",
            "DPMCP_S3_MAX_ATTEMPTS": "2",
        }

    def delta_options(self) -> dict[str, str]:
        return self.config().delta_storage_options() | {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}

    def bucket(self) -> str:
        """A fresh bucket (each test gets its own)."""
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.fs().create_dir(name)
        return name

    def put(self, key: str, data: bytes) -> None:
        """``key`` is ``bucket/path``."""
        with self.fs().open_output_stream(key, compression=None) as out:
            out.write(data)


@contextlib.contextmanager
def running_s3() -> Iterator[S3Server]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        iam = boto3.client(
            "iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup"
        )
        iam.create_user(UserName="dpmcp-tests")
        iam.put_user_policy(UserName="dpmcp-tests", PolicyName="s3", PolicyDocument=json.dumps(ALLOW_ALL))
        key = iam.create_access_key(UserName="dpmcp-tests")["AccessKey"]
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # authentication is enforced from now on
            assert json.loads(answer.read())["status"] == "ok"
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.stop()
