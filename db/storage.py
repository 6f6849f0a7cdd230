"""Where attachment bytes live: a small interface, content-addressed by SHA-256.

`LocalStorage` keeps them in the data folder (`blobs/ab/abcdef...`), written to a temporary
file and renamed into place, so a reader never sees half a file. `S3Storage` keeps them in
a bucket of any S3-compatible store (AWS S3, MinIO, Ceph, OSS ...), path-style, signed with
AWS Signature Version 4."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Store `data` under `key` (its SHA-256); False when it was there already."""

    async def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None."""

    async def delete(self, key: str) -> None:
        """Remove `key` (nothing when absent)."""


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LocalStorage:
    root: Path

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError("not a content key")
        return self.root / "blobs" / key[:2] / key

    def _put(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put, key, data)

    def _get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


@dataclass(frozen=True)
class S3Storage:
    endpoint: str  # e.g. https://s3.cn-northwest-1.amazonaws.com.cn or http://127.0.0.1:9000
    bucket: str
    region: str
    access_key: str
    secret_key: str

    def _url(self, key: str) -> str:
        return f"{self.endpoint.rstrip('/')}/{self.bucket}/{key}"

    def signed_headers(
        self, method: str, url: str, payload: bytes, now: datetime.datetime, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The headers of a request signed with AWS Signature Version 4."""
        parts = urllib.parse.urlsplit(url)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = now.strftime("%Y%m%d")
        payload_hash = hashlib.sha256(payload).hexdigest()
        headers = {"host": parts.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        headers.update({k.lower(): v.strip() for k, v in (extra or {}).items()})
        names = sorted(headers)
        query = "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        )
        canonical = "\n".join(
            [
                method,
                urllib.parse.quote(parts.path or "/", safe="/-_.~"),
                query,
                "".join(f"{n}:{headers[n]}\n" for n in names),
                ";".join(names),
                payload_hash,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = f"AWS4{self.secret_key}".encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers

    async def _request(
        self, method: str, key: str, payload: bytes = b"", extra: dict[str, str] | None = None
    ) -> httpx.Response:
        url = self._url(key)
        headers = self.signed_headers(method, url, payload, datetime.datetime.now(datetime.UTC), extra)
        headers.pop("host")
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await client.request(method, url, content=payload, headers=headers)

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        if (await self._request("HEAD", key)).status_code == 200:
            return False
        response = await self._request("PUT", key, data, {"content-type": content_type})
        response.raise_for_status()
        return True

    async def get(self, key: str) -> bytes | None:
        response = await self._request("GET", key)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content

    async def delete(self, key: str) -> None:
        response = await self._request("DELETE", key)
        if response.status_code not in (200, 204, 404):
            response.raise_for_status()
