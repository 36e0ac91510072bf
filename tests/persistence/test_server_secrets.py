"""Server secrets on both backends: 32 random bytes made once per name and stored, the same for
every store on the database (replicas, restarts), also when first uses race."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from dataproduct_mcp.persistence.base import Store

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]


async def test_a_secret_is_made_once_and_survives_a_restart(make_store: Callable[[], Store]) -> None:
    store = make_store()
    await store.open()
    try:
        first = await store.server_secret("cursor")
        assert isinstance(first, bytes) and len(first) == 32
        assert await store.server_secret("cursor") == first
        other = await store.server_secret("other")
        assert len(other) == 32 and other != first  # random per name, not derived from anything
    finally:
        await store.close()
    reopened = make_store()
    await reopened.open()
    try:
        assert await reopened.server_secret("cursor") == first
    finally:
        await reopened.close()


async def test_two_stores_on_one_database_racing_for_a_new_secret_get_the_same(
    make_store: Callable[[], Store],
) -> None:
    a, b = make_store(), make_store()
    await a.open()
    await b.open()
    names = [f"race-{i}" for i in range(10)]
    got: dict[tuple[int, str], bytes] = {}

    async def fetch(n: int, store: Store, name: str) -> None:
        got[n, name] = await store.server_secret(name)

    try:
        async with anyio.create_task_group() as tg:
            for name in names:
                for n, store in enumerate((a, b, a, b)):
                    tg.start_soon(fetch, n, store, name)
        for name in names:
            values = {got[n, name] for n in range(4)}
            assert len(values) == 1, name
            assert values == {await a.server_secret(name)} == {await b.server_secret(name)}
        assert len({got[0, name] for name in names}) == len(names)
    finally:
        await a.close()
        await b.close()
