"""A real S3 server on loopback for the archive tests: moto in server mode, in a
process of its own, and a TCP relay in front of it that a test can cut (the
endpoint going away mid-upload) or make corrupt the next upload's body."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, **env: str):
        command = Path(sys.executable).with_name("moto_server")
        if not command.exists():
            pytest.fail("moto is not installed: the archive tests need its S3 server (pip install 'moto[server]')")
        self.port = free_port()
        self.proc = subprocess.Popen([str(command), "-H", "127.0.0.1", "-p", str(self.port)],
                                     env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="test",
                            aws_secret_access_key="test", region_name="us-east-1")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Relay:
    """127.0.0.1:port -> the server. ``cut()`` drops every connection and refuses new
    ones until ``restore()``; ``corrupt_next()`` flips one byte deep in the next
    request that carries a large body."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.connections: list[socket.socket] = []
        self.corrupt = threading.Event()
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self.listener.close()
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.connections.clear()

    def corrupt_next(self) -> None:
        self.corrupt.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        seen = 0
        try:
            while data := source.recv(65536):
                seen += len(data)
                if upstream and seen > 200_000 and self.corrupt.is_set():
                    self.corrupt.clear()
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
