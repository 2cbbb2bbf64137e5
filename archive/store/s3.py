"""Any S3-compatible bucket through boto3.

Credentials come only from boto3's usual chain (AWS_* variables, profiles,
instance roles): never from the config file, never logged.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from archive.keys import check_key
from archive.store.base import KeyNotFound, SourceFile, StoreError, StoreRefused, StoreUnavailable

# Error codes meaning "no such object" across S3 implementations.
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket"})
# The store refuses this client, whatever the object: credentials wrong,
# expired (an STS session ending an hour into a long verify) or lacking the
# right, or a clock too far off to sign with. A HEAD answer has no body to
# name its error: its status is its code. Not every 403 is one (a GET of an
# object archived to Glacier is InvalidObjectState): that object's own fault.
ACCESS_REFUSED_CODES = frozenset({
    "401", "403", "AccessDenied", "AllAccessDisabled", "AccountProblem", "ExpiredToken", "InvalidAccessKeyId",
    "InvalidSecurity", "InvalidToken", "NotSignedUp", "RequestTimeTooSkewed", "SignatureDoesNotMatch",
    "TokenRefreshRequired",
})
# The store is busy or failing for now (throttling, a timeout it reports): asking again later may work.
TRANSIENT_CODES = frozenset({"429", "InternalError", "RequestLimitExceeded", "RequestTimeout", "ServiceUnavailable",
                             "SlowDown", "Throttling", "ThrottlingException", "TooManyRequests"})


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, url: str | None = None) -> None:
        if not bucket:
            raise StoreError("an s3:// archive URL needs a bucket name: s3://bucket/optional/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.url = url or f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> "S3Store":
        parts = urlsplit(url)
        return cls(parts.netloc, parts.path, endpoint_url=endpoint_url, url=url)

    @property
    def client(self) -> Any:
        # Built on first use: constructing a store does no I/O and needs no credentials.
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=5,
                        read_timeout=60,
                        s3={"addressing_style": "path"},
                    ),
                )
            return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in MISSING_CODES:
                raise KeyNotFound(kwargs.get("Key", what)) from exc
            if code in MISSING_BUCKET_CODES:
                raise StoreRefused(f"{what}: bucket {self.bucket!r} does not exist") from exc
            if status >= 500 or code in TRANSIENT_CODES:
                raise StoreUnavailable(f"{what}: {self.url} answered {code or status}") from exc
            if code in ACCESS_REFUSED_CODES:
                raise StoreRefused(f"{what}: {self.url} answered {code or status}: {exc}") from exc
            raise StoreError(f"{what}: {self.url} answered {code or status}: {exc}") from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StoreRefused(f"{what}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile)") from exc
        except BotoCoreError as exc:
            # Connection refused, timeouts, DNS: the store is out of reach.
            raise StoreUnavailable(f"{what}: cannot reach {self.endpoint_url or 'S3'}: {exc}") from exc

    def ensure(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("head bucket", self.client.head_bucket, Bucket=self.bucket)
        except (StoreError, ClientError) as exc:
            if isinstance(exc, StoreUnavailable):
                raise
            self._call("create bucket", self.client.create_bucket, Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(f"put {key}", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream", offset: int = 0) -> None:
        with SourceFile(path, offset) as body:  # boto3 reads it as it sends (and again from the start if it retries)
            self._call(f"put {key}", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=body,
                       ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self._call(f"get {key}", self._body, Bucket=self.bucket, Key=self._key(key))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._call(f"get {key}", self._body, Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{start + length - 1}")

    def _body(self, **kwargs: Any) -> bytes:
        # Read within _call: a connection dropped mid-body (ResponseStreamingError,
        # IncompleteReadError, a read timeout) is the store out of reach too.
        return self.client.get_object(**kwargs)["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._call(f"head {key}", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except KeyNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full))
        # Pages are fetched lazily so errors are translated page by page. Keys
        # are sorted before yielding: some S3-compatible stores (SeaweedFS) list
        # in directory-walk order ('a/b' before 'a-b'), not in lexical order.
        found: list[str] = []
        while (page := self._call(f"list {prefix or 'the keys'}", lambda: next(pages, None))) is not None:
            for obj in page.get("Contents", []):
                found.append(obj["Key"][strip:])
        yield from sorted(found)
