"""Drills on the lab: scripted timelines played on the lab's real servers, a run collected at
each step, and the toolkit's history, alerts and change reconciliation expected to catch the
fault at the right step.

Each :class:`Drill` changes one zone of a running lab step by step (keys published, signing
switched, the DS at the parent changed) through :class:`toolkit.lab.publish.Republisher`;
at each step the real collector (:func:`toolkit.collect.collect_run`) probes the real
servers, and :func:`toolkit.alerts.evaluate_alerts` evaluates the workspace as an operator's
cron job would. The drill writes a record in the columns of ``drills.csv``
(:mod:`toolkit.inputs.governance.drills`): what was detected, when, by which rule.

**Simulated time.** Every step has its own ``now`` (the drill's start plus the step's offset).
The lab signs relative to it (each step's signatures run from ``now - 1 h``, and a step that
does not re-sign leaves the signatures to age), the collector validates against it and the
alerts judge against it: one code path, real and simulated. The lab's validating resolvers
run on the real clock, though, and cache what they saw for the TTL: asked at a step days
ahead of the real time they would judge signatures by the wrong clock and answer from stale
caches. So **drill steps are collected without resolvers** — the zone's status is the
toolkit's own validation at the step's ``now`` — and the root and ``test.`` zones are re-signed
for the drill with a window covering both the real time and every step, so that the lab keeps
working for its resolvers meanwhile. Every zone file the drill changed is put back (and
reloaded) when the drill ends, whatever happens.

Drills: see :data:`DRILLS` (``dnssec-audit lab drill --list``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.alerts import JsonlSink, Sink, evaluate_alerts
from toolkit.atomic import write_atomic
from toolkit.collect import collect_run
from toolkit.errors import LabError
from toolkit.inputs.governance.drills import DRILLS as DRILLS_SPEC
from toolkit.lab import zones
from toolkit.lab.publish import Republisher, lab_key, set_ds, set_serial, signed_text, strip_dnssec
from toolkit.lab.simulation import SimulatedCollectConfig
from toolkit.schemas import UTC_TS, Column, FrameSchema

DRILL_SEED = "dnssec-governance-drill"
INFRA_MARGIN = timedelta(days=30)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Publication:
    """What the zone and its parent publish at a step.

    ``keys``: (key name, what it signs: ``ksk`` | ``zsk`` | ``all`` | ``none``), empty for an
    unsigned zone; ``ds``: names of the keys whose DS the parent publishes; the zone is signed
    with ``validity_days`` of signature validity from the step's ``now``.
    """

    keys: tuple[tuple[str, str], ...]
    ds: tuple[str, ...]
    validity_days: float = 14.0


@dataclass(frozen=True)
class Step:
    """A step of a drill: when (offset from the start), what happens, what is published
    (None: nothing changes — signatures age, the parent does not move)."""

    offset: timedelta
    title: str
    publish: Publication | None = None


@dataclass(frozen=True)
class Ticket:
    """A change ticket the drill's ``changes.csv`` holds (offsets from the drill's start)."""

    ticket: str
    action: str
    key: str | None
    approved: timedelta
    implemented: timedelta
    requested_by: str = "DNS Operations"
    approved_by: str = "Security Lead"
    status: str = "implemented"


@dataclass(frozen=True)
class Expect:
    """The alert rule that must fire at a step (index into the drill's steps)."""

    rule: str
    step: int


@dataclass(frozen=True)
class Drill:
    """A scripted timeline on one zone of the lab.

    ``keys`` maps a key name to its source: ``lab:ksk`` / ``lab:zsk`` (the lab's own key of
    the zone) or ``new:ksk`` / ``new:zsk`` (a key derived from the drill seed). ``expected``
    are the detections that make the drill pass; ``also`` other rules that may fire as
    symptoms of the same fault. A drill with no ``fault`` is a control: nothing may fire.
    """

    name: str
    title: str
    zone: str
    fault: str
    keys: Mapping[str, str]
    steps: tuple[Step, ...]
    tickets: tuple[Ticket, ...] = ()
    expected: tuple[Expect, ...] = ()
    also: frozenset[str] = frozenset()


def _pub(keys: str, ds: str = "", validity: float = 14.0) -> Publication:
    """``_pub("ksk:ksk zsk1:zsk", "ksk")``: the compact form of a publication."""
    pairs = tuple(tuple(k.split(":")) for k in keys.split())
    return Publication(pairs, tuple(ds.split()), validity)  # type: ignore[arg-type]


_ZSK_STEPS = (
    Step(0 * DAY, "steady state: the KSK signs the DNSKEY set, ZSK 1 the zone", _pub(
        "ksk:ksk zsk1:zsk", "ksk")),
    Step(1 * DAY, "ZSK 2 pre-published: in the DNSKEY set, signing nothing", _pub(
        "ksk:ksk zsk1:zsk zsk2:none", "ksk")),
    Step(2 * DAY, "signing switched to ZSK 2; ZSK 1 stays published", _pub(
        "ksk:ksk zsk1:none zsk2:zsk", "ksk")),
    Step(3 * DAY, "ZSK 1 removed", _pub("ksk:ksk zsk2:zsk", "ksk")),
)  # fmt: skip

DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        Drill(
            "zsk-rollover",
            "A correct ZSK rollover by pre-publication (RFC 6781 §4.1.1.1), approved",
            "corp.test",
            "",
            {"ksk": "lab:ksk", "zsk1": "lab:zsk", "zsk2": "new:zsk"},
            _ZSK_STEPS,
            (Ticket("DRILL-ZSK-1", "zsk_rollover", "zsk2", -DAY, 1 * DAY),),
        ),
        Drill(
            "zsk-rollover-unapproved",
            "The same ZSK rollover with no change ticket",
            "corp.test",
            "DNSKEY changes made without an approved ticket",
            {"ksk": "lab:ksk", "zsk1": "lab:zsk", "zsk2": "new:zsk"},
            _ZSK_STEPS,
            (),
            (Expect("unapproved_change", 1),),
        ),
        Drill(
            "ksk-early-ds-withdrawal",
            "A KSK rollover by double-DS whose old DS is withdrawn too early",
            "payments.test",
            "the old DS is withdrawn before the new KSK is in the DNSKEY set: the chain breaks",
            {"ksk1": "lab:ksk", "zsk": "lab:zsk", "ksk2": "new:ksk"},
            (
                Step(
                    0 * DAY,
                    "steady state: KSK 1, its DS at the parent",
                    _pub("ksk1:ksk zsk:zsk", "ksk1"),
                ),
                Step(
                    1 * DAY,
                    "the DS of KSK 2 published beside the old one (double-DS)",
                    _pub("ksk1:ksk zsk:zsk", "ksk1 ksk2"),
                ),
                Step(
                    2 * DAY,
                    "the old DS withdrawn while KSK 1 still signs alone",
                    _pub("ksk1:ksk zsk:zsk", "ksk2"),
                ),
                Step(
                    3 * DAY,
                    "KSK 2 replaces KSK 1 in the DNSKEY set",
                    _pub("ksk2:ksk zsk:zsk", "ksk2"),
                ),
            ),  # fmt: skip
            (Ticket("DRILL-KSK-1", "ksk_rollover", "ksk2", -DAY, 1 * DAY),),
            (Expect("rollover_fault", 2), Expect("ds_no_matching_key", 2)),
            frozenset({"chain_bogus"}),
        ),
        Drill(
            "ds-never-published",
            "A zone signed and its DS submitted, but the DS never reaches the parent",
            "marketing.test",
            "the registrar never publishes the DS: the zone stays an island of security",
            {"ksk": "new:ksk", "zsk": "new:zsk"},
            (
                Step(0 * DAY, "unsigned, as today", _pub("")),
                Step(
                    1 * DAY,
                    "zone signed; its DS submitted to the registrar",
                    _pub("ksk:ksk zsk:zsk"),
                ),
                Step(2 * DAY, "one day later: still no DS at the parent (within the SLA)"),
                Step(5 * DAY, "four days after submission: still no DS (SLA 72 h passed)"),
            ),  # fmt: skip
            (
                Ticket("DRILL-SIGN-1", "sign", None, -2 * DAY, 1 * DAY),
                Ticket("DRILL-DS-1", "ds_publish", "ksk", -2 * DAY, 1 * DAY),
            ),
            (Expect("signed_without_ds", 1), Expect("ds_publish_overdue", 3)),
        ),
        Drill(
            "signatures-expire",
            "Re-signing stops and the signatures are left to expire",
            "shop.test",
            "nobody re-signs the zone: its signatures expire",
            {"ksk": "lab:ksk", "zsk": "lab:zsk"},
            (
                Step(
                    0 * DAY,
                    "zone signed with 14 days of validity; then re-signing stops",
                    _pub("ksk:ksk zsk:zsk", "ksk", 14.0),
                ),
                Step(5 * DAY, "9 days of validity left"),
                Step(9 * DAY, "5 days left: inside the 7-day alert threshold"),
                Step(15 * DAY, "the signatures have expired"),
            ),  # fmt: skip
            (),
            (Expect("signature_expiring", 2), Expect("chain_bogus", 3)),
        ),
    )
}
"""The drills, by name."""


