"""Writing a part encrypted: the encoder's bytes go through age's STREAM, never to disk in the clear.

age encrypts the payload in chunks of 64 KiB of plaintext, each authenticated
on its own; a chunk reaches the file only once it is full, and the last one
(marked as last) only when the part is sealed. A process killed mid-part
therefore leaves a file whose chunks decrypt but whose end is missing, and up
to 64 KiB of the part (many seconds of a quiet screen) only in memory.

So, about once a second, the plaintext that is not yet in a full chunk on disk
is written as a small age file of its own beside the part, the *tail*
(replaced whole each time, after the part itself is fsynced). age's readers
stop one chunk short on a file without its last chunk, so the tail starts one
full chunk earlier than the data missing from the file. A key holder joins the
two (``recorder recover --identity``): everything up to about a second before
the kill. The tail begins with one line of plaintext metadata (where it starts
in the part, frames and seconds so far) so that crash recovery on the
recording machine, which has no key, can still say how long the part is.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import pyrage
from recorder import platform, write_private

from .age_format import CHUNK, SEALED_CHUNK, payload_start, tail_line


class _Plaintext:
    """What pyrage reads: the encoder's bytes, as they come."""

    def __init__(self, stream: "EncryptedPartStream"):
        self.stream, self.pending = stream, b""

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            self.pending = self.stream._queue.get()  # None: the part is complete
            if self.pending is None:
                self.pending = b""
                return b""
        if size is None or size < 0:
            size = len(self.pending)
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


class _Ciphertext:
    """Where pyrage writes: the part's file, counting the full chunks that reached it."""

    def __init__(self, stream: "EncryptedPartStream"):
        self.stream = stream

    def write(self, data) -> int:
        data = bytes(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.stream.fd, view):]
        self.stream._written(data)
        return len(data)

    def flush(self) -> None:
        pass


class EncryptedPartStream:
    """A write-only stream an encoder writes a part into (see ``open_part(..., stream=)``)."""

    def __init__(self, fd: int, tail: Path, recipients: list):
        self.fd, self.tail, self.recipients = fd, tail, recipients
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._tail_lock = threading.Lock()  # a checkpoint never writes a tail after close removed it
        self._fed = 0  # plaintext bytes written by the encoder
        self._kept = bytearray()  # plaintext from _kept_from on: the last full chunk on disk, and after
        self._kept_from = 0
        self._header = b""  # the age header, until its end is known
        self._payload_at: int | None = None  # where the first chunk starts in the file
        self._size = 0  # ciphertext bytes in the file
        self._checkpointed: tuple[int, int] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._encrypt, name="recorder-encrypt", daemon=True)
        self._thread.start()

    # -- the encoder's side
    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise ValueError("write to a sealed part")
        data = bytes(data)
        with self._lock:
            self._fed += len(data)
            self._kept += data
        self._queue.put(data)
        return len(data)

    def flush(self) -> None:
        if self._error is not None:
            raise self._error

    # -- the encryption thread
    def _encrypt(self) -> None:
        try:
            pyrage.encrypt_io(_Plaintext(self), _Ciphertext(self), self.recipients)
        except BaseException as exc:  # a full disk, mostly: the encoder's next write raises it
            self._error = self._error or (exc if isinstance(exc, OSError) else OSError(f"encryption failed: {exc}"))

    def _written(self, data: bytes) -> None:
        with self._lock:
            self._size += len(data)
            if self._payload_at is None:
                self._header += data
                self._payload_at = payload_start(self._header)
                if self._payload_at is not None:
                    self._header = b""
            # age's readers stop one chunk short of a file without its last chunk: keep that chunk too
            keep_from = max(0, self.full_chunks() - 1) * CHUNK
            if keep_from > self._kept_from:
                del self._kept[:keep_from - self._kept_from]
                self._kept_from = keep_from

    @property
    def error(self) -> BaseException | None:
        return self._error

    def full_chunks(self) -> int:
        if self._payload_at is None or self._size < self._payload_at:
            return 0
        return (self._size - self._payload_at) // SEALED_CHUNK

    # -- about once a second, and at the end
    def checkpoint(self, frames: int = 0, duration: float = 0.0) -> None:
        """Make what the encoder wrote survive a kill: fsync the part, then replace the tail."""
        with self._tail_lock:
            with self._lock:
                state = (self._fed, self._size)
                if state == self._checkpointed or self._closed:
                    return
                offset, plaintext = self._kept_from, bytes(self._kept)
            try:
                if self._checkpointed is None or state[1] != self._checkpointed[1]:
                    platform.fsync(self.fd)  # new chunks: on disk before the tail that counts on them
                write_private(self.tail, tail_line(offset, frames, duration)
                              + pyrage.encrypt(plaintext, self.recipients))
            except OSError:
                return  # a full disk shows up in the part's own writes, where it is handled
            self._checkpointed = state

    def close(self) -> None:
        """The last chunk, marked as last: the part is a complete age file; its tail goes."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            platform.fsync(self.fd)
            with self._tail_lock:
                try:
                    self.tail.unlink()
                except FileNotFoundError:
                    pass
        finally:
            os.close(self.fd)
