"""Schemas of the frames the history package gives out (see :mod:`toolkit.schemas`)."""

from __future__ import annotations

from toolkit.schemas import UTC_TS, Column, FrameSchema

RUNS = FrameSchema(
    "history_runs",
    "One row per stored run of a loaded span, oldest first.",
    (
        Column("run_id", "string", "the run's id"),
        Column("created_at", UTC_TS, "the run's time (its injected `now`)"),
        Column("simulated", "boolean", "the run's manifest says it was made on simulated time"),
        Column("label", "string", "the manifest's `simulation` label (drill or demo), else null"),
        Column("tool_version", "string", "toolkit version that wrote the run"),
        Column("zones", "Int64", "rows of its zones frame"),
    ),
)

CHANGES = FrameSchema(
    "history_changes",
    "One row per change seen between two consecutive runs of a zone (a run in which a side "
    "of the zone could not be observed is skipped for that side, never read as a removal).",
    (
        Column("zone", "string", "zone name"),
        Column("run_id", "string", "the run in which the change was first seen"),
        Column("at", UTC_TS, "that run's time"),
        Column("prev_run_id", "string", "the last earlier run that observed the same side"),
        Column("prev_at", UTC_TS, "that run's time: the change happened in (prev_at, at]"),
        Column(
            "change",
            "string",
            "dnskey_added | dnskey_removed | dnskey_revoked | ds_added | ds_removed | "
            "signing_started | signing_stopped | algorithm_changed | status_changed",
        ),
        Column("key_tag", "Int64", "key tag of the DNSKEY, of the DS, or of the signing key"),
        Column("algorithm", "Int64", "its algorithm"),
        Column("role", "string", "ksk | zsk | csk (DNSKEY and signing changes), else null"),
        Column("before", "string", "the value before (statuses, algorithm sets)"),
        Column("after", "string", "the value after"),
        Column("detail", "string", "the change in words"),
    ),
)

SIGNATURE_TREND = FrameSchema(
    "history_signature_trend",
    "One row per zone and run: how much signature validity was left, and whether the zone "
    "was re-signed since the previous run.",
    (
        Column("zone", "string", "zone name"),
        Column("run_id", "string", "run id"),
        Column("at", UTC_TS, "run time"),
        Column("status", "string", "the zone's status in that run"),
        Column("min_rrsig_days_left", "Float64", "smallest remaining apex signature validity"),
        Column("earliest_expiration", UTC_TS, "expiration of that signature"),
        Column("delta_days", "Float64", "change of days left since the previous run"),
        Column(
            "resigned",
            "boolean",
            "the earliest expiration moved later since the previous run (null: first run)",
        ),
    ),
)

TIMELINE = FrameSchema(
    "history_timeline",
    "One row per zone and run: the keys and DS seen and the rollover phases they show "
    "(RFC 6781 §4.1, RFC 7583 §3).",
    (
        Column("zone", "string", "zone name"),
        Column("run_id", "string", "run id"),
        Column("at", UTC_TS, "run time"),
        Column("status", "string", "the zone's status in that run"),
        Column(
            "phases",
            "string",
            "`;`-joined: zsk_prepublish | zsk_double_signature | zsk_retire | ksk_double_ds | "
            "ksk_double_ksk | ksk_revoked | algorithm_rollover | stable | unsigned "
            "| unobserved",
        ),
        Column("dnskeys", "string", "published keys: `tag role alg [signs|idle|revoked]`, `; `"),
        Column("ds", "string", "parent DS: `tag/alg/digest type[->matching key tag]`, `; `"),
    ),
)

ROLLOVERS = FrameSchema(
    "history_rollovers",
    "One row per key rollover seen: an old key leaving a signing role and a new one taking it.",
    (
        Column("zone", "string", "zone name"),
        Column("kind", "string", "zsk | ksk | csk | algorithm"),
        Column(
            "method",
            "string",
            "pre-publication | double-signature | double-ds | double-ksk | double-rrset | "
            "unobserved (the steps fell between two runs)",
        ),
        Column("old_key_tag", "Int64", "the key rolled out"),
        Column("new_key_tag", "Int64", "the key rolled in"),
        Column("started_at", UTC_TS, "first run showing the new key (or, for a KSK, its DS)"),
        Column("completed_at", UTC_TS, "first run without the old key (and its DS); null: open"),
        Column("duration_days", "Float64", "completed_at - started_at, in days"),
        Column("window_days", "Float64", "the policy's rollover window"),
        Column("within_window", "boolean", "duration within the window (null while open)"),
        Column("status", "string", "completed | in_progress"),
    ),
)