DETECTIONS = FrameSchema(
    "drill_detections",
    "One row per alert a drill raised: at which step, by which rule, expected or not.",
    (
        Column("drill", "string", "drill name"),
        Column("step", "Int64", "step index (0 = the start)"),
        Column("at", UTC_TS, "the step's simulated time"),
        Column("run_id", "string", "the run collected at the step"),
        Column("rule", "string", "alert rule"),
        Column("severity", "string", "alert severity"),
        Column("alert_id", "string", "alert id"),
        Column("zone", "string", "zone"),
        Column("expected", "boolean", "the drill expects this rule at this step"),
        Column("message", "string", "the alert's message"),
    ),
)


@dataclass(frozen=True)
class StepResult:
    """What one step gave: its time, the run collected, the zone's status, the new alerts."""

    index: int
    title: str
    at: datetime
    run_id: str
    status: str
    reasons: str
    alerts: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class DrillResult:
    """A drill played: its steps, detections, outcome and ``drills.csv`` record."""

    drill: Drill
    directory: Path
    started_at: datetime
    steps: tuple[StepResult, ...]
    detections: pd.DataFrame
    outcome: str  # passed | partial | failed (the drills.csv vocabulary)
    missed: tuple[Expect, ...]
    unexpected: tuple[str, ...]
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        return self.directory / "workspace"

    @property
    def portfolio(self) -> Path:
        return self.directory / "portfolio"


