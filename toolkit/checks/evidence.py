"""Shared plumbing of the checks that read the audit's evidence frames.

Every such check yields one result per zone of the ``zones`` frame through :func:`each_zone`,
in two steps. Its *scope* says what puts a zone out of the check, as a rule in this order: a
zone none of whose servers answered (or whose evidence is missing) is *indeterminate*; a zone
the check does not concern (unsigned, no DS, no CDS) is *not_applicable*. Its *decision* then
gives each zone in scope *fail* or *pass* from the rows (or says why the rows leave it open).
:class:`Evidence` gives the rows of one zone as plain dicts (missing values as None): a
portfolio has thousands of zones, and per-zone DataFrame filtering would cost more than the
whole collection (the plain rows come from :func:`toolkit.checks.base.records_by_zone`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.checks.base import Context, Result, Row, flag, records_by_zone

if TYPE_CHECKING:
    from toolkit.inputs.policy import SigningPolicy

__all__ = [
    "SIGNED", "Evidence", "Row", "Scope",
    "each_zone", "flag", "key_ref", "listing", "policy_name", "sig_ref",
]  # fmt: skip


@dataclass
class Evidence:
    """The evidence rows of one zone, by frame, and its ``zones`` row."""

    zone: str
    row: Row
    frames: dict[str, list[Row]]

    def rows(self, frame: str) -> list[Row]:
        """The zone's rows of ``frame`` (empty when none)."""
        return self.frames.get(frame, [])

    def child(self) -> list[Row]:
        """``nameservers`` rows of the zone's own servers."""
        return [r for r in self.rows("nameservers") if r["side"] == "child"]

    def answering(self) -> list[Row]:
        """``nameservers`` rows of the zone's servers that answered with authority."""
        return [r for r in self.child() if flag(r["answered"])]

    @property
    def signed(self) -> bool:
        """Some answering server publishes a DNSKEY RRset."""
        return bool(self.rows("dnskeys"))

    @property
    def has_ds(self) -> bool:
        """The parent publishes DS records for the zone."""
        return bool(self.rows("ds_matches"))

    def unprobed(self) -> Result | None:
        """An indeterminate result when no server of the zone answered (or nothing was
        recorded for it), else None."""
        if self.answering():
            return None
        detail = "no authoritative server of the zone answered: not evidenced"
        if self.row.get("status") == "indeterminate" and self.row.get("reason_text"):
            detail = f"{detail} ({self.row['reason_text']})"
        evidence = f"nameservers[{self.zone}]: no server answered with authority"
        return Result(self.zone, "indeterminate", {"detail": detail}, evidence)

    def unsigned(self) -> Result | None:
        """A not_applicable result when the zone publishes no DNSKEY, else None."""
        if self.signed:
            return None
        ev = f"dnskeys: no row for {self.zone} (no server publishes a DNSKEY RRset)"
        return Result(self.zone, "not_applicable", {"detail": "zone not signed"}, ev)

    def result(
        self, failures: list[str], params: dict[str, Any], passed: str, checked: str
    ) -> Result:
        """``fail`` with ``params`` and the failures as evidence, or ``pass`` with ``passed``
        as detail and ``checked`` (what was looked at) as evidence."""
        if failures:
            more = f"; … and {len(failures) - 12} more" if len(failures) > 12 else ""
            return Result(self.zone, "fail", params, "; ".join(failures[:12]) + more)
        return Result(self.zone, "pass", {"detail": passed}, checked)


Scope = Callable[[Evidence], Result | None]
"""What puts a zone out of a check: its indeterminate or not_applicable result, None when
the zone is in scope (e.g. :meth:`Evidence.unprobed`, :meth:`Evidence.unsigned`)."""

SIGNED: tuple[Scope, ...] = (Evidence.unprobed, Evidence.unsigned)
"""The scope of a check on the zone's DNSSEC data: indeterminate when unprobed, then
not_applicable when unsigned."""


def each_zone(
    ctx: Context,
    frames: Iterable[str],
    scope: Sequence[Scope],
    decide: Callable[[Evidence], Result],
) -> Iterator[Result]:
    """One result per zone of the ``zones`` frame, from its :class:`Evidence` (its rows of
    ``frames``, always with ``nameservers``): the first result of ``scope``'s functions, tried
    in order, that puts the zone out of the check; else ``decide``'s. Raises ValueError when
    the run has no ``zones`` frame."""
    zones = ctx.frame("zones")
    if zones is None:
        raise ValueError("the run has no zones frame")
    grouped = {}
    for name in {"nameservers", *frames}:
        df = ctx.frame(name)
        grouped[name] = records_by_zone(df) if df is not None else {}
    for zone, (row, *_) in records_by_zone(zones).items():
        ev = Evidence(zone, row, {n: g[zone] for n, g in grouped.items() if zone in g})
        out = next(filter(None, (out_of_scope(ev) for out_of_scope in scope)), None)
        yield out or decide(ev)


def policy_name(ctx: Context, zone: str) -> str | None:
    """The ``policy`` the inventory names for ``zone`` (None: none named, or no inventory)."""
    inventory = ctx.frame("inventory")
    if inventory is None:
        return None
    rows = records_by_zone(inventory).get(zone)
    return None if not rows or rows[0].get("policy") is None else str(rows[0]["policy"])


def zone_policy(ctx: Context, zone: str) -> SigningPolicy | None:
    """The signing policy that applies to ``zone`` (None: none named, or not in policy.yaml)."""
    return ctx.policies.get(policy_name(ctx, zone))


def sig_ref(r: Row) -> str:
    """A signature row named for the evidence: server, owner, type, key."""
    key = "-" if r["key_tag"] is None else str(r["key_tag"])
    alg = "-" if r["algorithm"] is None else str(r["algorithm"])
    return f"signatures[{r['server']} {r['owner']} {r['covered_type']} key {key}/{alg}]"


def key_ref(r: Row) -> str:
    """A dnskeys row named for the evidence."""
    return f"dnskeys[{r['server']} key {r['key_tag']}/{r['algorithm']} flags {r['flags']}]"


def listing(items: Iterable[object]) -> str:
    """Sorted, de-duplicated, comma-joined."""
    return ", ".join(sorted({str(i) for i in items}))
