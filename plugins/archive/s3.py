"""The object store, through boto3 (the AWS SDK: the standard credential chain,
retries, and every S3-compatible server speaks its dialect: MinIO, Ceph RGW, AWS).

Each request carries Content-MD5, which S3 servers check on arrival; after the
upload the object's ETag is compared with the MD5 (or, for a multipart upload,
the MD5 of the parts' MD5s) computed from the local file, and the part's
SHA-256 is stored as object metadata. Where the ETag is not an MD5 (AWS with
SSE-KMS), ``verify = "read-back"`` downloads the object and compares SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs
from recorder import UsageError

from recorder.plugins.archive import redact

CHUNK = 1 << 20


MANIFEST_LIMIT = 16 * 2**20  # a session.json larger than this in the bucket is not one of ours


def _text(value: Any, limit: int = 200) -> str:
    """A string from the bucket, fit for a terminal: no control characters (escape sequences)."""
    if not isinstance(value, str):
        return ""
    return "".join(c if c.isprintable() else "?" for c in value[:limit])


@attrs.frozen
class ArchivedSession:
    """A session in the bucket, as ``recorder list --archive`` shows it and a fetch finds it.

    The bucket is untrusted input (anyone who may write to it, any machine that uploads
    there): every field is checked for its type, text is made printable, and a
    ``session.json`` without a session id made of letters and digits is not a session.
    """

    key: str  # the prefix of the session's objects
    session_id: str
    profile: str = ""
    started_at: str = ""
    state: str = ""
    duration: float = 0.0
    parts: int = 0
    support_session_id: str = ""
    labels: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, key: str, body: bytes) -> "ArchivedSession | None":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than Python recurses
            return None
        if not isinstance(data, dict):
            return None
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not (session_id.isascii() and session_id.isalnum()) \
                or len(session_id) > 64:
            return None
        duration = data.get("duration")
        labels = data.get("labels")
        return cls(key=key, session_id=session_id, profile=_text(data.get("profile")),
                   started_at=_text(data.get("started_at"), 40), state=_text(data.get("state"), 40),
                   duration=float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool)
                   and math.isfinite(duration) and duration >= 0 else 0.0,
                   parts=len(data["parts"]) if isinstance(data.get("parts"), list) else 0,
                   support_session_id=_text(data.get("support_session_id")),
                   labels={_text(k): _text(v) for k, v in labels.items() if isinstance(v, str)}
                   if isinstance(labels, dict) else {})


class StoreError(Exception):
    """An upload or request failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def client(target: dict[str, str], timeout: float = 10.0):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError("archive: the S3 client is not installed (pip install 'recorder[archive]')") from None
    session = boto3.session.Session(profile_name=target.get("aws_profile") or None)
    redact.debug_log(session)  # --debug shows botocore's requests: never their credentials
    config = Config(connect_timeout=timeout, read_timeout=timeout * 3, retries={"max_attempts": 2},
                    # Content-MD5 is ours; boto3's own checksums are left to what the server requires
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return session.client("s3", endpoint_url=target.get("endpoint") or None,
                          region_name=target.get("region") or None, config=config)


def explain(exc: BaseException, target: dict[str, str]) -> StoreError:
    """One line saying what went wrong, and whether trying again can help (the server's
    words in it made printable: they reach the terminal)."""
    found = _explain(exc, target)
    return StoreError(_text(str(found), 600), permanent=found.permanent)


def _explain(exc: BaseException, target: dict[str, str]) -> StoreError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    where = f"{target.get('endpoint') or 'AWS S3'} bucket '{target.get('bucket')}'"
    if isinstance(exc, NoCredentialsError):
        return StoreError(f"no credentials for {where} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                          "a shared credentials file or aws_profile)", permanent=True)
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StoreError(f"{where} refused the credentials ({code})", permanent=True)
        if code in ("404", "NoSuchBucket"):
            return StoreError(f"{where} does not exist", permanent=True)
        return StoreError(f"{where}: {code}: {exc}")
    if isinstance(exc, EndpointConnectionError):
        return StoreError(f"{where} cannot be reached: {exc}")
    return StoreError(f"{where}: {type(exc).__name__}: {exc}")


def check(s3, target: dict[str, str]) -> None:
    try:
        s3.head_bucket(Bucket=target["bucket"])
    except Exception as exc:
        raise explain(exc, target) from None


def _chunks(path: Path, chunk_size: int, sha, pace: Callable[..., None]) -> Iterator[tuple[bytes, bytes]]:
    """The file in upload-sized pieces, each with its MD5, hashed into ``sha`` on the way and
    read a megabyte at a time, so that the CPU budget is kept while hashing too."""
    with open(path, "rb") as fh:
        while True:
            piece, md5 = bytearray(), hashlib.md5()
            while len(piece) < chunk_size and (block := fh.read(min(CHUNK, chunk_size - len(piece)))):
                md5.update(block)
                sha.update(block)
                piece += block
                pace()
            if not piece:
                return
            yield bytes(piece), md5.digest()


class Throttle:
    """At most ``rate`` bytes a second (0: no limit), and whatever ``pace`` asks (the CPU
    budget while a recording runs): before a request, for what sending it will cost
    (learnt from the requests before), and at every megabyte hashed."""

    def __init__(self, rate: int, pace: Callable[..., None] = lambda upcoming=0.0: None):
        self.rate, self.pace, self.began, self.sent = rate, pace, time.monotonic(), 0
        self.cpu_per_byte = 5e-9  # signing, checksums and the socket: about 5 ms a megabyte here

    def send(self, body: bytes, request: Callable[[], Any]) -> Any:
        self.pace(self.cpu_per_byte * len(body))
        began = time.thread_time()
        answer = request()
        self.cpu_per_byte = max(self.cpu_per_byte, (time.thread_time() - began) / max(1, len(body)))
        self(len(body))
        return answer

    def __call__(self, sent: int) -> None:
        self.pace()
        if not self.rate:
            return
        self.sent += sent
        ahead = self.sent / self.rate - (time.monotonic() - self.began)
        if ahead > 0:
            time.sleep(ahead)


def upload(s3, target: dict[str, str], key: str, path: Path, sha256: str, *, chunk_size: int,
           throttle: Throttle, remember_upload: Callable[[str], None], verify: str = "auto") -> None:
    """Upload ``path`` to ``key`` and check that what arrived is the file; raises StoreError."""
    bucket = target["bucket"]
    metadata = {"sha256": sha256}
    upload_id = ""
    try:
        # Hashed and sent piece by piece in one pass: a backlog makes progress however small the
        # CPU budget; the whole file's SHA-256 is known before the upload is completed.
        sha = hashlib.sha256()
        pieces = _chunks(path, chunk_size, sha, throttle.pace)
        first, first_md5 = next(pieces, (b"", hashlib.md5().digest()))
        second = next(pieces, None)
        size = len(first)  # the bytes sent (and hashed): what a read-back may return
        if second is None:  # one piece: one PUT, after checking the file is still the part
            _same(sha, sha256, path)
            throttle.send(first, lambda: s3.put_object(Bucket=bucket, Key=key, Body=first, Metadata=metadata,
                                                       ContentMD5=base64.b64encode(first_md5).decode()))
            expected = first_md5.hex()
        else:
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
            remember_upload(upload_id)
            done, md5s, size = [], [], 0
            for number, (body, md5) in enumerate(itertools.chain([(first, first_md5), second], pieces), 1):
                size += len(body)
                answer = throttle.send(body, lambda: s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body,
                    ContentMD5=base64.b64encode(md5).decode()))
                done.append({"PartNumber": number, "ETag": answer["ETag"]})
                md5s.append(md5)
            _same(sha, sha256, path)
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": done})
            upload_id = ""
            remember_upload("")
            expected = hashlib.md5(b"".join(md5s)).hexdigest() + f"-{len(md5s)}"
        _verify(s3, bucket, key, expected, sha256, verify, size)
    except StoreError as exc:
        if upload_id and exc.permanent:
            abort(s3, target, key, upload_id)
            remember_upload("")
        raise
    except Exception as exc:
        raise explain(exc, target) from None


