"""The lineage walk on a real store (SQLite and PostgreSQL): diamonds, cycles, depth, the downstream
index, unresolved ports, tenant isolation, and the bounds of the answer."""

from __future__ import annotations

import json

import pytest
from tests.helpers import product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.lineage import LineageGraph
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import InvalidArgument, NotFound
from dataproduct_mcp.services.lineage import LineageService

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]


async def reg(app: Application, name: str, *ports: str, tenant: str = "local") -> DataProduct:
    product, created = await app.products.register(tenant, product_args(name, input_ports=list(ports)))
    assert created
    return product


async def set_ports(app: Application, product: DataProduct, *ports: str) -> DataProduct:
    return await app.products.update(product.tenant, product.id, {"input_ports": list(ports)}, product.revision)


def names(graph: LineageGraph) -> dict[str, str]:
    return {n.id: n.name for n in graph.nodes}


def edges(graph: LineageGraph) -> set[tuple[str, str]]:
    by_id = names(graph)
    return {(by_id[e.from_], by_id[e.to]) for e in graph.edges}


def depths(graph: LineageGraph) -> dict[str, tuple[int | None, int | None]]:
    return {n.name: (n.upstream_depth, n.downstream_depth) for n in graph.nodes}


def cycles(graph: LineageGraph) -> list[list[str]]:
    by_id = names(graph)
    return [[by_id[x] for x in cycle] for cycle in graph.cycles]


