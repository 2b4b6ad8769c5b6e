"""The asset-inventory export: the inventory enriched with what DNS showed, as CSV, so the
organisation's asset register can carry the DNSSEC tag (``dnssec-audit inventory export``).

:func:`enriched_inventory` is pure (frames in, frame out); :func:`export_inventory` is the thin
edge that loads the portfolio and a run and writes the file atomically.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.atomic import open_atomic
from toolkit.checks import check_ids
from toolkit.errors import InputError, WriteError
from toolkit.inputs.policy import PolicySet
from toolkit.inputs.portfolio import load_portfolio
from toolkit.reports.spreadsheet import defuse_formulas
from toolkit.schemas import UTC_TS, Column, FrameSchema
from toolkit.store.runs import Store

EXPORT = FrameSchema(
    "inventory_export",
    "One row per inventory zone: the register's fields and the DNSSEC facts of a run.",
    (
        Column("zone", "string", "zone name (A-label)"),
        Column("zone_unicode", "string", "zone name for display"),
        Column("owner", "string", "accountable owner (inventory)"),
        Column("business_unit", "string", "business unit (inventory)"),
        Column("risk_tier", "Int64", "risk tier (inventory)"),
        Column("category", "string", "category (inventory)"),
        Column("registrar", "string", "registrar (inventory)"),
        Column("expected_signed", "boolean", "the organisation intends it signed (inventory)"),
        Column("policy", "string", "signing policy that applies (the default when none named)"),
        Column("dnssec_signed", "boolean", "the zone serves DNSKEY records (null: unknown)"),
        Column("ds_at_parent", "boolean", "the parent publishes a DS (null: unknown)"),
        Column("status", "string", "secure | insecure | bogus | indeterminate | not_probed"),
        Column("algorithm", "string", "DNSKEY algorithm numbers, `;`-joined"),
        Column("last_probed", UTC_TS, "when the run validated the zone"),
        Column("run_id", "string", "the run the facts come from"),
    ),
)


def enriched_inventory(
    inventory: pd.DataFrame, zones: pd.DataFrame, policies: PolicySet, run_id: str
) -> pd.DataFrame:
    """The inventory joined with a run's zones frame (schema :data:`EXPORT`), inventory order.

    A zone absent from the run has status ``not_probed`` and null DNS facts.
    """
    facts = zones.set_index("zone")
    rows = []
    for z in inventory.itertuples():
        policy = policies.get(None if pd.isna(z.policy) else str(z.policy))
        row = {
            "zone": z.zone,
            "zone_unicode": z.zone_unicode,
            "owner": z.owner,
            "business_unit": z.business_unit,
            "risk_tier": z.risk_tier,
            "category": z.category,
            "registrar": z.registrar,
            "expected_signed": z.expected_signed,
            "policy": policy.name if policy is not None else z.policy,
            "run_id": run_id,
            "status": "not_probed",
        }
        if z.zone in facts.index:
            f = facts.loc[z.zone]
            row.update(
                dnssec_signed=f["signed"],
                ds_at_parent=f["has_ds"],
                status=f["status"],
                algorithm=None if pd.isna(f["algorithms"]) else (f["algorithms"] or None),
                last_probed=f["checked_at"],
            )
        rows.append(row)
    return EXPORT.frame(rows)


def export_inventory(
    portfolio_dir: str | Path | None,
    workspace: str | Path,
    out: str | Path,
    *,
    run: str = "latest",
) -> Path:
    """Write the enriched inventory of ``run`` to ``out`` (CSV, UTF-8), atomically: a temporary
    file in the same folder, then :func:`os.replace`. ``portfolio_dir`` None means the
    portfolio the run was collected from. Returns the path written.

    Raises StoreError (no such run), InputError (bad portfolio, or none known), WriteError
    (cannot write ``out``: full disk, read-only folder).
    """
    store = Store(workspace)
    loaded = store.load(run)
    if portfolio_dir is None:
        portfolio_dir = loaded.manifest.get("parameters", {}).get("portfolio")
        if not portfolio_dir:
            raise InputError(loaded.path, "the run records no portfolio: give --portfolio")
    portfolio = load_portfolio(portfolio_dir, check_ids())
    frame = enriched_inventory(portfolio.inventory, loaded["zones"], portfolio.policies,
                               loaded.run_id)  # fmt: skip
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open_atomic(out, "w", encoding="utf-8", newline="") as fh:
            defuse_formulas(frame).to_csv(fh, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    except OSError as exc:  # a full disk: one line naming the file, no partial file left
        raise WriteError(out, exc) from exc
    return out
