"""Stored files in S3-compatible object storage (AWS, Scaleway, OVH, MinIO, Garage…), so that
several web hosts share nothing but PostgreSQL and the bucket.

Configured by `STORAGE_URL=s3://bucket/prefix?endpoint_url=https://…&region=fr-par`; the
credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, or a profile), never from the URL. Object keys are the storage
names under the prefix; writes are whole objects (S3 shows no half-written object), large
files go up in parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from workflow.plumbing.storage import FileStore, check_name

# Parts of 16 Mo, two at a time: an export of 100,000 dossiers goes up without being held
# in memory, and a web worker uploading a piece (10 Mo at most) sends it in one request.
TRANSFER = TransferConfig(multipart_chunksize=16 * 1024 * 1024, max_concurrency=2)
MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage(FileStore):
    """Files as objects `<prefix><name>` of one bucket."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, **client_args: Any):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3", config=Config(retries={"mode": "standard", "max_attempts": 5}), **client_args
        )

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        """`s3://bucket/prefix?endpoint_url=…&region=…` as a storage."""
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"no bucket in the storage URL: {url}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        args: dict[str, Any] = {}
        if query.get("endpoint_url"):
            args["endpoint_url"] = query["endpoint_url"]
        if query.get("region"):
            args["region_name"] = query["region"]
        return cls(parts.netloc, parts.path, **args)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def child(self, folder: str) -> FileStore:
        return S3Storage(self.bucket, self.prefix + folder, client=self.client)

    def key(self, name: str) -> str:
        """The object key of a stored name; refuses anything that is not one of our names."""
        return self.prefix + check_name(name)

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def put_file(self, name: str, source: BinaryIO) -> None:
        self.client.upload_fileobj(source, self.bucket, self.key(name), Config=TRANSFER)

    def open(self, name: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as error:
            raise _missing(error, name) from error
        return cast(BinaryIO, answer["Body"])

    def exists(self, name: str) -> bool:
        try:
            self.size(name)
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as error:
            raise _missing(error, name) from error
        return int(answer["ContentLength"])

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix) :]
                try:
                    yield check_name(name)
                except ValueError:
                    continue  # someone else's object under the prefix

    def delete(self, name: str) -> None:
        # S3 answers a deletion of a missing key with success: nothing to catch.
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))


def _missing(error: ClientError, name: str) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in MISSING:
        return FileNotFoundError(name)
    return error
