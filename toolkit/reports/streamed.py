"""The reports' figures from a streamed assessment (issue 14): DuckDB aggregates over its
Parquet parts, never every finding in memory.

A run of more zones than :func:`toolkit.assessment.stream.stream_threshold` is assessed
partition by partition (:func:`toolkit.assessment.stream.assess_streaming`); its findings
(about 77 per zone: 7.7 million rows at 100,000 zones) stay in Parquet parts. The board and
audit reports of such a run read their figures here. Each function gives what its in-memory
counterpart gives over the whole findings frame — :func:`toolkit.reports.board.top_risks`,
:func:`~toolkit.reports.board.decisions`, :func:`~toolkit.reports.audit.check_summary`, the
per-zone counts of :func:`~toolkit.reports.audit.zone_annex` — the same rows, computed by
aggregates (``tests/test_reports_streamed.py`` compares both paths on one run).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.assessment.maturity import PORTFOLIO
from toolkit.checks.base import RESULT_STATUSES
from toolkit.vocabulary import SEVERITIES

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from toolkit.assessment.stream import StreamedAssessment


def should_stream(zone_count: int) -> bool:
    """Whether a run of ``zone_count`` zones is reported from a streamed assessment (the
    threshold of ``dnssec-audit assess``: ``DNSSEC_AUDIT_STREAM_ABOVE``, default 20,000)."""
    from toolkit.assessment.stream import stream_threshold

    return zone_count > stream_threshold()


@contextmanager
def _db(s: StreamedAssessment, *frames: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with a view per frame of ``s`` named after it (``findings``, ...),
    reading its parts with ``_file`` (part path) and ``_row`` (row in the part) columns."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name in frames:
            paths = [str(p) for p in s.part_paths(name)]
            if not paths:
                raise FileNotFoundError(f"{s.out_dir / name}: no Parquet part")
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            con.execute(
                f"CREATE VIEW {name} AS SELECT * EXCLUDE (filename, file_row_number), "
                "filename AS _file, file_row_number AS _row FROM read_parquet("
                f"[{listed}], filename = true, file_row_number = true, union_by_name = true)"
            )
        yield con
    finally:
        con.close()


def fails_by_severity(s: StreamedAssessment, pillar: str | None = None) -> dict[str, int]:
    """Failed findings per severity (every severity of the vocabulary, 0 when none), of one
    ``pillar`` when given."""
    with _db(s, "findings") as con:
        got = dict(
            con.execute(
                "SELECT severity, count(*) FROM findings WHERE status = 'fail' "
                "AND (? IS NULL OR pillar = ?) GROUP BY severity",
                [pillar, pillar],
            ).fetchall()
        )
    return {sev: int(got.get(sev, 0)) for sev in SEVERITIES}


def risk_groups(
    s: StreamedAssessment, inventory: pd.DataFrame, *, policy_owner: str = "", keep: int = 3
) -> pd.DataFrame:
    """Per failing check, what :func:`toolkit.reports.board.top_risks` reads of its failed
    findings: check_id, severity, title, message (of its first failed finding), named (zones
    other than the portfolio), portfolio (whether a ``(portfolio)`` finding fails), tier (the
    lowest risk tier affected, 9 for none), labels (the first ``keep`` zones' display names
    by tier then zone), owners (the first ``keep`` distinct owners in that order, the policy
    owner standing for the portfolio) and owners_n (distinct owners in all)."""
    inv = pd.DataFrame(
        {
            "zone": inventory["zone"].astype(str),
            "owner": inventory["owner"].astype(object),
            "tier": pd.to_numeric(inventory["risk_tier"], errors="coerce").astype("Int64"),
            "label": (
                inventory["zone_unicode"].astype(object)
                if "zone_unicode" in inventory
                else pd.Series([None] * len(inventory), dtype=object)
            ),
        }
    )
    with _db(s, "findings") as con:
        con.register("inv", inv)
        con.execute(
            "CREATE TEMP TABLE keyed AS "
            "WITH pairs AS (SELECT DISTINCT check_id, zone FROM findings "
            "  WHERE status = 'fail' AND zone IS NOT NULL) "
            "SELECT p.check_id, p.zone, coalesce(i.tier, 9) AS t, "
            "  coalesce(nullif(i.label, ''), p.zone) AS label, "
            "  trim(CASE WHEN p.zone = ? THEN ? ELSE coalesce(i.owner, '') END) AS o, "
            "  row_number() OVER (PARTITION BY p.check_id ORDER BY coalesce(i.tier, 9), p.zone) "
            "    AS pos "
            "FROM pairs p LEFT JOIN inv i USING (zone)",
            [PORTFOLIO, policy_owner],
        )
        head = con.execute(
            "SELECT check_id, first(severity ORDER BY _file, _row), "
            "first(title ORDER BY _file, _row), first(message ORDER BY _file, _row) "
            "FROM findings WHERE status = 'fail' GROUP BY check_id"
        ).fetchall()
        agg = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT check_id, count(*) FILTER (WHERE zone <> ?), bool_or(zone = ?), min(t) "
                "FROM keyed GROUP BY check_id",
                [PORTFOLIO, PORTFOLIO],
            ).fetchall()
        }
        labels: dict[str, list[str]] = {}
        for check_id, label in con.execute(
            "SELECT check_id, label FROM (SELECT check_id, label, row_number() OVER "
            "(PARTITION BY check_id ORDER BY pos) AS k FROM keyed WHERE zone <> ?) "
            "WHERE k <= ? ORDER BY check_id, k",
            [PORTFOLIO, keep],
        ).fetchall():
            labels.setdefault(check_id, []).append(str(label))
        owners: dict[str, list[str]] = {}
        owners_n: dict[str, int] = {}
        for check_id, o, k in con.execute(
            "SELECT check_id, o, row_number() OVER (PARTITION BY check_id ORDER BY first_pos) "
            "FROM (SELECT check_id, o, min(pos) AS first_pos FROM keyed WHERE o <> '' "
            "GROUP BY check_id, o) ORDER BY check_id, 3"
        ).fetchall():
            owners_n[check_id] = max(owners_n.get(check_id, 0), int(k))
            if k <= keep:
                owners.setdefault(check_id, []).append(str(o))
    rows = []
    for check_id, sev, title, message in sorted(head):
        named, port, tier = agg.get(check_id, (0, False, 9))
        rows.append(
            {
                "check_id": str(check_id),
                "severity": str(sev),
                "title": str(title),
                "message": str(message),
                "named": int(named),
                "portfolio": bool(port),
                "tier": int(tier),
                "labels": labels.get(check_id, []),
                "owners": owners.get(check_id, []),
                "owners_n": owners_n.get(check_id, 0),
            }
        )
    return pd.DataFrame(rows)


def decision_hits(s: StreamedAssessment, checks: Sequence[Sequence[str]], *, keep: int = 4
                  ) -> list[dict[str, Any] | None]:  # fmt: skip
    """Per entry of ``checks`` (the checks of one decision), what
    :func:`toolkit.reports.board.decisions` reads of its failed findings, or None when none
    fails: findings (rows), zones_n (distinct zones, the portfolio left out), zones (the
    first ``keep`` + 1 of them by name), severities and checks (distinct, sorted)."""
    links = pd.DataFrame(
        [(i, c) for i, cs in enumerate(checks) for c in cs], columns=["d", "check_id"]
    ).astype({"d": "int64", "check_id": "object"})
    with _db(s, "findings") as con:
        con.register("links", links)
        con.execute(
            "CREATE TEMP TABLE hit AS SELECT l.d, f.check_id, f.zone, f.severity "
            "FROM findings f JOIN links l USING (check_id) WHERE f.status = 'fail'"
        )
        counts = con.execute(
            "SELECT d, count(*), list(DISTINCT check_id ORDER BY check_id), "
            "list(DISTINCT severity) FROM hit GROUP BY d"
        ).fetchall()
        zones_n = dict(
            con.execute(
                "SELECT d, count(DISTINCT zone) FROM hit WHERE zone IS NOT NULL AND zone <> ? "
                "GROUP BY d",
                [PORTFOLIO],
            ).fetchall()
        )
        first: dict[int, list[str]] = {}
        for d, zone in con.execute(
            "SELECT d, zone FROM (SELECT d, zone, row_number() OVER (PARTITION BY d ORDER BY "
            "zone) AS k FROM (SELECT DISTINCT d, zone FROM hit WHERE zone IS NOT NULL AND "
            "zone <> ?)) WHERE k <= ? ORDER BY d, k",
            [PORTFOLIO, keep + 1],
        ).fetchall():
            first.setdefault(int(d), []).append(str(zone))
    out: list[dict[str, Any] | None] = [None] * len(checks)
    for d, n, ids, sevs in counts:
        out[int(d)] = {
            "findings": int(n),
            "zones_n": int(zones_n.get(d, 0)),
            "zones": first.get(int(d), []),
            "severities": [str(x) for x in sevs],
            "checks": [str(x) for x in ids],
        }
    return out


def rows_of_zones(
    s: StreamedAssessment, frame: str, zones: Sequence[str], *, where: str = ""
) -> pd.DataFrame:
    """The rows of frame ``frame`` of ``s`` whose zone is one of ``zones`` (and, when given,
    that meet the DuckDB condition ``where``), with the frame's schema, in part order."""
    from toolkit.assessment.stream import PARTS

    wanted = pd.DataFrame({"zone": pd.Series(list(zones), dtype=object)})
    with _db(s, frame) as con:
        con.register("wanted", wanted)
        df = con.execute(
            f"SELECT * EXCLUDE (_file, _row) FROM {frame} WHERE zone IN (SELECT zone FROM wanted)"
            + (f" AND ({where})" if where else "")
            + " ORDER BY _file, _row"
        ).df()
    return PARTS[frame].cast(df)


