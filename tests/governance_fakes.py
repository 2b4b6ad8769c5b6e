"""A stored run of the sample portfolio built by hand (no DNS): the zones and the DNSKEY/DS
records the lab would show, with the lab's real key tags. Used by the governance, maturity and
assessment tests that must not need the lab."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from toolkit.inputs.portfolio import load_portfolio
from toolkit.lab.scenarios import LAB_ZONES
from toolkit.lab.zones import DEFAULT_KEY_SEED, generate_lab_keys, make_ds
from toolkit.schemas import RECORDS, RESOLVER_CHECKS, ZONES
from toolkit.store.runs import Run, Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample-portfolio"

_STATUS = {
    "secure": ("secure", "", True, True, 25.0),
    "expiring": ("secure", "SIG_EXPIRING_SOON", True, True, 3.0),
    "island": ("insecure", "NO_DS_SIGNED", True, False, 25.0),
    "ds-mismatch": ("bogus", "DS_NO_MATCHING_DNSKEY", True, True, 25.0),
    "expired": ("bogus", "RRSIG_EXPIRED", True, True, -10.0),
    "unsigned": ("insecure", "UNSIGNED", False, False, None),
}


def sample_frames(
    when: datetime, key_seed: str | None = DEFAULT_KEY_SEED, portfolio: Path = SAMPLE
) -> dict[str, pd.DataFrame]:
    """The run frames of the sample portfolio at ``when`` (keys derived from ``key_seed``)."""
    inventory = load_portfolio(portfolio).inventory
    lab = {z.zone: z for z in LAB_ZONES}
    keys = generate_lab_keys([lab[z] for z in inventory["zone"] if z in lab], seed=key_seed)
    zones, records, checks = [], [], []
    for inv in inventory.itertuples():
        row = {
            "zone": inv.zone,
            "zone_unicode": inv.zone_unicode,
            "owner": inv.owner,
            "business_unit": inv.business_unit,
            "risk_tier": inv.risk_tier,
            "expected_signed": inv.expected_signed,
            "parent": "test",
            "checked_at": when,
            "ns_servers": 2,
            "ns_answered": 2,
        }
        if inv.zone not in lab:  # old-campaign.test: not in DNS
            row.update(status="indeterminate", reasons="ZONE_NOT_FOUND", ns_servers=0,
                       ns_answered=0, reason_text="The zone does not exist in DNS.")  # fmt: skip
            zones.append(row)
            continue
        scenario = lab[inv.zone].scenario
        status, reasons, signed, has_ds, days = _STATUS[scenario]
        row.update(status=status, reasons=reasons, reason_text=reasons or status, signed=signed,
                   has_ds=has_ds, algorithms="13" if signed else "")  # fmt: skip
        if days is not None:
            row.update(min_rrsig_days_left=days, earliest_expiration=when + timedelta(days=days))
        zones.append(row)
        name = inv.zone + "."
        base = {"zone": inv.zone, "owner_name": name, "ttl": 3600, "queried_at": when}
        if signed:
            zk = keys.zones[name]
            for key in (zk.ksk, zk.zsk):
                for server in ("ns1", "ns2"):
                    records.append({**base, "rrtype": "DNSKEY", "source": "child",
                                    "server": server, "key_tag": key.key_tag, "algorithm": 13,
                                    "flags": key.dnskey.flags,
                                    "rdata": key.dnskey.to_text()})  # fmt: skip
        if has_ds:
            key = keys.decoys[name] if scenario == "ds-mismatch" else keys.zones[name].ksk
            ds = make_ds(inv.zone, key)
            records.append({**base, "rrtype": "DS", "source": "parent", "server": "test",
                            "key_tag": ds.key_tag, "algorithm": 13, "digest_type": 2,
                            "rdata": ds.to_text()})  # fmt: skip
        agree = "indeterminate" if status == "indeterminate" else status
        checks.append({"zone": inv.zone, "resolver": "unbound", "address": "127.0.0.1",
                       "resolver_status": agree, "queried_at": when})  # fmt: skip
    return {
        "inventory": inventory,
        "zones": ZONES.frame(zones),
        "records": RECORDS.frame(records),
        "resolver_checks": RESOLVER_CHECKS.frame(checks),
    }


def store_sample_run(
    workspace: Path,
    when: datetime,
    key_seed: str | None = DEFAULT_KEY_SEED,
    portfolio: Path = SAMPLE,
) -> Run:
    """Store :func:`sample_frames` as a run of ``workspace`` (parameters name the portfolio)."""
    frames = sample_frames(when, key_seed, portfolio)
    return Store(workspace).write(
        frames, parameters={"portfolio": str(portfolio), "fake": True}, now=when
    )