def _same(sha, expected: str, path: Path) -> None:
    if sha.hexdigest() != expected:
        raise StoreError(f"{path.name}: the local file no longer matches its SHA-256", permanent=True)


def _verify(s3, bucket: str, key: str, expected_etag: str, sha256: str, how: str, size: int) -> None:
    head = s3.head_object(Bucket=bucket, Key=key)
    etag = str(head.get("ETag") or "").strip('"')
    metadata = head.get("Metadata")
    if not isinstance(metadata, dict) or metadata.get("sha256") != sha256:
        raise StoreError(f"{key}: the stored object does not carry the part's SHA-256")
    if how == "read-back" or (how == "auto" and not _md5_style(etag)):
        from recorder.plugins.archive.fetching import read_object

        found = hashlib.sha256()
        try:
            for block in read_object(s3, bucket, key, size):  # never more than the part: a megabyte at a time
                found.update(block)
        except StoreError as exc:
            raise StoreError(f"read back, {exc}") from None  # uploaded again, as any other difference
        if found.hexdigest() != sha256:
            raise StoreError(f"{key}: read back, the stored object's SHA-256 differs from the part's")
        return
    if etag != expected_etag:
        raise StoreError(f"{key}: the stored object differs from the part (ETag {etag}, expected {expected_etag})")