def drill_list() -> pd.DataFrame:
    """The drills: name, zone, steps, what goes wrong, which rules must catch it."""
    rows = [
        {
            "drill": d.name,
            "zone": d.zone,
            "steps": len(d.steps),
            "title": d.title,
            "fault": d.fault or "(none: a control drill, nothing may fire)",
            "caught_by": ", ".join(f"{e.rule}@step{e.step}" for e in d.expected) or "-",
        }
        for d in DRILLS.values()
    ]
    return pd.DataFrame(rows)


# --- the drill's portfolio ----------------------------------------------------------------


def _iso(t: datetime) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S+00:00")


def write_portfolio(
    directory: Path, drill: Drill, start: datetime, key_tags: Mapping[str, int]
) -> None:
    """Write the drill's portfolio: ``inventory.csv`` (the drill zone), ``policy.yaml``
    (the thresholds the expectations assume) and ``changes.csv`` (its tickets)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inventory.csv").write_text(
        "zone,owner,business_unit,risk_tier,category,registrar,expected_signed,policy,"
        "last_reviewed\n"
        f"{drill.zone},Drill team,Drills,1,service,Lab Registrar,true,drill,"
        f"{start:%Y-%m-%d}\n"
    )
    (directory / "policy.yaml").write_text(
        "# Written by dnssec-audit lab drill: the thresholds the drill's expectations assume.\n"
        "format_version: 1\n"
        "default_policy: drill\n"
        "policies:\n"
        "  drill:\n"
        "    description: Signing policy of the drill zone\n"
        "    allowed_algorithms: [13]\n"
        "    zsk_lifetime_days: 90\n"
        "    ksk_lifetime_days: 365\n"
        "    min_rrsig_validity_days: 5\n"
        "    signature_validity_days: 30\n"
        f"    dnskey_ttl: {zones.TTL}\n"
        f"    ds_ttl: {zones.TTL}\n"
        "alerts:\n"
        "  coverage_max_age_days: 7\n"
        "  ds_publish_sla_hours: 72\n"
        "  signature_expiry_days: 7\n"
        "  rollover_window_days: 30\n"
        "change_control:\n"
        "  match_window_hours: 48\n"
    )
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["ticket", "zone", "action", "key_tag", "requested_by", "approved_by",
                "approved_at", "implemented_at", "status", "evidence"])  # fmt: skip
    for t in drill.tickets:
        w.writerow(
            [
                t.ticket,
                drill.zone,
                t.action,
                key_tags[t.key] if t.key else "",
                t.requested_by,
                t.approved_by,
                _iso(start + t.approved),
                _iso(start + t.implemented),
                t.status,
                f"drill {drill.name}",
            ]
        )
    (directory / "changes.csv").write_text(out.getvalue())


# --- playing a drill ------------------------------------------------------------------------


def _keys(lab_dir: Path, drill: Drill, seed: str) -> dict[str, zones.SigningKey]:
    out = {}
    for name, source in drill.keys.items():
        kind, _, role = source.partition(":")
        if kind == "lab":
            out[name] = lab_key(lab_dir, drill.zone, role)
        elif kind == "new":
            flags = zones.KSK_FLAGS if role == "ksk" else zones.ZSK_FLAGS
            out[name] = zones.new_key(flags, seed=f"{seed}/{drill.name}/{drill.zone}/{name}")
        else:
            raise LabError(f"drill {drill.name}: unknown key source {source!r}")
    return out


class _Publisher:
    """Publishes a drill's steps: the zone, the DS in ``test.``, the root's wide window."""

    def __init__(
        self, rp: Republisher, lab_dir: Path, zone: str, window: tuple[datetime, datetime]
    ):
        self.rp = rp
        self.zone = zone
        self.window = window
        self.serials: dict[str, int] = {}
        self.infra = {
            z: [lab_key(lab_dir, z, "ksk").use("ksk"), lab_key(lab_dir, z, "zsk").use("zsk")]
            for z in (zones.ROOT, zones.TEST)
        }
        self.ds: tuple[str, ...] | None = None

    def _serial(self, zone: str, at: datetime) -> int:
        from toolkit.lab.publish import serial_of

        last = self.serials.get(zone)
        if last is None:
            last = serial_of(self.rp.original(zone))
        serial = max(last + 1, zones.soa_serial(at))
        self.serials[zone] = serial
        return serial

    def infrastructure(self, at: datetime) -> None:
        """Re-sign the root with the drill's wide window."""
        root = strip_dnssec(self.rp.original(zones.ROOT))
        set_serial(root, self._serial(zones.ROOT, at))
        start, end = self.window
        text = signed_text(root, self.infra[zones.ROOT], inception=start, expiration=end)
        self.rp.publish(zones.ROOT, text)

    def parent(self, at: datetime, ds: Sequence[zones.DS]) -> None:
        """Publish ``ds`` as the zone's DS set in ``test.`` (re-signed, wide window)."""
        test = strip_dnssec(self.rp.original(zones.TEST))
        set_ds(test, self.zone, ds)
        set_serial(test, self._serial(zones.TEST, at))
        start, end = self.window
        self.rp.publish(
            zones.TEST, signed_text(test, self.infra[zones.TEST], inception=start, expiration=end)
        )

    def child(self, at: datetime, uses: Sequence[Any], validity: timedelta) -> None:
        z = strip_dnssec(self.rp.original(self.zone))
        set_serial(z, self._serial(self.zone, at))
        text = signed_text(z, uses, inception=at - timedelta(hours=1), expiration=at + validity)
        self.rp.publish(self.zone, text)


