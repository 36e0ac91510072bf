"""A real HTTP server on 127.0.0.1 (port 0) playing the ORD registry, failing on command.

Each request takes the next scripted behaviour (``script``), else ``default``:
``ok`` (200), ``dup`` handling is automatic (a known Idempotency-Key is acknowledged again without
counting a second delivery), ``503``/``500``/``429``/``400``/``422``, ``reset`` (close the socket
with RST), ``hang`` (read the request, never answer until ``release()``), ``slow`` (answer 200 one
byte at a time), ``flaky`` (alternate 503 and 200).  Every request is recorded with its key.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    key: str | None
    authorization: str | None
    body: bytes
    path: str
    behaviour: str


@dataclass
class RegistryFake:
    default: str = "ok"
    script: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # key -> deliveries acknowledged as NEW
    replays: Counter[str] = field(default_factory=Counter)  # key -> acknowledged again (dedup)
    triggers: int = 0
    url: str = ""
    _server: asyncio.base_events.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _flip: bool = False
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> RegistryFake:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/ord/documents"
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()

    def release(self) -> None:
        self._release.set()

    async def wait_for(self, predicate: Any) -> None:
        """Wait until ``predicate(self)`` holds (re-checked on every request)."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _next(self) -> str:
        behaviour = self.script.pop(0) if self.script else self.default
        if behaviour == "flaky":
            self._flip = not self._flip
            return "503" if self._flip else "ok"
        return behaviour

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if path.endswith("/trigger"):
                    self.triggers += 1
                    await self._answer(writer, 202, b"")
                    continue
                behaviour = self._next()
                key = headers.get("idempotency-key")
                self.requests.append(Received(key, headers.get("authorization"), body, path, behaviour))
                await self._notify()
                if not await self._act(behaviour, key, body, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _act(self, behaviour: str, key: str | None, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if behaviour == "hang":
            await self._release.wait()
            return False
        if behaviour.isdigit() and int(behaviour) >= 400:
            await self._answer(writer, int(behaviour), json.dumps({"error": f"scripted {behaviour}"}).encode())
            return True
        assert key, "the publisher must send an Idempotency-Key"
        json.loads(body)  # the body is a JSON document
        if key in self.accepted:
            self.replays[key] += 1
            status = 200
        else:
            self.accepted[key] += 1
            status = 201
        await self._notify()
        payload = json.dumps({"idempotency_key": key}).encode()
        if behaviour == "slow":
            writer.write(f"HTTP/1.1 {status} OK\r\nContent-Length: {len(payload)}\r\n\r\n".encode())
            for byte in payload:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.01)
            return True
        await self._answer(writer, status, payload)
        return True

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, payload: bytes) -> None:
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