def check_summary(s: StreamedAssessment) -> pd.DataFrame:
    """:func:`toolkit.reports.audit.check_summary` of the whole findings frame, by one
    aggregate per check. Checks of equal severity keep the catalogue's order: the order in
    which ``assess()`` gives them (it runs the checks one after another over every zone)."""
    from toolkit.checks import default_registry
    from toolkit.reports.audit import CHECK_SUMMARY_COLUMNS, check_result

    with _db(s, "findings") as con:
        got = con.execute(
            "SELECT check_id, first(title ORDER BY _file, _row), "
            "first(severity ORDER BY _file, _row), first(pillar ORDER BY _file, _row), "
            'first("references" ORDER BY _file, _row), count(DISTINCT zone), '
            + ", ".join(f"count(*) FILTER (WHERE status = '{st}')" for st in RESULT_STATUSES)
            + " FROM findings GROUP BY check_id"
        ).fetchall()
    order = {c.id: i for i, c in enumerate(default_registry().checks())}
    got.sort(key=lambda r: (order.get(r[0], len(order)), r[0]))
    rows = []
    for r in got:
        row: dict[str, Any] = {
            "check_id": r[0],
            "title": r[1],
            "severity": r[2],
            "pillar": r[3],
            "references": r[4],
            "zones": int(r[5]),
        }
        for i, status in enumerate(RESULT_STATUSES):
            row[status] = int(r[6 + i])
        row["result"] = check_result(row)
        rows.append(row)
    df = pd.DataFrame(rows, columns=CHECK_SUMMARY_COLUMNS)
    sev = {x: i for i, x in enumerate(SEVERITIES)}
    df["_sev"] = df["severity"].map(lambda x: sev.get(x, len(sev)))
    df = df.sort_values("_sev", kind="mergesort").drop(columns=["_sev"])
    for status in RESULT_STATUSES:
        df[status] = df[status].astype("Int64")
    df["zones"] = df["zones"].astype("Int64")
    return df.reset_index(drop=True)


