"""The ORD registry client (push): breaker → retry (tenacity) → httpx ``POST`` with an idempotency key.

- ``2xx``: delivered.  The optional aggregator trigger URL is then POSTed once (best effort).
- ``408``, ``429``, ``5xx``, timeouts, refused or reset connections: transient.  Retried with
  exponential backoff and full jitter up to ``attempts`` tries; each failure counts against the
  breaker.  Still failing (or the breaker opened meanwhile) → :class:`RegistryUnavailable`.
- other ``4xx``: :class:`RegistryRejected` at once (never retried; the registry is up, so the
  breaker counts it as a success).
- breaker open: :class:`RegistryUnavailable` at once, without touching the network.

Third-party exceptions (httpx) are mapped here and nowhere else. httpx and tenacity are imported
when a client is built (a registry is configured), not when this module is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataproduct_mcp.errors import RegistryRejected, RegistryUnavailable
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.ord.breaker import CircuitBreaker

if TYPE_CHECKING:
    import httpx

__all__ = ["Delivery", "RegistryClient"]

log = get_logger(__name__)

MAX_REASON_CHARS = 500


class _Transient(Exception):  # noqa: N818 - an internal retry signal
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    status: int
    tries: int
    trigger_status: int | None = None


class RegistryClient:
    def __init__(
        self,
        url: str,
        *,
        breaker: CircuitBreaker,
        token: str | None = None,
        trigger_url: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx
        import tenacity  # noqa: F401 - loaded with the client, not in the middle of the first delivery

        self.url = url
        self.trigger_url = trigger_url
        self.breaker = breaker
        self.attempts = attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.posts = 0  # requests sent (for status and tests)
        headers = {"User-Agent": "dataproduct-mcp", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def deliver(self, body: bytes, idempotency_key: str) -> Delivery:
        """POST one ORD document; raises RegistryRejected or RegistryUnavailable (see module doc)."""
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

        if not self.breaker.allow():
            raise RegistryUnavailable(
                "the ORD registry circuit breaker is open; the publication stays queued",
                retry_after=round(self.breaker.retry_after, 3),
            )
        tries = 0
        first = True
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_random_exponential(multiplier=self.backoff_initial, max=self.backoff_max),
                retry=retry_if_exception_type(_Transient),
                reraise=True,
            ):
                with attempt:
                    if not first and not self.breaker.allow():
                        raise RegistryUnavailable(
                            "the ORD registry circuit breaker opened while retrying; the publication stays queued",
                            retry_after=round(self.breaker.retry_after, 3),
                        )
                    first = False
                    tries += 1
                    status = await self._post_once(body, idempotency_key)
        except _Transient as exc:
            raise RegistryUnavailable(
                f"the ORD registry did not accept the publication after {tries} tries: {exc.reason}",
                retry_after=round(self.breaker.retry_after, 3),
                tries=tries,
            ) from None
        trigger = await self._trigger() if self.trigger_url else None
        return Delivery(status=status, tries=tries, trigger_status=trigger)

    async def _post_once(self, body: bytes, key: str) -> int:
        import httpx

        self.posts += 1
        try:
            response = await self._http.post(
                self.url, content=body, headers={"Content-Type": "application/json", "Idempotency-Key": key}
            )
            await response.aread()
        except httpx.TimeoutException as exc:
            self.breaker.record_failure()
            raise _Transient(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # refused, reset, protocol errors
            self.breaker.record_failure()
            raise _Transient(f"connection failed ({type(exc).__name__})") from None
        except BaseException:
            self.breaker.release()
            raise
        status = response.status_code
        if status < 300:
            self.breaker.record_success()
            log.info("registry accepted %s (HTTP %d)", key, status)
            return status
        if status in (408, 429) or status >= 500:
            self.breaker.record_failure()
            raise _Transient(f"HTTP {status}")
        self.breaker.record_success()  # the registry answered: it is up, it refused this document
        reason = response.text[:MAX_REASON_CHARS].strip()
        raise RegistryRejected(
            f"the ORD registry rejected the publication with HTTP {status}" + (f": {reason}" if reason else ""),
            http_status=status,
            idempotency_key=key,
        )

    async def _trigger(self) -> int | None:
        """Ask the aggregator to re-pull (best effort: a failure is logged, the delivery stands)."""
        import httpx

        assert self.trigger_url is not None
        try:
            response = await self._http.post(self.trigger_url, content=b"", headers={"Content-Length": "0"})
        except httpx.HTTPError as exc:
            log.warning("aggregator re-pull trigger failed: %s", type(exc).__name__)
            return None
        if response.status_code >= 300:
            log.warning("aggregator re-pull trigger answered HTTP %d", response.status_code)
        return response.status_code
