"""The maturity model: indicators from findings and records, pillar and overall scores, levels,
gates — and for every number, the trail of indicators, weights and rows behind it.

Model (REFERENCE §5, weights and thresholds overridable in ``policy.yaml`` → ``maturity``):

* **Indicators** score 0..1 per zone. Most are the share of their checks' findings that pass
  (``pass / (pass + fail + indeterminate)``, the zone's own findings plus the portfolio-wide
  ones); ``chain_status``, ``algorithm_strength`` and ``cds_automation`` are graded from the
  zones frame and the policy. An indicator with only not-applicable findings is left out (its
  weight too); one with no evidence at all is *not evidenced* and scores 0 — never a pass.
  Checks no indicator names count in their pillar's ``other_*_checks`` indicator, so new
  checks always weigh.
* **Pillar** (technical, operational, governance) = 100 × weighted mean of its indicators.
* **Overall** (zone) = weighted mean of its pillars (default 0.40 / 0.35 / 0.25).
* **Portfolio** = mean of the zones weighted by risk tier (default tier 1 = 3, 2 = 2, 3 = 1,
  untiered = 1); portfolio pillars likewise.
* **Level** 1–5 from the score (default thresholds 40 / 60 / 75 / 90), capped by **gates**
  (default: a bogus tier-1 zone caps at 2; a zone without owner, or an unapproved key change,
  at 3) so a serious fault cannot be averaged away.

Every score is computed as the exact sum (:func:`math.fsum`) of per-indicator contributions,
so :meth:`Maturity.explain` returns rows that add up to the score exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from toolkit.history.trends import Scorer
from toolkit.inputs.maturity_settings import INDICATORS, Indicator, MaturitySettings
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import Column, FrameSchema
from toolkit.vocabulary import PILLARS

K = TypeVar("K", bound=Hashable)  # a key of _fsums

PORTFOLIO = "(portfolio)"


ALGORITHM_SCORES: dict[int, float] = {13: 1.0, 14: 1.0, 15: 1.0, 16: 1.0, 8: 0.7, 10: 0.7}
"""Algorithm grade (REFERENCE §5); any other algorithm scores 0 (RSA key size not graded)."""


def _schema(name: str, description: str, *cols: tuple[str, str, str]) -> FrameSchema:
    return FrameSchema(name, description, tuple(Column(*c) for c in cols))


INDICATOR_SCORES = _schema(
    "indicator_scores",
    "One row per zone and indicator: its score and what it contributes to each score.",
    ("zone", "string", "zone"),
    ("risk_tier", "Int64", "the zone's risk tier"),
    ("pillar", "string", "technical | operational | governance"),
    ("indicator", "string", "indicator name"),
    ("weight", "Float64", "indicator weight (0: left out)"),
    ("score", "Float64", "0..1; null when not applicable"),
    ("status", "string", "scored | not_evidenced | not_applicable"),
    ("detail", "string", "how the score was reached"),
    ("pillar_points", "Float64", "points of the zone's pillar score (0-100)"),
    ("overall_points", "Float64", "points of the zone's overall score"),
    ("portfolio_pillar_points", "Float64", "points of the portfolio's pillar score"),
    ("portfolio_points", "Float64", "points of the portfolio's overall score"),
)

INDICATOR_EVIDENCE = _schema(
    "indicator_evidence",
    "The rows behind each indicator: findings, zone status, policy facts.",
    ("zone", "string", "zone scored"),
    ("indicator", "string", "indicator"),
    ("source", "string", "findings | zones | policy.yaml"),
    ("check_id", "string", "check (findings)"),
    ("subject", "string", "zone the row is about ((portfolio): portfolio-wide)"),
    ("status", "string", "the row's status or value"),
    ("message", "string", "the row in words"),
    ("evidence", "string", "where the facts come from"),
)

SCORES = _schema(
    "maturity_scores",
    "One row per zone, and one for the portfolio: pillar scores, overall, level, gates.",
    ("zone", "string", "zone, or (portfolio)"),
    ("risk_tier", "Int64", "risk tier"),
    ("tier_weight", "Float64", "weight in the portfolio"),
    ("technical", "Float64", "technical pillar 0-100 (null: nothing applicable)"),
    ("operational", "Float64", "operational pillar 0-100"),
    ("governance", "Float64", "governance pillar 0-100"),
    ("overall", "Float64", "weighted mean of the pillars"),
    ("score_level", "Int64", "level from the score alone"),
    ("level", "Int64", "level after the gates"),
    ("gates", "string", "gates that capped the level, `;`-joined"),
)

GATES = _schema(
    "gates_triggered",
    "One row per gate and zone that triggers it.",
    ("gate", "string", "gate id"),
    ("zone", "string", "zone that triggers it"),
    ("max_level", "Int64", "level cap"),
    ("evidence", "string", "why"),
)


@dataclass(frozen=True)
class Explanation:
    """The trail behind one score: ``indicators`` (with the ``contribution`` column, whose
    exact sum is ``score``), the ``evidence`` rows, and the ``gates`` that capped ``level``."""

    scope: str
    pillar: str
    score: float
    level: int | None
    indicators: pd.DataFrame
    evidence: pd.DataFrame
    gates: pd.DataFrame


@dataclass(frozen=True)
class Maturity:
    """Scores of a portfolio: ``scores`` (zones and portfolio, schema SCORES),
    ``indicators`` (INDICATOR_SCORES), ``evidence`` (INDICATOR_EVIDENCE), ``gates`` (GATES)."""

    scores: pd.DataFrame
    indicators: pd.DataFrame
    evidence: pd.DataFrame
    gates: pd.DataFrame

    @property
    def portfolio(self) -> dict[str, Any]:
        """The portfolio row of :attr:`scores` as a dict."""
        return self.scores[self.scores["zone"] == PORTFOLIO].iloc[0].to_dict()

    def explain(self, zone: str | None = None, pillar: str | None = None) -> Explanation:
        """The indicators, weights and evidence rows behind one score.

        ``zone`` None (or :data:`PORTFOLIO`) explains the portfolio; ``pillar`` None the
        overall score. The returned ``indicators`` carry ``contribution`` (points); their
        :func:`math.fsum` equals ``score`` exactly. Raises KeyError for an unknown zone or
        pillar.
        """
        scope = zone or PORTFOLIO
        if scope not in set(self.scores["zone"]):
            raise KeyError(f"zone {zone!r} was not scored")
        if pillar is not None and pillar not in PILLARS:
            raise KeyError(f"pillar {pillar!r} is not one of {PILLARS}")
        ind = (
            self.indicators
            if scope == PORTFOLIO
            else self.indicators[self.indicators["zone"] == scope]
        )
        if pillar is not None:
            ind = ind[ind["pillar"] == pillar]
        column = ("portfolio_" if scope == PORTFOLIO else "") + (
            "pillar_points" if pillar else ("points" if scope == PORTFOLIO else "overall_points")
        )
        ind = ind.assign(contribution=ind[column].fillna(0.0).astype(float))
        row = self.scores[self.scores["zone"] == scope].iloc[0]
        score = row[pillar or "overall"]
        score = 0.0 if pd.isna(score) else float(score)
        keys = set(zip(ind["zone"], ind["indicator"], strict=True))
        ev = self.evidence[
            [k in keys for k in zip(self.evidence["zone"], self.evidence["indicator"], strict=True)]
        ]
        gates = self.gates if scope == PORTFOLIO else self.gates[self.gates["zone"] == scope]
        level = None if pillar else int(row["level"])
        return Explanation(scope, pillar or "overall", score, level, ind, ev, gates)


def level_for(score: float, thresholds: tuple[float, ...]) -> int:
    """Level 1-5 of a score: 1 + the number of thresholds it reaches."""
    return 1 + sum(score >= t for t in thresholds)


def score(
    findings: pd.DataFrame,
    zones: pd.DataFrame,
    inventory: pd.DataFrame,
    policies: PolicySet,
    settings: MaturitySettings | None = None,
) -> Maturity:
    """Score every inventory zone and the portfolio (see the module docstring).

    ``findings`` (schema FINDINGS) of all pillars, ``zones`` of the assessed run,
    ``inventory`` of the portfolio; ``settings`` default to ``policies.settings.maturity``.
    """
    cfg = settings or policies.settings.maturity
    weights = {i.name: float(cfg.indicator_weights.get(i.name, i.weight)) for i in INDICATORS}
    attributed = _attribute(findings, inventory)
    counts: dict[tuple[str, str], dict[str, int]] = {}  # (zone, indicator) -> status -> n
    keys = zip(
        attributed["scored"].tolist(),
        attributed["indicator"].tolist(),
        attributed["status"].tolist(),
        strict=True,
    )
    for (zone, name, status), n in Counter(keys).items():
        counts.setdefault((zone, name), {})[status] = n
    # only the columns read here and by _graded: itertuples costs per column and row
    zone_rows = {
        r.zone: r for r in zones[["zone", "status", "algorithms", "signed", "reasons"]].itertuples()
    }
    accepted: dict[str, list[Any]] = {}
    is_accepted = (attributed["check_id"] == "unsigned_zone_risk_accepted") & (
        attributed["status"] == "pass"
    )
    columns = ["scored", "check_id", "zone", "status", "message", "evidence"]
    for r in attributed.loc[is_accepted, columns].itertuples():
        accepted.setdefault(r.scored, []).append(r)
    ind_rows: list[dict[str, Any]] = []
    ev_rows: list[dict[str, Any]] = []
    for inv in inventory[["zone", "risk_tier", "expected_signed", "policy"]].itertuples():
        for ind in INDICATORS:
            by_status = counts.get((inv.zone, ind.name), {})
            if ind.grade in ("share", "other"):
                value, status, detail = _share(by_status, ind)
                extra: list[dict[str, Any]] = []
            else:
                value, status, detail, extra = _graded(
                    ind, inv, by_status, zone_rows, policies, accepted
                )
            ind_rows.append(
                {
                    "zone": inv.zone,
                    "risk_tier": inv.risk_tier,
                    "pillar": ind.pillar,
                    "indicator": ind.name,
                    "weight": weights[ind.name],
                    "score": value,
                    "status": status,
                    "detail": detail,
                }
            )
            ev_rows += [{"zone": inv.zone, "indicator": ind.name, **e} for e in extra]
    ind_frame = INDICATOR_SCORES.frame(ind_rows)
    scores, ind_frame = _aggregate(ind_frame, inventory, cfg)
    gates = _gates(findings, zones, inventory, cfg)
    scores = _levels(scores, gates, cfg)
    evidence = pd.concat(
        [
            INDICATOR_EVIDENCE.cast(
                attributed.rename(columns={"zone": "subject"})
                .rename(columns={"scored": "zone"})
                .assign(source="findings")
            ),
            INDICATOR_EVIDENCE.frame(ev_rows),
        ],
        ignore_index=True,
    )
    return Maturity(scores, ind_frame, INDICATOR_EVIDENCE.cast(evidence), gates)


def _attribute(findings: pd.DataFrame, inventory: pd.DataFrame) -> pd.DataFrame:
    """Findings rows attributed to (``scored`` zone, ``indicator``): each zone's own rows, and
    every portfolio-wide row for every zone. Checks no indicator names go to their pillar's
    ``other_*_checks``."""
    by_check = {c: i.name for i in INDICATORS for c in i.checks}
    f = findings.assign(indicator=findings["check_id"].map(by_check))
    other = "other_" + f["pillar"].astype(str) + "_checks"
    f["indicator"] = f["indicator"].fillna(other)
    zones = list(inventory["zone"])
    own = f[f["zone"].isin(zones)].assign(scored=lambda d: d["zone"])
    shared = f[f["zone"] == PORTFOLIO]
    parts = [own]
    if len(shared) and zones:  # every shared row once per zone, zone after zone
        spread = shared.iloc[list(range(len(shared))) * len(zones)]
        parts.append(spread.assign(scored=[z for z in zones for _ in range(len(shared))]))
    return pd.concat(parts, ignore_index=True)


def _share(n: Mapping[str, int], ind: Indicator) -> tuple[float | None, str, str]:
    """An indicator scored as the share of its findings that pass."""
    passed, failed, unknown = n.get("pass", 0), n.get("fail", 0), n.get("indeterminate", 0)
    total = passed + failed + unknown
    if not n:
        if ind.grade == "other":
            return None, "not_applicable", "no other check in this pillar"
        return 0.0, "not_evidenced", "no finding of " + ", ".join(ind.checks)
    if total == 0:
        return None, "not_applicable", "every finding not applicable"
    detail = f"{passed} pass, {failed} fail, {unknown} not evidenced"
    if passed == failed == 0:
        return 0.0, "not_evidenced", detail
    return passed / total, "scored", detail


def _graded(
    ind: Indicator,
    inv: Any,
    n: Mapping[str, int],
    zone_rows: Mapping[str, Any],
    policies: PolicySet,
    accepted: Mapping[str, list[Any]],
) -> tuple[float | None, str, str, list[dict[str, Any]]]:
    """(score, status, detail, extra evidence rows) of a graded indicator for one zone
    (``accepted``: the passing unsigned_zone_risk_accepted findings by scored zone)."""
    z = zone_rows.get(inv.zone)
    zone_ev = [] if z is None else [
        {
            "source": "zones",
            "subject": inv.zone,
            "status": z.status,
            "message": f"status {z.status}, algorithms {z.algorithms}, signed {z.signed}",
            "evidence": f"zones[{inv.zone}] reasons={z.reasons}",
        }
    ]  # fmt: skip
    expected = pd.isna(inv.expected_signed) or bool(inv.expected_signed)
    if ind.grade == "chain_status":
        mine = accepted.get(inv.zone, [])
        ev = zone_ev + [
            {"source": "findings", "check_id": r.check_id, "subject": r.zone,
             "status": r.status, "message": r.message, "evidence": r.evidence}
            for r in mine
        ]  # fmt: skip
        if z is None or pd.isna(z.status) or z.status == "indeterminate":
            return 0.0, "not_evidenced", "chain status not determined", ev
        if z.status == "secure":
            return 1.0, "scored", "secure", ev
        if z.status == "bogus":
            return 0.0, "scored", "bogus", ev
        if not expected or mine:
            return 1.0, "scored", "insecure, by decision or accepted risk", ev
        return 0.2, "scored", "insecure but should be signed", ev
    if ind.grade == "algorithm_strength":
        if z is None or pd.isna(z.signed):
            return 0.0, "not_evidenced", "signing not determined", zone_ev
        if not bool(z.signed) or pd.isna(z.algorithms) or not str(z.algorithms):
            return None, "not_applicable", "zone not signed", zone_ev
        algs = [int(a) for a in str(z.algorithms).split(";") if a]
        value = min(ALGORITHM_SCORES.get(a, 0.0) for a in algs)
        return value, "scored", f"algorithms {z.algorithms}", zone_ev
    # cds_automation: a fact of the zone's policy
    if not expected:
        return None, "not_applicable", "unsigned by decision", []
    policy = policies.get(None if pd.isna(inv.policy) else str(inv.policy))
    if policy is None:
        return 0.0, "not_evidenced", "no signing policy applies", []
    ev = [
        {
            "source": "policy.yaml",
            "subject": inv.zone,
            "status": str(policy.cds_automation).lower(),
            "message": f"policies.{policy.name}.cds_automation = {policy.cds_automation}",
            "evidence": "policy.yaml",
        }
    ]
    return (1.0 if policy.cds_automation else 0.0), "scored", "policy setting", ev


def _aggregate(
    ind: pd.DataFrame, inventory: pd.DataFrame, cfg: MaturitySettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contributions of every indicator row; scores as exact sums of them."""
    ind = ind.copy()
    zone_of, pillar_of = ind["zone"].tolist(), ind["pillar"].tolist()  # per row, plain values
    live = ind["score"].notna() & (ind["weight"] > 0)
    w = ind["weight"].where(live, 0.0).astype(float)
    s = ind["score"].fillna(0.0).astype(float)
    pillar_w = ind.assign(w=w).groupby(["zone", "pillar"])["w"].transform("sum")
    ind["pillar_points"] = (100.0 * w * s / pillar_w.where(pillar_w > 0)).fillna(0.0)
    has = (pillar_w > 0).astype(float)
    pw = ind["pillar"].map(lambda p: float(cfg.pillar_weights.get(p, 0.0)))
    zone_pw = ind.assign(x=pw * has).drop_duplicates(["zone", "pillar"]).groupby("zone")["x"].sum()
    ind["overall_points"] = (
        ind["pillar_points"] * pw / ind["zone"].map(zone_pw).where(lambda v: v > 0)
    )
    ind["overall_points"] = ind["overall_points"].fillna(0.0)
    tiers = dict(zip(inventory["zone"], inventory["risk_tier"], strict=True))
    tw = {
        z: float(cfg.tier_weights.get(None if pd.isna(t) else int(t), 1.0))
        for z, t in tiers.items()
    }
    total_tw = math.fsum(tw.values()) or 1.0
    ind["portfolio_points"] = ind["overall_points"] * ind["zone"].map(tw) / total_tw
    pillar_has = ind.assign(h=has).drop_duplicates(["zone", "pillar"])
    pillar_tw = {
        p: math.fsum(tw[z] for z in g.loc[g["h"] > 0, "zone"])
        for p, g in pillar_has.groupby("pillar")
    }
    ind["portfolio_pillar_points"] = [
        pts * tw[z] / pillar_tw[p] if pillar_tw.get(p) else 0.0
        for pts, z, p in zip(ind["pillar_points"].tolist(), zone_of, pillar_of, strict=True)
    ]
    ind = INDICATOR_SCORES.cast(ind)
    zone_pillar = list(zip(zone_of, pillar_of, strict=True))
    alive = {k for k, a in zip(zone_pillar, live.tolist(), strict=True) if a}
    pillar_sum = _fsums(zone_pillar, ind["pillar_points"])
    overall = _fsums(zone_of, ind["overall_points"])
    rows = []
    for zone in inventory["zone"]:
        row: dict[str, Any] = {"zone": zone, "risk_tier": tiers[zone], "tier_weight": tw[zone]}
        for p in PILLARS:
            row[p] = pillar_sum.get((zone, p)) if (zone, p) in alive else None
        row["overall"] = overall.get(zone, 0.0)
        rows.append(row)
    port: dict[str, Any] = {"zone": PORTFOLIO, "tier_weight": total_tw}
    port_pillars = _fsums(pillar_of, ind["portfolio_pillar_points"])
    for p in PILLARS:
        port[p] = port_pillars.get(p) if pillar_tw.get(p) else None
    port["overall"] = _fsum(ind["portfolio_points"])
    rows.append(port)
    return SCORES.frame(rows), ind


