"""What the operational and governance checks read from a :class:`Context`.

Besides the run's frames (``zones``, ``records``) and the portfolio's ``inventory``, the
context of a full assessment (:func:`toolkit.assessment.assess.assess`) carries:

* the record frames of :mod:`toolkit.inputs.governance` that exist — ``keys``, ``changes``,
  ``drills``, ``incidents``, ``registrars``, ``exceptions`` (a missing one: not evidenced);
* the history frames of :mod:`toolkit.history.key_sets` — ``key_sets`` (every run up to
  the assessed one) and ``key_changes`` — and of :mod:`toolkit.history.signing` —
  ``signature_history`` (the runs of the last quarter) and ``cds_history`` (every run).

Results about the whole portfolio rather than one zone (drills, policy review, roles) carry
the zone :data:`PORTFOLIO`.
"""

from __future__ import annotations

import pandas as pd

from toolkit.checks.base import Context, Result, Row
from toolkit.history.key_sets import KEY_SETS, key_set_changes, observed_key_sets
from toolkit.history.signing import run_signing
from toolkit.inputs.governance import RECORD_SPECS

PORTFOLIO = "(portfolio)"
"""The zone of a result about the whole portfolio."""


def inventory_zones(ctx: Context) -> list[str]:
    """The inventory's zones (the run's zones when the context has no inventory)."""
    inv = ctx.frame("inventory")
    if inv is not None:
        return list(inv["zone"])
    zones = ctx.frame("zones")
    return [] if zones is None else list(zones["zone"])


def known_zones(ctx: Context) -> frozenset[str]:
    """Every inventory zone of the portfolio: the context's ``portfolio_zones`` when it holds
    only a partition of the portfolio, else the inventory's (or the run's) zones."""
    if ctx.portfolio_zones is not None:
        return ctx.portfolio_zones
    return frozenset(inventory_zones(ctx))


def inventory(ctx: Context) -> pd.DataFrame:
    """The inventory frame; raises ValueError when the context has none."""
    inv = ctx.frame("inventory")
    if inv is None:
        raise ValueError("the context has no inventory frame")
    return inv


def zones(ctx: Context) -> pd.DataFrame:
    """The run's zones frame; raises ValueError when the context has none."""
    z = ctx.frame("zones")
    if z is None:
        raise ValueError("the context has no zones frame")
    return z


def missing(kind: str) -> str:
    """The detail of a result whose record file is absent."""
    return f"{RECORD_SPECS[kind].filename} not given: not evidenced"


def not_evidenced(zones_: list[str], kind: str) -> list[Result]:
    """Indeterminate results for ``zones_``: the record file ``kind`` is missing."""
    return [Result(z, "indeterminate", {"detail": missing(kind)}) for z in zones_]


def key_sets(ctx: Context) -> pd.DataFrame:
    """The observed DNSKEY/DS sets: the context's history, else the run's own."""
    ks = ctx.frame("key_sets")
    if ks is not None:
        return ks
    z, r = ctx.frame("zones"), ctx.frame("records")
    if z is None or r is None:
        return KEY_SETS.empty()
    return observed_key_sets(ctx.run_id or "run", pd.Timestamp(ctx.now), z, r)


def signing_history(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The signatures seen and the CDS states per run (``signature_history``, ``cds_history``):
    the context's history, else the run's own (one run, dated ``now``)."""
    sig, cds = ctx.frame("signature_history"), ctx.frame("cds_history")
    if sig is not None and cds is not None:
        return sig, cds
    own_sig, own_cds = run_signing(ctx.run_id or "run", pd.Timestamp(ctx.now), dict(ctx.frames))
    return (own_sig if sig is None else sig), (own_cds if cds is None else cds)


def key_changes(ctx: Context) -> pd.DataFrame:
    """The DNSKEY/DS changes between runs: the context's, else computed from key_sets."""
    kc = ctx.frame("key_changes")
    return kc if kc is not None else key_set_changes(key_sets(ctx))


def dnskey_state(ctx: Context) -> dict[str, str]:
    """Zone -> ``signed`` | ``unsigned`` | ``unobserved`` (latest observed DNSKEY set)."""
    ks = key_sets(ctx)
    dk = ks[ks["rrtype"] == "DNSKEY"]
    out = dict.fromkeys(inventory_zones(ctx), "unobserved")
    if dk.empty:
        return out
    last = dk[dk["observed_at"] == dk.groupby("zone")["observed_at"].transform("max")]
    signed = last["rdata"].notna().groupby(last["zone"]).any()
    out.update({str(zone): "signed" if has_key else "unsigned" for zone, has_key in signed.items()})
    return out


def listing(items: list[str], limit: int = 5) -> str:
    """``a, b, c`` — at most ``limit`` items, then "and N more"."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def rows_evidence(frame: str, rows: pd.DataFrame | list[Row], key: str = "source_line") -> str:
    """Evidence text naming a derived frame and the record lines behind it (``rows``: a frame,
    or plain rows from :func:`toolkit.checks.base.zone_rows`)."""
    if isinstance(rows, pd.DataFrame):
        values = list(rows[key].dropna()) if key in rows else []
    else:
        values = [r[key] for r in rows if r.get(key) is not None]
    if values:
        return f"{frame}: lines {', '.join(str(int(v)) for v in values)}"
    return frame
