"""An archived session fetched from the bucket into the private cache.

What the bucket holds is untrusted input: anyone who may write there (or any
machine that uploads there) can put any object under a session's prefix. So the
session's ``session.json`` is read first, at most MANIFEST_LIMIT bytes, and
checked by recorder's own manifest reader (types, plain file names); then only
the files it names are fetched (each sealed part, at most the size the manifest
gives it, and the part's side files), and the receipt. Every object is streamed
to its file with a limit: nothing is read whole into memory, and an object
larger than it should be is refused, named.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Iterator

from recorder import ManifestError, read_manifest, write_private

from recorder.plugins.archive.s3 import CHUNK, MANIFEST_LIMIT, ArchivedSession, StoreError

SIDECAR_LIMIT = 16 * 2**20  # a part's side file (an encryption tail, a checksum): small
RECEIPT = "receipt.json"
INDEX_NAME = re.compile(r"text-index\.sqlite(\.[a-z0-9]{1,16})?")  # the text index, plain or protected
MANIFEST = "session.json"


def read_object(s3, bucket: str, key: str, limit: int) -> Iterator[bytes]:
    """The object's bytes a megabyte at a time, never more than ``limit`` of them: a larger
    object is refused (StoreError) before or while it is read, never buffered whole."""
    answer = s3.get_object(Bucket=bucket, Key=key)
    body = answer["Body"]
    try:
        length = answer.get("ContentLength")
        if isinstance(length, int) and length > limit:
            raise StoreError(f"{key}: {length} bytes, more than the {limit} it may have", permanent=True)
        seen = 0
        while block := body.read(min(CHUNK, limit + 1 - seen)):
            seen += len(block)
            if seen > limit:
                raise StoreError(f"{key}: more than the {limit} bytes it may have", permanent=True)
            yield block
            if seen == limit:  # one more byte would be too many: ask for it
                if body.read(1):
                    raise StoreError(f"{key}: more than the {limit} bytes it may have", permanent=True)
                return
    finally:
        body.close()


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey")


def download(s3, bucket: str, prefix: str, into: Path, receipt: Path) -> None:
    """The session under ``prefix`` into the folder ``into``, its receipt to ``receipt``;
    raises StoreError for a session.json that is not a session's, or an object too large."""
    data, manifest = _manifest(s3, bucket, prefix, into)
    wanted: dict[str, int] = {}
    for part in manifest.parts:
        if part.state == "sealed" and part.file:
            wanted[part.file] = part.size
            wanted.update({name: SIDECAR_LIMIT for name in part.sidecars if name})
    for name, limit in wanted.items():
        if name in (MANIFEST, RECEIPT):
            continue  # a manifest naming a part after these must not replace them
        _fetch(s3, bucket, f"{prefix}/{name}", into / name, limit)
    _fetch(s3, bucket, f"{prefix}/{RECEIPT}", receipt, MANIFEST_LIMIT)
    write_private(into / MANIFEST, [data])  # last: the folder is a session once its parts are there


def _manifest(s3, bucket: str, prefix: str, into: Path):
    """(bytes, Manifest) of the session.json under ``prefix``, checked as recorder's own reader checks one."""
    key = f"{prefix}/{MANIFEST}"
    data = b"".join(read_object(s3, bucket, key, MANIFEST_LIMIT))
    if ArchivedSession.parse(prefix, data) is None:  # not JSON, nested too deep, no session id...
        raise StoreError(f"{key} is not a session's manifest", permanent=True)
    with tempfile.TemporaryDirectory(dir=into.parent, prefix=".fetch-") as checking:
        write_private(Path(checking) / MANIFEST, [data])
        try:
            return data, read_manifest(Path(checking))  # recorder's own checks: types, plain file names
        except ManifestError as exc:
            raise StoreError(f"{key}: {exc}", permanent=True) from None


def download_index(s3, bucket: str, prefix: str, into: Path) -> bool:
    """Only the session's ``session.json`` and the text index it lists (for ``recorder search
    --archive``: no part) into the folder ``into``; False when it lists none. The index is
    fetched again only when its hash changed, at most the size the manifest gives it, and
    its SHA-256 checked (StoreError when it differs)."""
    data, manifest = _manifest(s3, bucket, prefix, into)
    entry = manifest.text_index
    if entry is None or not INDEX_NAME.fullmatch(entry.file):
        return False
    path = into / entry.file
    if not (path.is_file() and _sha256(path) == entry.sha256):
        _fetch(s3, bucket, f"{prefix}/{entry.file}", path, entry.size)
        if not path.is_file():
            return False
        if _sha256(path) != entry.sha256:
            path.unlink()
            raise StoreError(f"{prefix}/{entry.file}: its SHA-256 is not the one its session.json gives",
                             permanent=True)
    write_private(into / MANIFEST, [data])
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _fetch(s3, bucket: str, key: str, path: Path, limit: int) -> None:
    """One object to ``path``; one that is not there is left out (verify then says so)."""
    blocks = read_object(s3, bucket, key, limit)
    try:
        first = next(blocks, b"")
    except StoreError:
        raise
    except Exception as exc:
        if _missing(exc):
            return
        raise
    write_private(path, _chain(first, blocks))


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