def drill_out_dir(name: str, now: datetime, root: Path | str = Path("out") / "drills") -> Path:
    """The folder a drill played at ``now`` writes into when given none:
    ``out/drills/NAME-YYYYmmddTHHMMSSZ`` (a new one per start time)."""
    return Path(root) / f"{name}-{now:%Y%m%dT%H%M%SZ}"


def run_drill(
    drill: str | Drill,
    lab_dir: str | Path,
    out_dir: str | Path,
    *,
    now: datetime,
    seed: str = DRILL_SEED,
    sinks: Sequence[Sink] = (),
) -> DrillResult:
    """Play ``drill`` (a name of :data:`DRILLS` or a :class:`Drill`) on the running lab in
    ``lab_dir``, starting at ``now``; write everything into ``out_dir``.

    ``out_dir`` receives ``portfolio/`` (inventory, policy, changes of the drill),
    ``workspace/`` (one stored run per step, labelled ``simulation: drill:NAME``, and the
    alert state), ``alerts.jsonl``, ``detections.csv``, ``drill-record.csv`` (one row in the
    columns of ``drills.csv``) and the history views ``history-changes.csv``,
    ``history-timeline.csv``, ``history-rollovers.csv``, ``history-faults.csv``. Alerts also
    go to ``sinks``. The lab's zone files are restored at the end, whatever happens.

    Raises LabError for an unknown drill, a lab that is not running or a reload that fails;
    StoreError when ``out_dir`` already holds the drill's runs.
    """
    from toolkit import history

    if isinstance(drill, str):
        if drill not in DRILLS:
            raise LabError(f"unknown drill {drill!r}; drills: {', '.join(DRILLS)}")
        drill = DRILLS[drill]
    lab_dir = Path(lab_dir)
    out = Path(out_dir)
    workspace = out / "workspace"
    if workspace.exists() and any(workspace.glob("runs/*")):
        from toolkit.errors import StoreError

        raise StoreError(f"{workspace} already holds runs: give the drill an empty folder")
    keys = _keys(lab_dir, drill, seed)
    write_portfolio(out / "portfolio", drill, now, {n: k.key_tag for n, k in keys.items()})
    times = [now + s.offset for s in drill.steps]
    window = (min([now, *times]) - timedelta(hours=1), max([now, *times]) + INFRA_MARGIN)
    jsonl = JsonlSink(out / "alerts.jsonl")
    results: list[StepResult] = []
    with Republisher(lab_dir) as rp:
        info = rp.info
        pub = _Publisher(rp, lab_dir, drill.zone, window)
        pub.infrastructure(now)
        config = SimulatedCollectConfig(
            trust_anchor=info.trust_anchor,
            root_hints=info.root_hints,
            resolvers=(),
            progress=False,
            simulation=f"drill:{drill.name}",
        )
        for i, (step, at) in enumerate(zip(drill.steps, times, strict=True)):
            if step.publish is not None or i == 0:
                p = step.publish or Publication((), ())
                uses = [keys[name].use(signs) for name, signs in p.keys]
                pub.child(at, uses, timedelta(days=p.validity_days))
                if p.ds != pub.ds:
                    pub.parent(at, [zones.make_ds(drill.zone, keys[n]) for n in p.ds])
                    pub.ds = p.ds
            run = collect_run(out / "portfolio", workspace, config, now=at)
            alerts = evaluate_alerts(
                workspace, now=at, sinks=[jsonl, *sinks], portfolio_dir=out / "portfolio"
            )
            z = run.frames["zones"].iloc[0]
            results.append(
                StepResult(
                    i,
                    step.title,
                    at,
                    run.run_id,
                    str(z["status"]),
                    "" if pd.isna(z["reasons"]) else str(z["reasons"]),
                    tuple(alerts.new),
                )
            )
    h = history.load_history(workspace)
    for name, frame in (
        ("changes", history.changes(h)),
        ("timeline", history.timeline(h)),
        ("rollovers", history.rollovers(h)),
        ("faults", history.faults(h)),
    ):
        frame.to_csv(out / f"history-{name}.csv", index=False)
    return _judge(drill, out, now, results)


