"""Lineage of data products: a bounded walk along input ports (upstream) and their reverse (downstream).

``get_lineage`` walks breadth-first from one product, level by level, with one batched store
query per level and direction (never one per product): upstream resolves the input ports of the
level (:meth:`resolve_ports`), downstream asks the ``product_inputs`` index which products name
the level (``list_consumers``). A product is a node once, whatever the number of paths to it;
an edge to a product already in the graph is recorded, not followed again, so a cycle ends the
walk there and is reported (:func:`~dataproduct_mcp.services.lineage_graph.find_cycles`).

After the last level, the products at the depth limit have their ports (and consumers) looked at
once more, only to add the edges between products already in the graph and to tell whether
anything lies beyond (``limits_hit: ["depth"]``). The walk holds at most ``max_nodes`` products;
the answer is cut to fit ``DPMCP_MAX_RESULT_BYTES``, nearest products first
(:func:`~dataproduct_mcp.services.lineage_graph.fit_graph`). Everything is scoped by tenant: a
port naming another tenant's product is ``not-found``, exactly like an unknown id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import get_args

from dataproduct_mcp.domain.lineage import (
    DEFAULT_DEPTH,
    MAX_DEPTH,
    MAX_NODES,
    Direction,
    LineageGraph,
    PortRef,
    UnresolvedPort,
    UnresolvedReason,
    port_ref,
)
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import Store
from dataproduct_mcp.services.lineage_graph import Walk, WalkNode, graph_of
from dataproduct_mcp.services.products import ProductService

__all__ = ["LineageService", "PortResolution"]

log = get_logger(__name__)

# Each input port as written -> the live product it names, or why it names none.
PortResolution = dict[str, DataProduct | UnresolvedReason]


@dataclass
class _Resolved:
    """Port refs -> a live product id (already in the walk, or to load) or the reason it names none."""

    targets: dict[PortRef, str | UnresolvedReason] = field(default_factory=dict)
    to_load: dict[str, None] = field(default_factory=dict)  # live ids not yet known, in order of first mention


class LineageService:
    def __init__(
        self, store: Store, products: ProductService, *, max_result_bytes: int = 64 * 1024, max_nodes: int = MAX_NODES
    ) -> None:
        self.store = store
        self.products = products
        self.max_result_bytes = max_result_bytes
        self.max_nodes = max_nodes

    # -- resolving ports -------------------------------------------------------------------------

    async def _resolve(
        self, tenant: str, refs: Iterable[PortRef], known: dict[str, WalkNode], by_ord: dict[str, str]
    ) -> _Resolved:
        out = _Resolved()
        pending: list[PortRef] = []
        for ref in dict.fromkeys(refs):
            if ref.kind == "id" and ref.key in known:
                out.targets[ref] = ref.key
            elif ref.kind == "ord_id" and ref.key in by_ord:
                out.targets[ref] = by_ord[ref.key]
            else:
                pending.append(ref)
        if not pending:
            return out
        ids = [r.key for r in pending if r.kind == "id"]
        ord_ids = [r.key for r in pending if r.kind == "ord_id"]
        found = await self.store.find_refs(tenant, ids, ord_ids)
        live = {
            "id": {r.id: r.id for r in found if not r.deleted},
            "ord_id": {r.ord_id: r.id for r in found if not r.deleted},
        }
        gone = {"id": {r.id for r in found if r.deleted}, "ord_id": {r.ord_id for r in found if r.deleted}}
        for ref in pending:  # in the order the ports name them
            target = live[ref.kind].get(ref.key)
            if target is not None:
                out.targets[ref] = target
                if target not in known:
                    out.to_load.setdefault(target, None)
            else:
                out.targets[ref] = "deleted" if ref.key in gone[ref.kind] else "not-found"
        return out

    async def resolve_ports(self, tenant: str, product: DataProduct) -> PortResolution:
        """What each input port of ``product`` names (for ORD, ODPS and Dublin Core callers)."""
        refs = {port: port_ref(port) for port in product.input_ports}
        resolved = await self._resolve(tenant, refs.values(), {}, {})
        loaded = {p.id: p for p in await self.store.get_products(tenant, list(resolved.to_load))}
        out: PortResolution = {}
        for port, ref in refs.items():
            target = resolved.targets[ref]
            if target in ("not-found", "deleted"):
                out[port] = target  # type: ignore[assignment]
            else:
                out[port] = loaded[target] if target in loaded else "deleted"  # deleted since the lookup
        return out

    async def upstreams(self, tenant: str, product: DataProduct) -> list[DataProduct]:
        """The live products ``product``'s input ports name, once each, in port order."""
        found = await self.resolve_ports(tenant, product)
        return list({p.id: p for p in found.values() if isinstance(p, DataProduct)}.values())

    # -- the walk --------------------------------------------------------------------------------

    async def _add(self, tenant: str, walk: Walk, ids: Sequence[str], *, closure: bool) -> set[str]:
        """Load and add products ``ids`` as far as the node cap allows; the ids that vanished since."""
        if not ids:
            return set()
        if closure:
            walk.limits.add("depth")
            return set()
        room = max(0, walk.capacity - len(walk.nodes))
        if len(ids) > room:
            walk.limits.add("max_nodes")
        take = list(ids[:room])
        loaded = {p.id: p for p in await self.store.get_products(tenant, take)}
        for product_id in take:  # in the order the ports name them
            if product_id in loaded:
                walk.add(loaded[product_id])
        return {i for i in take if i not in loaded}

    async def _step_up(self, tenant: str, walk: Walk, frontier: list[str], level: int, *, closure: bool) -> list[str]:
        ports = [(nid, port, port_ref(port)) for nid in frontier for port in walk.nodes[nid].product.input_ports]
        resolved = await self._resolve(tenant, (ref for _, _, ref in ports), walk.nodes, walk.by_ord)
        vanished = await self._add(tenant, walk, list(resolved.to_load), closure=closure)
        following: list[str] = []
        for nid, port, ref in ports:
            target = resolved.targets[ref]
            if target in vanished:
                target = "deleted"
            if target in ("not-found", "deleted"):
                walk.unresolved.setdefault((nid, port), UnresolvedPort(product_id=nid, input_port=port, reason=target))  # type: ignore[arg-type]
                continue
            node = walk.nodes.get(target)
            if node is None:
                continue  # beyond the node cap or the depth (recorded by _add)
            if node.up is None and not closure:
                node.up = level
                following.append(target)
            walk.edges.setdefault((target, nid), None)
        return following

    async def _step_down(self, tenant: str, walk: Walk, frontier: list[str], level: int, *, closure: bool) -> list[str]:
        keys: dict[str, str] = {}
        for nid in frontier:
            keys[nid] = nid
            keys[walk.nodes[nid].product.ord_id] = nid
        consumers = await self.store.list_consumers(tenant, list(keys), self.max_nodes + 1)
        new = [c for c in consumers if c.id not in walk.nodes]
        if closure:
            if new:
                walk.limits.add("depth")
        else:
            room = max(0, walk.capacity - len(walk.nodes))
            if len(new) > room:
                walk.limits.add("max_nodes")
            for product in new[:room]:
                walk.add(product)
        following: list[str] = []
        for consumer in consumers:
            node = walk.nodes.get(consumer.id)
            if node is None:
                continue
            for port in consumer.input_ports:  # from any product in the graph, not only the frontier
                ref = port_ref(port)
                source = ref.key if ref.kind == "id" and ref.key in walk.nodes else walk.by_ord.get(ref.key)
                if source is not None:
                    walk.edges.setdefault((source, consumer.id), None)
            if node.down is None and not closure:
                node.down = level
                following.append(consumer.id)
        return following

    async def get_lineage(
        self, tenant: str, product_id: str, direction: Direction = "upstream", depth: int = DEFAULT_DEPTH
    ) -> LineageGraph:
        """The lineage graph of one of the tenant's live products (``not-found`` otherwise)."""
        if direction not in get_args(Direction):
            raise InvalidArgument("direction must be 'upstream', 'downstream' or 'both'", field="direction")
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidArgument(f"depth must be between 1 and {MAX_DEPTH}", field="depth")
        root = await self.products.get(tenant, product_id=product_id)
        walk = Walk(capacity=self.max_nodes)
        walk.add(root, up=0, down=0)
        boundaries: list[tuple[str, list[str]]] = []
        for way in ("upstream", "downstream"):
            if direction not in (way, "both"):
                continue
            step = self._step_up if way == "upstream" else self._step_down
            frontier = [root.id]
            for level in range(1, depth + 1):
                frontier = await step(tenant, walk, frontier, level, closure=False)
                if not frontier:
                    break
            boundaries.append((way, frontier))
        for way, frontier in boundaries:  # after both walks: edges to anything the other one found
            if frontier:
                step = self._step_up if way == "upstream" else self._step_down
                await step(tenant, walk, frontier, depth + 1, closure=True)
        graph = graph_of(walk, root=root.id, direction=direction, depth=depth, max_bytes=self.max_result_bytes - 1024)
        log.info(
            "lineage of %s (%s, depth %d): %d products, %d edges, %d cycles, limits %s",
            root.id,
            direction,
            depth,
            graph.nodes_total,
            graph.edges_total,
            graph.cycles_total,
            ",".join(graph.limits_hit) or "none",
        )
        return graph
