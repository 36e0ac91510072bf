"""Lineage: what an input port names, and the graph ``get_lineage`` answers with.

An input port (contract §5: ``input_ports``) names an upstream data product of the same tenant,
either by its ``id`` or by its ``ord_id``. :func:`port_ref` is the one rule for telling them
apart, used by everything that resolves ports (the lineage walk, the downstream index, the ORD
integration dependencies, Dublin Core ``dcterms:source``):

- a UUID written ``8-4-4-4-12`` in hex digits (any case) is a product ``id``, compared lower-cased
  (ids are stored that way);
- anything else is an ``ord_id``, compared exactly (ORD ids are case-sensitive).

A port resolves to the tenant's *live* product with that id or ORD id; otherwise it is
unresolved: ``deleted`` when it names a deleted product of the tenant, ``not-found`` when it
names nothing of the tenant (another tenant's product looks exactly like an unknown one).

Edges point the way data flows: ``from`` is the upstream product, ``to`` the product whose input
port names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_DEPTH",
    "MAX_DEPTH",
    "MAX_NODES",
    "Direction",
    "LimitHit",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "PortRef",
    "UnresolvedPort",
    "UnresolvedReason",
    "port_ref",
]

DEFAULT_DEPTH = 3
MAX_DEPTH = 10
MAX_NODES = 500  # products in one lineage answer, whatever the depth

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Direction = Literal["upstream", "downstream", "both"]
UnresolvedReason = Literal["not-found", "deleted"]
LimitHit = Literal["depth", "max_nodes", "result_bytes"]


@dataclass(frozen=True)
class PortRef:
    """What an input port names: a product ``id`` or an ``ord_id``; ``key`` is the normalised value
    (the downstream index stores it)."""

    kind: Literal["id", "ord_id"]
    key: str


def port_ref(port: str) -> PortRef:
    """The one rule for what an input port names (see the module docstring)."""
    text = port.strip()
    if _UUID_RE.fullmatch(text):
        return PortRef("id", text.lower())
    return PortRef("ord_id", text)


class LineageNode(BaseModel):
    """A live data product in the graph, with its distance from the root in each direction walked."""

    model_config = ConfigDict(frozen=True)

    id: str
    ord_id: str
    name: str
    title: str
    version: str
    status: str
    upstream_depth: int | None = Field(
        description="Hops from this product down to the root (0 for the root); null if not reached upstream."
    )
    downstream_depth: int | None = Field(
        description="Hops from the root down to this product (0 for the root); null if not reached downstream."
    )


class LineageEdge(BaseModel):
    """Data flows from the upstream product ``from`` to the product ``to`` that names it as an input port."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", description="Upstream product id.")
    to: str = Field(description="Consuming product id (its input_ports name `from`).")


class UnresolvedPort(BaseModel):
    """An input port that names no live product of yours."""

    model_config = ConfigDict(frozen=True)

    product_id: str = Field(description="The product whose input port this is.")
    input_port: str = Field(description="The port as written on the product.")
    reason: UnresolvedReason = Field(
        description="'deleted': it names a deleted product of yours; 'not-found': it names no product of yours."
    )


class LineageGraph(BaseModel):
    """The lineage of one product: a bounded walk along input ports (upstream) and their reverse
    (downstream). Lists are complete unless ``truncated``; the ``*_total`` counts say how many the
    walk found (a lower bound when ``max_nodes`` was hit)."""

    root: str = Field(description="The product id the walk started from.")
    direction: Direction
    depth: int = Field(description="The depth asked for (hops in each direction walked).")
    nodes: list[LineageNode] = Field(description="Products in the graph, nearest first; the root is first.")
    edges: list[LineageEdge] = Field(description="Data flow between products of `nodes`.")
    cycles: list[list[str]] = Field(
        description="Each cycle once, as product ids in data-flow order (the last flows into the first)."
    )
    unresolved: list[UnresolvedPort] = Field(description="Input ports of walked products that name no live product.")
    truncated: bool = Field(description="True when a limit in `limits_hit` left something out.")
    limits_hit: list[LimitHit] = Field(
        description="'depth': products lie beyond the depth asked; 'max_nodes': the walk stopped at the node cap; "
        "'result_bytes': lists were cut to fit DPMCP_MAX_RESULT_BYTES (nearest products kept)."
    )
    nodes_total: int = Field(description="Products the walk found (more exist when 'max_nodes' is hit).")
    edges_total: int
    cycles_total: int
    unresolved_total: int
    message: str | None = None