def _judge(drill: Drill, out: Path, start: datetime, steps: list[StepResult]) -> DrillResult:
    expected = {(e.rule, e.step) for e in drill.expected}
    rows = [
        {
            "drill": drill.name,
            "step": s.index,
            "at": s.at,
            "run_id": s.run_id,
            "rule": a["rule"],
            "severity": a["severity"],
            "alert_id": a["id"],
            "zone": a["zone"],
            "expected": (a["rule"], s.index) in expected,
            "message": a["message"],
        }
        for s in steps
        for a in s.alerts
    ]
    detections = DETECTIONS.frame(rows)
    fired = {(r["rule"], r["step"]) for r in rows}
    missed = tuple(e for e in drill.expected if (e.rule, e.step) not in fired)
    allowed = {e.rule for e in drill.expected} | set(drill.also)
    unexpected = tuple(sorted({r["rule"] for r in rows if r["rule"] not in allowed}))
    if not missed and not unexpected:
        outcome = "passed"
    elif drill.expected and len(missed) < len(drill.expected):
        outcome = "partial"
    else:
        outcome = "failed"
    lessons = []
    for e in drill.expected:
        hit = [r for r in rows if (r["rule"], r["step"]) == (e.rule, e.step)]
        when = f"step {e.step} ({steps[e.step].at:%Y-%m-%d %H:%M} UTC)"
        if hit:
            lessons.append(f"{e.rule} caught it at {when}: {hit[0]['message']}")
        else:
            lessons.append(f"NOT DETECTED: {e.rule} did not fire at {when}")
    if unexpected:
        lessons.append("unexpected alerts: " + ", ".join(unexpected))
    if not drill.expected and not unexpected:
        lessons.append("control drill: no alert fired, as expected")
    record = {
        "date": _iso(start),
        "scenario": drill.name,
        "zones": drill.zone,
        "participants": "dnssec-audit lab drill (automated, simulated time)",
        "outcome": outcome,
        "lessons": " | ".join(lessons),
        "follow_up_closed": "true" if outcome == "passed" else "false",
    }
    columns = [f.name for f in DRILLS_SPEC.fields]
    detections.to_csv(out / "detections.csv", index=False)
    _write_csv(out / "drill-record.csv", columns, [record])
    return DrillResult(
        drill, out, start, tuple(steps), detections, outcome, missed, unexpected, record
    )


def _write_csv(path: Path, columns: list[str], rows: list[Mapping[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    write_atomic(path, buf.getvalue())


def append_record(drills_csv: str | Path, record: Mapping[str, Any]) -> None:
    """Append a drill record to a portfolio's ``drills.csv`` (created with its header when
    missing), rewriting the file atomically. Raises InputError when the existing file is not
    a valid drills.csv."""
    from toolkit.inputs.governance.drills import load_drills

    path = Path(drills_csv)
    columns = [f.name for f in DRILLS_SPEC.fields]
    rows: list[Mapping[str, Any]] = []
    if path.exists():
        load_drills(path)  # refuse to append to a broken file
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or columns)
            rows = list(reader)
    _write_csv(path, columns, [*rows, record])
