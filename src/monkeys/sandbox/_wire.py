"""Length-prefixed messages between the pool (main process) and its fork-server workers.

A message is a JSON header plus raw byte blobs, so programs, stdin and output never go through an
encoder. Standard library only: the worker imports this under the system Python, outside the venv.
"""

from __future__ import annotations

import json
import os
import struct

_LEN = struct.Struct("!I")


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


read_exact = _read_exact


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send(fd: int, header: dict, blobs: list[bytes] | tuple[bytes, ...] = ()) -> None:
    """Write one message: header (JSON) then each blob, every part length-prefixed."""
    head = json.dumps({**header, "_n": len(blobs)}).encode()
    parts = [_LEN.pack(len(head)), head]
    for blob in blobs:
        parts += [_LEN.pack(len(blob)), blob]
    _write_all(fd, b"".join(parts))


def recv(fd: int) -> tuple[dict, list[bytes]]:
    """Read one message written by `send`. Raises EOFError when the peer is gone."""
    header = json.loads(_read_exact(fd, _LEN.unpack(_read_exact(fd, 4))[0]))
    blobs = [_read_exact(fd, _LEN.unpack(_read_exact(fd, 4))[0]) for _ in range(header.pop("_n"))]
    return header, blobs
