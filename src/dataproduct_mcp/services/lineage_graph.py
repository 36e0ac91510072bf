"""The state of a lineage walk and the answer made of it: node order, cycles, and the result budget.

- Nodes come nearest first: the root, then by hops from it (the smaller of the two directions),
  then in the order the walk found them.
- Cycles are found by one depth-first search over the graph: each edge back into the current path
  closes one cycle, reported once as the path around it in data-flow order, starting at its
  member found first. Every cycle of the graph contains at least one such edge, so a graph with
  cycles never reports none, and the count stays bounded by the number of edges.
- The answer is cut to fit ``max_bytes`` as JSON: the largest prefix of the nodes whose edges,
  cycles and unresolved ports (those among kept nodes only) fit; the totals keep the true counts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from pydantic import BaseModel

from dataproduct_mcp.domain.lineage import (
    Direction,
    LimitHit,
    LineageEdge,
    LineageGraph,
    LineageNode,
    UnresolvedPort,
)
from dataproduct_mcp.domain.products import DataProduct

__all__ = ["Walk", "WalkNode", "find_cycles", "graph_of"]

_LIMIT_ORDER: tuple[LimitHit, ...] = ("depth", "max_nodes", "result_bytes")


@dataclass
class WalkNode:
    product: DataProduct
    order: int  # when the walk found it
    up: int | None = None
    down: int | None = None


@dataclass
class Walk:
    capacity: int
    nodes: dict[str, WalkNode] = field(default_factory=dict)
    by_ord: dict[str, str] = field(default_factory=dict)  # ord_id -> id of the nodes (live: one each)
    edges: dict[tuple[str, str], None] = field(default_factory=dict)  # (from, to), in the order found
    unresolved: dict[tuple[str, str], UnresolvedPort] = field(default_factory=dict)  # (product id, port)
    limits: set[LimitHit] = field(default_factory=set)

    def add(self, product: DataProduct, *, up: int | None = None, down: int | None = None) -> WalkNode:
        node = WalkNode(product, len(self.nodes), up, down)
        self.nodes[product.id] = node
        self.by_ord[product.ord_id] = product.id
        return node


def find_cycles(order: Mapping[str, int], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The cycles closed by the back edges of a depth-first search (iterative: no recursion limit)."""
    successors: dict[str, list[str]] = {node: [] for node in order}
    for source, sink in edges:
        successors[source].append(sink)
    for targets in successors.values():
        targets.sort(key=order.__getitem__)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: dict[tuple[str, ...], None] = {}
    for start in sorted(order, key=order.__getitem__):
        if start in state:
            continue
        path: list[str] = [start]
        position = {start: 0}
        state[start] = 1
        stack = [iter(successors[start])]
        while stack:
            target: str | None = next(stack[-1], None)
            if target is None:
                done = path.pop()
                del position[done]
                state[done] = 2
                stack.pop()
            elif state.get(target) == 1:
                cycle = path[position[target] :]
                first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                found.setdefault(tuple(cycle[first:] + cycle[:first]), None)
            elif target not in state:
                state[target] = 1
                position[target] = len(path)
                path.append(target)
                stack.append(iter(successors[target]))
    return [list(cycle) for cycle in found]


def _size(item: BaseModel | list[str]) -> int:
    if isinstance(item, BaseModel):
        return len(item.model_dump_json(by_alias=True).encode()) + 1
    return sum(len(x.encode()) + 3 for x in item) + 2


def _message(limits: Sequence[LimitHit], kept: int, total: int, capacity: int) -> str | None:
    parts = []
    if "depth" in limits:
        parts.append("more products lie beyond the depth asked: call again with a larger depth (max 10)")
    if "max_nodes" in limits:
        parts.append(f"the walk stopped at {capacity} products: start from a product further out")
    if "result_bytes" in limits:
        parts.append(
            f"{kept} of {total} products fit in the result (DPMCP_MAX_RESULT_BYTES): ask for less depth "
            "or one direction"
        )
    return "; ".join(parts) or None