def _fsum(values: pd.Series) -> float:
    """The exactly rounded sum (:func:`math.fsum`) of a column."""
    return math.fsum(values.astype(float))


def _fsums(keys: Sequence[K], values: pd.Series) -> dict[K, float]:
    """The exactly rounded sum (:func:`math.fsum`) of a column per key (``keys``: one per
    row)."""
    groups: dict[K, list[float]] = {}
    for key, v in zip(keys, values.astype(float).tolist(), strict=True):
        groups.setdefault(key, []).append(v)
    return {key: math.fsum(vs) for key, vs in groups.items()}


def _gates(
    findings: pd.DataFrame, zones: pd.DataFrame, inventory: pd.DataFrame, cfg: MaturitySettings
) -> pd.DataFrame:
    """Every gate and zone that triggers it (schema GATES); a portfolio-wide failed finding
    triggers a check_fails gate for :data:`PORTFOLIO` (so for every zone)."""
    tiers = dict(zip(inventory["zone"], inventory["risk_tier"], strict=True))
    failed = findings.loc[findings["status"] == "fail", ["zone", "check_id", "message"]]
    failed = failed[failed["zone"].isin([*tiers, PORTFOLIO])]
    rows = []
    for gate in cfg.gates:
        if gate.when == "zone_status":
            hit = zones[zones["status"].isin(gate.statuses) & zones["zone"].isin(list(tiers))]
            why = {r.zone: f"zones[{r.zone}] status={r.status}" for r in hit.itertuples()}
        else:
            hit = failed[failed["check_id"].isin(gate.checks)]
            why = {}
            for r in hit.itertuples():
                why[r.zone] = "; ".join(
                    filter(None, [why.get(r.zone), f"{r.check_id}: {r.message}"])
                )
        for zone, text in why.items():
            tier = tiers.get(zone)
            if gate.tiers and (tier is None or pd.isna(tier) or int(tier) not in gate.tiers):
                continue
            where = "" if tier is None or pd.isna(tier) else f" (tier {int(tier)})"
            rows.append({"gate": gate.id, "zone": zone, "max_level": gate.max_level,
                         "evidence": text + where})  # fmt: skip
    return GATES.frame(rows)


