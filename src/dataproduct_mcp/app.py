"""The process-level application object: built once at start, closed at shutdown.

It owns everything durable (settings, the store, services). MCP sessions come and go
(under stdio the SDK's lifespan runs per connection); the application outlives them.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from dataproduct_mcp import __version__
from dataproduct_mcp.config import Settings
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence import Store, open_store
from dataproduct_mcp.services.products import ProductService

__all__ = ["Application"]

log = get_logger(__name__)


@dataclass
class Application:
    settings: Settings
    store: Store
    products: ProductService
    started_monotonic: float = field(default_factory=time.monotonic)
    transport: str = "in-process"
    http_url: str | None = None
    started: bool = False
    _open: bool = False

    @classmethod
    def build(cls, settings: Settings) -> Application:
        store = open_store(settings)
        secret = hashlib.sha256(f"dpmcp-cursor:{settings.sqlite_path}:{settings.ord_namespace}".encode()).digest()
        products = ProductService(
            store,
            namespace=settings.ord_namespace,
            cursor_secret=secret,
            max_result_bytes=settings.max_result_bytes,
        )
        return cls(settings=settings, store=store, products=products)

    async def start(self) -> None:
        await self.store.open()
        self._open = True
        log.info(
            "dataproduct-mcp %s started (backend=%s, namespace=%s)",
            __version__,
            self.store.backend,
            self.settings.ord_namespace,
        )

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self.store.close()
            log.info("dataproduct-mcp stopped")

    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def default_tenant(self) -> str:
        return self.settings.tenant
