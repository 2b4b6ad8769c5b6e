"""The latest run as Prometheus text exposition, for node_exporter's textfile collector.

``dnssec-audit metrics --out /var/lib/node_exporter/textfile/dnssec.prom`` after each
collection; node_exporter then serves the figures to the Prometheus (and the dashboards) a
team already runs. The file is written to a temporary file beside it and renamed into place,
as the textfile collector requires (it must never read half a file).

Metrics (text format 0.0.4, all gauges; every sample about a zone carries ``zone``):

- ``dnssec_run_timestamp_seconds``: time of the run (its injected ``now``);
- ``dnssec_run_info``: 1, labels ``run_id``, ``tool_version``, ``simulated``;
- ``dnssec_zones``: inventory zones in the run;
- ``dnssec_zone_status``: 1 for the zone's status, 0 for the others (label ``status``:
  secure, insecure, bogus, indeterminate);
- ``dnssec_zone_signed``, ``dnssec_zone_ds_present``: 1 or 0 (absent when unknown);
- ``dnssec_zone_signature_expiry_seconds``: seconds until the earliest apex signature
  expires, as of the run (negative: expired);
- ``dnssec_zone_signature_expiration_timestamp_seconds``: that expiration time;
- ``dnssec_zone_authoritative_answered_ratio``: servers that answered / servers probed;
- ``dnssec_resolver_validation``: 1 for the status a resolver family reports (labels
  ``resolver``, ``status``), 0 for the others;
- ``dnssec_resolver_latency_seconds``: round trip of that check;
- ``dnssec_findings_failed``: failed findings, label ``severity`` (the technical checks over the
  run, judged as of its time by :func:`toolkit.assessment.judge.run_findings`).

A dashboard alerting on ``dnssec_zone_signature_expiry_seconds`` should subtract
``time() - dnssec_run_timestamp_seconds`` (the age of the run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from toolkit.assessment.judge import run_findings
from toolkit.atomic import write_atomic
from toolkit.errors import WriteError
from toolkit.store.runs import Run, Store
from toolkit.vocabulary import SEVERITIES

STATUSES = ("secure", "insecure", "bogus", "indeterminate")


def _escape(value: object) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, object]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self.samples: list[tuple[dict[str, object], float]] = []

    def add(self, value: float, **labels: object) -> None:
        self.samples.append((labels, float(value)))

    def text(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        lines += [f"{self.name}{_labels(lab)} {_number(v)}" for lab, v in self.samples]
        return "\n".join(lines)


def _present(value: object) -> bool:
    """A known scalar: not None, NA, NaN or NaT."""
    return not bool(pd.isna(value))


def exposition(run: Run) -> str:
    """The Prometheus text exposition of one stored run (see the module docstring)."""
    zones = run.frames.get("zones", pd.DataFrame())
    checks = run.frames.get("resolver_checks", pd.DataFrame())
    findings = run_findings(run)
    params = run.manifest.get("parameters") or {}
    at = pd.Timestamp(run.manifest["created_at"])

    fams: list[_Family] = []

    def family(name: str, help_text: str) -> _Family:
        f = _Family(name, help_text)
        fams.append(f)
        return f

    family("dnssec_run_timestamp_seconds", "Time of the run (its now), Unix seconds.").add(
        at.timestamp()
    )
    family("dnssec_run_info", "The run described by this file.").add(
        1,
        run_id=run.run_id,
        tool_version=run.manifest.get("tool_version", ""),
        simulated=str(bool(params.get("simulated", False))).lower(),
    )
    family("dnssec_zones", "Inventory zones in the run.").add(len(zones))
    status = family("dnssec_zone_status", "1 for the zone's DNSSEC status, 0 for the others.")
    signed = family("dnssec_zone_signed", "1 when the zone serves a DNSKEY RRset.")
    ds = family("dnssec_zone_ds_present", "1 when the parent publishes DS records.")
    expiry = family(
        "dnssec_zone_signature_expiry_seconds",
        "Seconds until the zone's earliest apex signature expires (negative: expired).",
    )
    exp_ts = family(
        "dnssec_zone_signature_expiration_timestamp_seconds",
        "Expiration time of the zone's earliest apex signature, Unix seconds.",
    )
    answered = family(
        "dnssec_zone_authoritative_answered_ratio",
        "Authoritative servers of the zone that answered, over those probed.",
    )
    for z in zones.itertuples(index=False):
        for s in STATUSES:
            status.add(1 if z.status == s else 0, zone=z.zone, status=s)
        if _present(z.signed):
            signed.add(1 if z.signed else 0, zone=z.zone)
        if _present(z.has_ds):
            ds.add(1 if z.has_ds else 0, zone=z.zone)
        if _present(z.earliest_expiration):
            when = pd.Timestamp(z.earliest_expiration)
            checked = pd.Timestamp(z.checked_at) if _present(z.checked_at) else at
            expiry.add((when - checked).total_seconds(), zone=z.zone)
            exp_ts.add(when.timestamp(), zone=z.zone)
        if _present(z.ns_servers) and int(z.ns_servers) > 0:
            answered.add(int(z.ns_answered or 0) / int(z.ns_servers), zone=z.zone)
    validation = family(
        "dnssec_resolver_validation",
        "1 for the status a validating resolver family reports for the zone, 0 for the others.",
    )
    latency = family(
        "dnssec_resolver_latency_seconds", "Round trip of the resolver check, in seconds."
    )
    for c in checks.itertuples(index=False):
        for s in STATUSES:
            validation.add(
                1 if c.resolver_status == s else 0, zone=c.zone, resolver=c.resolver, status=s
            )
        if _present(c.latency_ms):
            latency.add(float(c.latency_ms) / 1000, zone=c.zone, resolver=c.resolver)
    failed = family("dnssec_findings_failed", "Failed findings of the run, by severity.")
    counts = (
        findings[findings["status"] == "fail"]["severity"].value_counts()
        if len(findings)
        else pd.Series(dtype=int)
    )
    for sev in SEVERITIES:
        failed.add(int(counts.get(sev, 0)), severity=sev)
    return "\n".join(f.text() for f in fams) + "\n"


def write_metrics(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, fsync,
    rename), as node_exporter's textfile collector requires. Returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:  # a full disk, a read-only folder: one line naming the file
        raise WriteError(path, exc) from exc
    return path


def latest_exposition(workspace: str | Path, run: str = "latest") -> str:
    """The exposition of a workspace's run (default the latest). Raises StoreError when
    there is none or its files were altered."""
    return exposition(Store(workspace).load(run))