def _levels(scores: pd.DataFrame, gates: pd.DataFrame, cfg: MaturitySettings) -> pd.DataFrame:
    scores = scores.copy()
    caps: dict[str, int] = {}
    names: dict[str, set[str]] = {}
    for g in gates.itertuples():
        caps[g.zone] = min(caps.get(g.zone, 5), int(g.max_level))
        names.setdefault(g.zone, set()).add(g.gate)
    every = caps.get(PORTFOLIO, 5), names.get(PORTFOLIO, set())
    all_caps = min(caps.values(), default=5)
    all_names = set().union(*names.values()) if names else set()
    out_level, out_score_level, out_gates = [], [], []
    for zone, overall in zip(scores["zone"], scores["overall"], strict=True):
        base = level_for(float(overall), cfg.levels)
        if zone == PORTFOLIO:
            cap, hit = all_caps, all_names
        else:
            cap, hit = min(caps.get(zone, 5), every[0]), names.get(zone, set()) | every[1]
        out_score_level.append(base)
        out_level.append(min(base, cap))
        out_gates.append(";".join(sorted(hit)) or None)
    scores["score_level"] = out_score_level
    scores["level"] = out_level
    scores["gates"] = out_gates
    return SCORES.cast(scores)


def maturity_scorer(policies: PolicySet) -> Scorer:
    """A :data:`~toolkit.history.trends.Scorer` with :func:`score` under ``policies``: the
    portfolio's overall score and level, from the run's findings, zones and inventory."""

    def scorer(frames: Mapping[str, pd.DataFrame]) -> tuple[float, int] | None:
        if not {"findings", "zones", "inventory"} <= set(frames) or frames["inventory"].empty:
            return None
        m = score(frames["findings"], frames["zones"], frames["inventory"], policies)
        p = m.portfolio
        if pd.isna(p.get("overall")):
            return None
        return round(float(p["overall"]), 2), int(p["level"])

    return scorer