async def test_a_diamond_has_each_product_once_and_every_edge(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b", a.id)
    c = await reg(app, "c", a.ord_id)  # by ord_id
    d = await reg(app, "d", b.id, c.ord_id)
    up = await app.lineage.get_lineage("local", d.id, "upstream", 3)
    assert up.root == d.id and up.nodes[0].id == d.id
    assert depths(up) == {"d": (0, 0), "b": (1, None), "c": (1, None), "a": (2, None)}
    assert edges(up) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    assert up.cycles == [] and up.unresolved == [] and not up.truncated and up.limits_hit == []
    assert (up.nodes_total, up.edges_total, up.cycles_total) == (4, 4, 0)
    down = await app.lineage.get_lineage("local", a.id, "downstream", 3)
    assert depths(down) == {"a": (0, 0), "b": (None, 1), "c": (None, 1), "d": (None, 2)}
    assert edges(down) == edges(up)
    both = await app.lineage.get_lineage("local", b.id, "both", 3)
    # both = what b reads plus what reads b, not the whole component: c (another input of d) is neither.
    assert depths(both) == {"b": (0, 0), "a": (1, None), "d": (None, 1)}
    assert edges(both) == {("a", "b"), ("b", "d")}


async def test_both_directions_keep_edges_between_an_upstream_and_a_downstream_product(app: Application) -> None:
    x = await reg(app, "x")
    root = await reg(app, "root", x.id)
    await reg(app, "c", root.id, x.ord_id)  # c reads the root and, directly, the root's upstream
    graph = await app.lineage.get_lineage("local", root.id, "both", 1)
    assert depths(graph) == {"root": (0, 0), "x": (1, None), "c": (None, 1)}
    assert edges(graph) == {("x", "root"), ("root", "c"), ("x", "c")}
    assert graph.limits_hit == []


async def test_a_cycle_is_reported_once_and_not_walked_around(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b", a.id)
    c = await reg(app, "c", b.id)
    await set_ports(app, a, c.ord_id)  # a -> b -> c -> a
    for direction in ("upstream", "downstream", "both"):
        graph = await app.lineage.get_lineage("local", a.id, direction, 10)  # type: ignore[arg-type]
        assert sorted(names(graph).values()) == ["a", "b", "c"], direction
        assert edges(graph) == {("a", "b"), ("b", "c"), ("c", "a")}, direction
        assert cycles(graph) == [["a", "b", "c"]], direction  # data-flow order, from the root
        assert graph.cycles_total == 1 and not graph.truncated
    from_b = await app.lineage.get_lineage("local", b.id, "upstream", 10)
    assert cycles(from_b) == [["b", "c", "a"]]


async def test_a_self_reference_and_two_cycles_through_one_product(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b", a.id)
    c = await reg(app, "c", a.id)
    await set_ports(app, a, a.id, b.id, c.id)  # a -> a, a -> b -> a, a -> c -> a
    graph = await app.lineage.get_lineage("local", a.id, "upstream", 3)
    assert sorted(map(sorted, cycles(graph))) == [["a"], ["a", "b"], ["a", "c"]]
    assert ("a", "a") in edges(graph)


async def test_the_depth_limit_says_what_lies_beyond(app: Application) -> None:
    chain = [await reg(app, "p0")]
    for i in range(1, 6):
        chain.append(await reg(app, f"p{i}", chain[-1].id))
    short = await app.lineage.get_lineage("local", chain[-1].id, "upstream", 2)
    assert depths(short) == {"p5": (0, 0), "p4": (1, None), "p3": (2, None)}
    assert short.truncated and short.limits_hit == ["depth"] and short.message
    assert edges(short) == {("p4", "p5"), ("p3", "p4")}
    whole = await app.lineage.get_lineage("local", chain[-1].id, "upstream", 5)
    assert len(whole.nodes) == 6 and not whole.truncated and whole.limits_hit == []
    down = await app.lineage.get_lineage("local", chain[0].id, "downstream", 1)
    assert depths(down) == {"p0": (0, 0), "p1": (None, 1)} and down.limits_hit == ["depth"]
    exact = await app.lineage.get_lineage("local", chain[0].id, "downstream", 5)
    assert len(exact.nodes) == 6 and exact.limits_hit == []
    with pytest.raises(InvalidArgument) as bad:
        await app.lineage.get_lineage("local", chain[0].id, "upstream", 11)
    assert bad.value.field == "depth"
    with pytest.raises(InvalidArgument) as bad:
        await app.lineage.get_lineage("local", chain[0].id, "sideways", 1)  # type: ignore[arg-type]
    assert bad.value.field == "direction"


async def test_edges_at_the_depth_limit_between_products_in_the_graph_are_kept(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b", a.id)
    c = await reg(app, "c", b.id)
    await set_ports(app, a, c.id)  # the cycle closes at the depth limit
    graph = await app.lineage.get_lineage("local", a.id, "upstream", 2)
    assert edges(graph) == {("c", "a"), ("b", "c"), ("a", "b")}
    assert cycles(graph) == [["a", "b", "c"]] and graph.limits_hit == []


async def test_downstream_follows_the_index_after_an_update_removes_a_port(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b", a.id.upper())  # a UUID in upper case names the same product
    c = await reg(app, "c", a.ord_id)
    before = await app.lineage.get_lineage("local", a.id, "downstream", 2)
    assert edges(before) == {("a", "b"), ("a", "c")}
    b = await set_ports(app, b)
    after = await app.lineage.get_lineage("local", a.id, "downstream", 2)
    assert edges(after) == {("a", "c")} and sorted(names(after).values()) == ["a", "c"]
    await set_ports(app, b, a.ord_id)
    await app.products.delete("local", c.id)
    again = await app.lineage.get_lineage("local", a.id, "downstream", 2)
    assert edges(again) == {("a", "b")}  # a deleted consumer leaves the index


async def test_a_deleted_upstream_is_reported_unresolved(app: Application) -> None:
    a = await reg(app, "a")
    b = await reg(app, "b")
    c = await reg(app, "c", a.id, b.ord_id, "00000000-0000-4000-8000-00000000beef", "ns:dataProduct:nothing:v1")
    await app.products.delete("local", a.id)
    await app.products.delete("local", b.id)
    graph = await app.lineage.get_lineage("local", c.id, "upstream", 3)
    assert [n.name for n in graph.nodes] == ["c"] and graph.edges == []
    assert {(u.product_id, u.input_port, u.reason) for u in graph.unresolved} == {
        (c.id, a.id, "deleted"),
        (c.id, b.ord_id, "deleted"),
        (c.id, "00000000-0000-4000-8000-00000000beef", "not-found"),
        (c.id, "ns:dataProduct:nothing:v1", "not-found"),
    }
    assert graph.unresolved_total == 4 and not graph.truncated
    resolved = await app.lineage.resolve_ports("local", c)
    assert resolved == {
        a.id: "deleted",
        b.ord_id: "deleted",
        c.input_ports[2]: "not-found",
        c.input_ports[3]: "not-found",
    }
    b2 = await reg(app, "b")  # the same ord_id registered again: the live one wins
    assert (await app.lineage.resolve_ports("local", c))[b.ord_id] == b2


async def test_another_tenants_product_looks_exactly_like_an_unknown_one(app: Application) -> None:
    theirs = await reg(app, "secret", tenant="acme")
    unknown = "00000000-0000-4000-8000-0000000000aa"
    mine = await reg(app, "mine", theirs.id, unknown)
    graph = await app.lineage.get_lineage("local", mine.id, "both", 3)
    assert [n.name for n in graph.nodes] == ["mine"]
    reasons = {u.input_port: u.reason for u in graph.unresolved}
    assert reasons == {theirs.id: "not-found", unknown: "not-found"}
    for product_id in (theirs.id, unknown):
        with pytest.raises(NotFound) as missing:
            await app.lineage.get_lineage("local", product_id, "upstream", 1)
        assert missing.value.code == "not-found"
    # their downstream does not see my product naming theirs; mine stays invisible to them
    their_graph = await app.lineage.get_lineage("acme", theirs.id, "downstream", 3)
    assert [n.name for n in their_graph.nodes] == ["secret"] and their_graph.edges == []


async def test_the_node_cap_stops_the_walk_and_says_so(app: Application) -> None:
    sources = [await reg(app, f"s{i}") for i in range(12)]
    sink = await reg(app, "sink", *(s.id for s in sources))
    capped = LineageService(app.store, app.products, max_result_bytes=64 * 1024, max_nodes=5)
    up = await capped.get_lineage("local", sink.id, "upstream", 3)
    assert len(up.nodes) == 5 == up.nodes_total and up.truncated and "max_nodes" in up.limits_hit
    assert len(up.edges) == 4 and all(e.to == sink.id for e in up.edges)
    down = await capped.get_lineage("local", sources[0].id, "both", 3)
    assert len(down.nodes) <= 5


async def test_a_result_too_large_keeps_the_nearest_products_with_totals(app: Application) -> None:
    ring = [await reg(app, "hub")]
    for i in range(40):
        ring.append(await reg(app, f"spoke-{i:02d}-" + "x" * 60, ring[0].id))
    far = await reg(app, "far", ring[1].id)
    small = LineageService(app.store, app.products, max_result_bytes=6 * 1024)
    graph = await small.get_lineage("local", ring[0].id, "downstream", 3)
    assert len(json.dumps(graph.model_dump(mode="json", by_alias=True)).encode()) <= 6 * 1024 - 1024
    assert graph.truncated and graph.limits_hit == ["result_bytes"] and graph.message
    assert graph.nodes_total == 42 and graph.edges_total == 41
    assert 1 < len(graph.nodes) < 42 and graph.nodes[0].id == ring[0].id
    kept = {n.id for n in graph.nodes}
    assert far.id not in kept  # the farthest goes first
    assert all(e.from_ in kept and e.to in kept for e in graph.edges)
    assert len(graph.edges) == len(graph.nodes) - 1
    whole = await app.lineage.get_lineage("local", ring[0].id, "downstream", 3)
    assert len(whole.nodes) == 42 and not whole.truncated