def zone_counts(s: StreamedAssessment) -> pd.DataFrame:
    """Per zone with a failed or indeterminate finding: zone, failed, indeterminate (rows),
    the counts :func:`toolkit.reports.audit.zone_annex` prints; sorted by zone."""
    with _db(s, "findings") as con:
        df = con.execute(
            "SELECT zone, count(*) FILTER (WHERE status = 'fail') AS failed, "
            "count(*) FILTER (WHERE status = 'indeterminate') AS indeterminate "
            "FROM findings WHERE status IN ('fail', 'indeterminate') AND zone IS NOT NULL "
            "GROUP BY zone ORDER BY zone"
        ).df()
    return df.astype({"failed": "int64", "indeterminate": "int64"})


def requirement_rows(
    s: StreamedAssessment, framework: str, *, statuses: Sequence[str], limit: int
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The requirement evidence of ``framework`` limited for print: per requirement the first
    ``limit`` rows of each of ``statuses`` (in the parts' order), and per requirement the row
    count of each status (every row, so the report can say how many were left out)."""
    from toolkit.assessment.stream import PARTS

    placeholders = ", ".join("?" for _ in statuses)
    with _db(s, "requirement_evidence") as con:
        counted = con.execute(
            "SELECT requirement_id, status, count(*) FROM requirement_evidence "
            "WHERE framework = ? GROUP BY requirement_id, status",
            [framework],
        ).fetchall()
        df = con.execute(
            "SELECT * EXCLUDE (_file, _row, k) FROM (SELECT *, row_number() OVER (PARTITION BY "
            "requirement_id, status ORDER BY _file, _row) AS k FROM requirement_evidence "
            f"WHERE framework = ? AND status IN ({placeholders})) WHERE k <= ? "
            "ORDER BY _file, _row",
            [framework, *statuses, limit],
        ).df()
    counts: dict[str, dict[str, int]] = {}
    for req, status, n in counted:
        counts.setdefault(str(req), {})[str(status)] = int(n)
    return PARTS["requirement_evidence"].cast(df), counts


def as_of_date(s: StreamedAssessment) -> date:
    """The date the streamed assessment was made as of (UTC)."""
    return pd.Timestamp(s.as_of).tz_convert("UTC").date()


def issue_rows(
    s: StreamedAssessment,
    frame: str,
    key: str,
    where: str,
    params: Sequence[Any],
    *,
    limit: int,
    min_group: int = 3,
    max_names: int = 12,
) -> dict[str, pd.DataFrame]:
    """Per value of column ``key`` (``check_id`` of the findings, ``requirement_id`` of the
    requirement evidence) among the rows of ``frame`` meeting ``where`` (DuckDB, with
    ``params``): the failed and indeterminate rows as
    :func:`toolkit.reports.audit.collapse_findings` prints them, enough of them that their
    first ``limit`` are those of the whole frame — the first ``limit`` fail rows, the first
    ``limit`` indeterminate rows not collapsed and the first ``limit`` collapsed groups
    (indeterminate rows sharing check and message, at least ``min_group``: one row naming the
    first ``max_names`` zones and counting all). Each frame has the column ``zones``."""
    from toolkit.assessment.stream import PARTS
    from toolkit.reports.audit import findings_of

    cols = [c for c in PARTS[frame].names]
    sel = ", ".join(f'"{c}"' for c in cols)
    with _db(s, frame) as con:
        con.execute(
            f"CREATE TEMP TABLE issues AS SELECT {sel}, _file, _row FROM {frame} "
            f"WHERE status IN ('fail', 'indeterminate') AND ({where})",
            list(params),
        )
        con.execute(
            f'CREATE TEMP TABLE grp AS SELECT "{key}" AS k, check_id, message, count(*) AS n '
            "FROM issues WHERE status = 'indeterminate' "
            f'GROUP BY "{key}", check_id, message'
        )
        fails = con.execute(
            f'SELECT {sel} FROM (SELECT *, row_number() OVER (PARTITION BY "{key}" ORDER BY '
            "zone, check_id, _file, _row) AS r FROM issues WHERE status = 'fail') "
            "WHERE r <= ? ORDER BY _file, _row",
            [limit],
        ).df()
        single = con.execute(
            f'SELECT {sel} FROM (SELECT i.*, row_number() OVER (PARTITION BY i."{key}" '
            "ORDER BY i.zone, i.check_id, i._file, i._row) AS r FROM issues i JOIN grp g ON "
            f'g.k = i."{key}" AND g.check_id = i.check_id AND g.message IS NOT DISTINCT FROM '
            "i.message WHERE i.status = 'indeterminate' AND g.n < ?) WHERE r <= ? "
            "ORDER BY _file, _row",
            [min_group, limit],
        ).df()
        isel = ", ".join(f'i."{c}"' for c in cols)
        grouped = con.execute(
            f'WITH g2 AS (SELECT "{key}" AS k, check_id, message, count(*) AS n, '
            "list(zone ORDER BY zone)[1:?] AS names, "
            "min(_file || ':' || lpad(CAST(_row AS VARCHAR), 12, '0')) AS first_at "
            "FROM issues WHERE status = 'indeterminate' "
            f'GROUP BY "{key}", check_id, message HAVING count(*) >= ?) '
            f"SELECT {isel}, g2.n, g2.names FROM issues i JOIN g2 ON "
            f'g2.k = i."{key}" AND g2.check_id = i.check_id AND '
            "g2.message IS NOT DISTINCT FROM i.message AND "
            "i._file || ':' || lpad(CAST(i._row AS VARCHAR), 12, '0') = g2.first_at",
            [max_names, min_group],
        ).df()
    out: dict[str, pd.DataFrame] = {}
    rows: list[pd.DataFrame] = [fails.assign(zones=1), single.assign(zones=1)]
    if len(grouped):
        g = grouped.copy()
        names = [[str(z) for z in zs] for zs in g["names"]]
        n = [int(x) for x in g["n"]]
        g["zone"] = [f"{k:,} zones" for k in n]
        g["message"] = [
            f"{m} — zones: {', '.join(ns)}"
            + (f" and {k - max_names:,} more" if k > max_names else "")
            for m, ns, k in zip(g["message"], names, n, strict=True)
        ]
        g["evidence"] = [
            f"{k:,} zones, same finding; each zone's evidence row is in the findings attachment"
            for k in n
        ]
        g["zones"] = n
        g = findings_of(g.drop(columns=["n", "names"]))
        rows.append(g.groupby(key, sort=False).head(limit))
    both = pd.concat(rows, ignore_index=True)
    for k, part in both.groupby(key, sort=False):
        out[str(k)] = findings_of(part).head(limit)
    return out


def zone_lists(
    s: StreamedAssessment,
    frame: str,
    key: str,
    where: str,
    params: Sequence[Any],
    *,
    limit: int,
    statuses: Sequence[str] = ("pass", "not_applicable"),
) -> dict[tuple[str, str], list[str]]:
    """Per value of ``key`` and status of ``statuses``: the first ``limit`` + 1 zones of the
    rows of ``frame`` meeting ``where``, in the order :func:`toolkit.reports.audit.findings_of`
    gives (zone, then check)."""
    placeholders = ", ".join("?" for _ in statuses)
    with _db(s, frame) as con:
        got = con.execute(
            f'SELECT k, status, zone FROM (SELECT "{key}" AS k, status, zone, row_number() OVER '
            f'(PARTITION BY "{key}", status ORDER BY zone, check_id, _file, _row) AS r FROM '
            f"{frame} WHERE status IN ({placeholders}) AND ({where})) WHERE r <= ? "
            "ORDER BY k, status, r",
            [*statuses, *params, limit + 1],
        ).fetchall()
    out: dict[tuple[str, str], list[str]] = {}
    for k, status, zone in got:
        out.setdefault((str(k), str(status)), []).append(str(zone))
    return out


def requirement_stats(s: StreamedAssessment, framework: str, *, limit: int) -> dict[str, Any]:
    """Per requirement of ``framework``, what the audit report prints of its evidence rows:
    rows (count), zones (distinct), counts (per status), checks (the distinct checks seen),
    passed (the first ``limit`` distinct passing zones, sorted) and passed_n."""
    with _db(s, "requirement_evidence") as con:
        base = con.execute(
            "SELECT requirement_id, count(*), count(DISTINCT zone), "
            "list(DISTINCT check_id ORDER BY check_id), "
            + ", ".join(f"count(*) FILTER (WHERE status = '{st}')" for st in RESULT_STATUSES)
            + ", count(DISTINCT zone) FILTER (WHERE status = 'pass') "
            "FROM requirement_evidence WHERE framework = ? GROUP BY requirement_id",
            [framework],
        ).fetchall()
        passed = con.execute(
            "SELECT requirement_id, zone FROM (SELECT requirement_id, zone, row_number() OVER "
            "(PARTITION BY requirement_id ORDER BY zone) AS r FROM (SELECT DISTINCT "
            "requirement_id, zone FROM requirement_evidence WHERE framework = ? AND "
            "status = 'pass')) WHERE r <= ? ORDER BY requirement_id, r",
            [framework, limit],
        ).fetchall()
    first: dict[str, list[str]] = {}
    for req, zone in passed:
        first.setdefault(str(req), []).append(str(zone))
    out: dict[str, Any] = {}
    for r in base:
        req = str(r[0])
        out[req] = {
            "rows": int(r[1]),
            "zones": int(r[2]),
            "checks": [str(c) for c in r[3]],
            "counts": {st: int(r[4 + i]) for i, st in enumerate(RESULT_STATUSES)},
            "passed": first.get(req, []),
            "passed_n": int(r[4 + len(RESULT_STATUSES)]),
        }
    return out


def failing_zones(s: StreamedAssessment) -> set[str]:
    """The zones with at least one failed finding."""
    with _db(s, "findings") as con:
        rows = con.execute(
            "SELECT DISTINCT zone FROM findings WHERE status = 'fail' AND zone IS NOT NULL"
        ).fetchall()
    return {str(r[0]) for r in rows}


NO_STATS: dict[str, Any] = {
    "rows": 0,
    "zones": 0,
    "checks": [],
    "counts": {},
    "passed": [],
    "passed_n": 0,
}
"""The :func:`requirement_stats` entry of a requirement without any evidence row."""