FAULTS = FrameSchema(
    "history_faults",
    "Rollover timing faults visible from outside, one per fault and the run that shows it.",
    (
        Column("zone", "string", "zone name"),
        Column("run_id", "string", "first run showing the fault"),
        Column("at", UTC_TS, "that run's time"),
        Column(
            "fault",
            "string",
            "ds_withdrawn_sole_match | ksk_removed_before_ds_ttl | key_removed_before_ttl | "
            "key_used_before_ttl | algorithm_not_double_signed",
        ),
        Column("key_tag", "Int64", "the key (or DS key tag) concerned"),
        Column("severity", "string", "critical | high | medium"),
        Column("detail", "string", "what was seen, with the times and TTLs"),
        Column("reference", "string", "RFC section"),
    ),
)

KNOWN_GOOD = FrameSchema(
    "history_known_good",
    "For each zone, the DS and DNSKEY records of the last run in which it validated (secure): "
    "what an operator restores in an incident.",
    (
        Column("zone", "string", "zone name"),
        Column("run_id", "string", "the last run in which the zone was secure"),
        Column("at", UTC_TS, "that run's time"),
        Column("rrtype", "string", "DS | DNSKEY"),
        Column("key_tag", "Int64", "key tag"),
        Column("algorithm", "Int64", "algorithm"),
        Column("flags", "Int64", "DNSKEY flags"),
        Column("digest_type", "Int64", "DS digest type"),
        Column("ttl", "Int64", "TTL as served"),
        Column("rdata", "string", "the record's data in zone-file text"),
    ),
)

TRENDS = FrameSchema(
    "history_trends",
    "One row per period (week, month or quarter): the state at the period's last run, and "
    "how many runs the period had. Ready for charts.",
    (
        Column("period", "string", "e.g. 2026-W48, 2026-11, 2026Q4"),
        Column("period_start", UTC_TS, "first instant of the period"),
        Column("runs", "Int64", "runs in the period"),
        Column("last_run_id", "string", "the run whose state the row shows"),
        Column("simulated", "boolean", "that run was made on simulated time"),
        Column("zones", "Int64", "inventory zones"),
        Column("signed_pct", "Float64", "% of zones serving a DNSKEY RRset"),
        Column("secure_pct", "Float64", "% of zones whose chain validates"),
        Column("bogus", "Int64", "zones that fail validation"),
        Column("min_days_left", "Float64", "smallest remaining signature validity, in days"),
        Column("median_days_left", "Float64", "median remaining signature validity, in days"),
        Column("open_critical", "Int64", "failed findings of severity critical"),
        Column("open_high", "Int64", "failed findings of severity high"),
        Column("open_medium", "Int64", "failed findings of severity medium"),
        Column("open_low", "Int64", "failed findings of severity low"),
        Column("maturity_score", "Float64", "portfolio maturity score 0-100 (null: no scorer)"),
        Column("maturity_level", "Int64", "portfolio maturity level 1-5 (null: no scorer)"),
    ),
)

LATENCY_TRENDS = FrameSchema(
    "history_latency_trends",
    "One row per period and resolver family: the latency of the resolver checks of all the "
    "period's runs.",
    (
        Column("period", "string", "e.g. 2026Q4"),
        Column("period_start", UTC_TS, "first instant of the period"),
        Column("resolver", "string", "resolver label (unbound, bind, knot-resolver, ...)"),
        Column("checks", "Int64", "resolver checks that got an answer"),
        Column("median_ms", "Float64", "median latency in milliseconds"),
        Column("p95_ms", "Float64", "95th percentile latency in milliseconds"),
    ),
)