def _md5_style(etag: str) -> bool:
    head, _, count = etag.partition("-")
    return len(head) == 32 and all(c in "0123456789abcdef" for c in head) and (not count or count.isdigit())


def abort(s3, target: dict[str, str], key: str, upload_id: str) -> None:
    try:
        s3.abort_multipart_upload(Bucket=target["bucket"], Key=key, UploadId=upload_id)
    except Exception:
        pass  # already completed or gone: nothing is left to clean up


def lock_enabled(s3, target: dict[str, str]) -> bool:
    """The bucket was created with (or given) Object Lock, without which no legal hold is possible."""
    from botocore.exceptions import ClientError

    try:
        found = s3.get_object_lock_configuration(Bucket=target["bucket"])
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) == "ObjectLockConfigurationNotFoundError":
            return False
        raise explain(exc, target) from None
    except Exception as exc:
        raise explain(exc, target) from None
    return (found.get("ObjectLockConfiguration") or {}).get("ObjectLockEnabled") == "Enabled"


def legal_hold(s3, target: dict[str, str], prefix: str, status: str) -> int:
    """Every version of every object under ``prefix/`` gets the Object Lock legal hold ``status``
    (ON or OFF); how many. A version stored before a hold is evidence too."""
    bucket = target["bucket"]
    if not lock_enabled(s3, target):
        raise StoreError(f"bucket '{bucket}' has no Object Lock, so its objects cannot be put under a legal "
                         "hold (create the bucket with Object Lock enabled: docs/archive.md)")
    count = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for version in page.get("Versions") or []:
                s3.put_object_legal_hold(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"],
                                         LegalHold={"Status": status})
                count += 1
    except Exception as exc:
        raise explain(exc, target) from None
    return count


def hold_object(s3, target: dict[str, str], key: str) -> None:
    """The object just uploaded to ``key`` (its latest version) under a legal hold."""
    try:
        s3.put_object_legal_hold(Bucket=target["bucket"], Key=key, LegalHold={"Status": "ON"})
    except Exception as exc:
        raise explain(exc, target) from None


def manifests(s3, target: dict[str, str], prefix: str = "") -> Iterator[ArchivedSession]:
    """Every session in the bucket whose ``session.json`` reads as one (see ArchivedSession);
    anything else, however large, nested or named, is passed over."""
    from recorder.plugins.archive.fetching import read_object

    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=target["bucket"], Prefix=prefix):
        for item in page.get("Contents") or []:
            key = item.get("Key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not key.endswith("/session.json") or not key.isprintable():
                continue
            if not isinstance(item.get("Size"), int) or item["Size"] > MANIFEST_LIMIT:
                continue
            try:
                body = b"".join(read_object(s3, target["bucket"], key, MANIFEST_LIMIT))
            except StoreError:  # grew past the limit since it was listed
                continue
            found = ArchivedSession.parse(key.rsplit("/", 1)[0], body)
            if found is not None:
                yield found