def graph_of(walk: Walk, *, root: str, direction: Direction, depth: int, max_bytes: int) -> LineageGraph:
    """The walk as a :class:`LineageGraph` that fits ``max_bytes`` (nearest products kept)."""

    def distance(node: WalkNode) -> tuple[int, int]:
        hops = [d for d in (node.up, node.down) if d is not None]
        return (min(hops) if hops else depth + 1, node.order)

    ranked = sorted(walk.nodes.values(), key=distance)
    rank = {node.product.id: i for i, node in enumerate(ranked)}
    nodes = [
        LineageNode(
            id=n.product.id,
            ord_id=n.product.ord_id,
            name=n.product.name,
            title=n.product.title,
            version=n.product.version,
            status=n.product.status.value,
            upstream_depth=n.up,
            downstream_depth=n.down,
        )
        for n in ranked
    ]
    # Each list sorted by the last node it needs: the items among the first k nodes are a prefix.
    edge_keys = sorted(walk.edges, key=lambda e: (max(rank[e[0]], rank[e[1]]), rank[e[0]], rank[e[1]]))
    edges = [LineageEdge(from_=a, to=b) for a, b in edge_keys]
    edge_need = [max(rank[a], rank[b]) for a, b in edge_keys]
    found = find_cycles({n.product.id: n.order for n in ranked}, walk.edges)
    cycles = sorted(found, key=lambda c: max(rank[x] for x in c))
    cycle_need = [max(rank[x] for x in c) for c in cycles]
    unresolved = sorted(walk.unresolved.values(), key=lambda u: rank[u.product_id])
    unresolved_need = [rank[u.product_id] for u in unresolved]
    lists = (nodes, edges, cycles, unresolved)
    needs = (list(range(len(nodes))), edge_need, cycle_need, unresolved_need)

    def counts(k: int) -> list[int]:
        return [bisect.bisect_left(need, k) for need in needs]

    def make(k: int, cut: Sequence[int] | None = None) -> LineageGraph:
        n = list(cut) if cut is not None else counts(k)
        limits = set(walk.limits)
        if n != [len(x) for x in lists]:
            limits.add("result_bytes")
        hit = [x for x in _LIMIT_ORDER if x in limits]
        return LineageGraph(
            root=root,
            direction=direction,
            depth=depth,
            nodes=nodes[: n[0]],
            edges=edges[: n[1]],
            cycles=cycles[: n[2]],
            unresolved=unresolved[: n[3]],
            truncated=bool(hit),
            limits_hit=hit,
            nodes_total=len(nodes),
            edges_total=len(edges),
            cycles_total=len(cycles),
            unresolved_total=len(unresolved),
            message=_message(hit, n[0], len(nodes), walk.capacity),
        )

    def size(graph: LineageGraph) -> int:
        return len(graph.model_dump_json(by_alias=True).encode())

    whole = make(len(nodes))
    if size(whole) <= max_bytes:
        return whole
    sums = [[0, *accumulate(_size(x) for x in items)] for items in lists]  # only when cutting
    base = size(make(0, [0, 0, 0, 0])) + 64
    low, high = 1, len(nodes)  # the largest k whose estimated size fits (at least the root)
    while low < high:
        mid = (low + high + 1) // 2
        if base + sum(s[c] for s, c in zip(sums, counts(mid), strict=True)) <= max_bytes:
            low = mid
        else:
            high = mid - 1
    k = low
    graph = make(k)
    while size(graph) > max_bytes and k > 1:
        k -= 1
        graph = make(k)
    cut = counts(k)
    for i in (3, 2, 1):  # the root alone is too much: drop its unresolved ports, cycles, edges
        while size(graph) > max_bytes and cut[i] > 0:
            cut[i] -= 1
            graph = make(k, cut)
    return graph
