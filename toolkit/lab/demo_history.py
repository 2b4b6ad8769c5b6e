"""Demo history: several quarters of simulated runs of a portfolio, collected by the real
collector from the lab's real servers, so the reports have real trends to draw.

The lab is rebuilt at each step's simulated time with :func:`toolkit.lab.zones.build_tree`
(the same pure builder ``lab up`` uses, with the same seeded keys) from a *plan*
(:func:`plan`) that tells how each zone looked then, then published on the running servers
(:class:`~toolkit.lab.publish.Republisher`) and collected at that time. The story, per
scenario of today's lab catalog:

* ``secure`` zones are signed one after another (the first from the start, the next a quarter
  later, ...) and roll their ZSK every quarter by pre-publication: a run on the 22nd of the
  quarter's last month shows the next ZSK published but idle, one on the 1st of the next
  quarter the old one retired, the 15th's run the rollover done (the last run pre-publishes
  the lab's own ZSK, which today's run shows signing);
* ``island`` zones are unsigned for the first half, then signed (still without DS);
* ``ds-mismatch`` zones are secure until the last quarter (a botched KSK rollover then);
* ``expired`` and ``expiring`` zones are secure until the last run;
* every other zone is as the catalog builds it, at every step.

Every run is labelled in its manifest (``simulated: true``, ``simulation: demo-history``) and
collected without resolvers (they run on the real clock; see :mod:`toolkit.lab.drills`). The
same lab, ``now`` and parameters give the same zones and the same runs (bar the run ids' random
suffix and the measured latencies). Today's run is not part of it: collect it as usual after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from toolkit.collect import collect_run
from toolkit.errors import LabError
from toolkit.lab import zones
from toolkit.lab.publish import Republisher, ServedFile
from toolkit.lab.scenarios import LAB_ZONES, LabAddresses, LabZone
from toolkit.lab.simulation import SimulatedCollectConfig

DEMO_SEED = "dnssec-governance-demo-history"
SIMULATION = "demo-history"


@dataclass(frozen=True)
class ZonePlan:
    """How one zone looks at one step: its scenario, and for a ZSK being rolled, which
    quarter's ZSK signs and which other one is published idle (None: none)."""

    scenario: str
    zsk: int | None = None  # quarter whose ZSK signs; None: the lab's own ZSK
    idle_zsk: int | None = None  # quarter whose ZSK is published but idle; -1: the lab's own


@dataclass(frozen=True)
class Step:
    """One run of the demo history: its time and every zone's plan."""

    index: int
    quarter: int
    at: datetime
    zones: dict[str, ZonePlan]


def demo_times(now: datetime, quarters: int = 4) -> list[tuple[datetime, str]]:
    """The demo history's runs, oldest first, as (time, kind), from the start of the calendar
    quarter ``quarters`` quarters before ``now``'s up to a day before ``now``: a ``monthly``
    run on the 15th of every month at 06:00 UTC, and around every quarter's end a
    ``prepublish`` run on the 22nd of its last month and a ``retire`` run on the 1st of the
    next (the ZSK rollover's steps, a few weeks apart as a rollover window wants).
    Raises ValueError for fewer than one quarter or a naive ``now``."""
    if quarters < 1:
        raise ValueError("the demo history needs at least one quarter")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    index = now.year * 12 + (now.month - 1) // 3 * 3 - 3 * quarters  # months since year 0
    out: list[tuple[datetime, str]] = []
    while True:
        year, month = divmod(index, 12)
        month += 1
        candidates = [(datetime(year, month, 15, 6, tzinfo=UTC), "monthly")]
        if month % 3 == 1 and out:
            candidates.insert(0, (datetime(year, month, 1, 6, tzinfo=UTC), "retire"))
        if month % 3 == 0:
            candidates.append((datetime(year, month, 22, 6, tzinfo=UTC), "prepublish"))
        for t, kind in candidates:
            if t > now - timedelta(days=1):
                return out
            out.append((t, kind))
        index += 1


def _quarter(t: datetime) -> int:
    return t.year * 4 + (t.month - 1) // 3


def plan(catalog: Sequence[LabZone], times: Sequence[tuple[datetime, str]]) -> list[Step]:
    """How every zone of ``catalog`` looks at each run of ``times`` (:func:`demo_times`; pure,
    see the module docstring for the story). Quarters are calendar quarters, numbered from
    the first; the last run pre-publishes the lab's own ZSK, which today's run shows."""
    if not times:
        return []
    first = _quarter(times[0][0])
    quarters = _quarter(times[-1][0]) - first + 1
    secure = [z.zone for z in catalog if z.scenario == "secure"]
    n = len(times)
    steps = []
    for j, (t, kind) in enumerate(times):
        q = _quarter(t) - first
        out: dict[str, ZonePlan] = {}
        for lz in catalog:
            s = lz.scenario
            if s == "secure":
                onboard = min(secure.index(lz.zone), quarters - 1)
                if q < onboard:
                    out[lz.zone] = ZonePlan("unsigned")
                elif j == n - 1:
                    out[lz.zone] = ZonePlan("zsk-prepublish", zsk=q, idle_zsk=-1)
                elif kind == "prepublish":
                    out[lz.zone] = ZonePlan("zsk-prepublish", zsk=q, idle_zsk=q + 1)
                elif kind == "retire" and q > onboard:
                    out[lz.zone] = ZonePlan("zsk-prepublish", zsk=q, idle_zsk=q - 1)
                else:
                    out[lz.zone] = ZonePlan("secure", zsk=q)
            elif s == "island":
                out[lz.zone] = ZonePlan("unsigned" if q < quarters // 2 else "island")
            elif s == "ds-mismatch":
                out[lz.zone] = ZonePlan("secure" if q < quarters - 1 else s)
            elif s in ("expired", "expiring"):
                out[lz.zone] = ZonePlan("secure" if j < n - 1 else s)
            else:
                out[lz.zone] = ZonePlan(s)
        steps.append(Step(j, q, t, out))
    return steps


def _quarter_zsk(seed: str, zone: str, quarter: int) -> zones.SigningKey:
    return zones.new_key(zones.ZSK_FLAGS, seed=f"{seed}/{zone}/zsk/q{quarter}")


def step_keys(base: zones.LabKeys, step: Step, seed: str = DEMO_SEED) -> zones.LabKeys:
    """The lab's keys with each rolled zone's quarter ZSKs in place (pure)."""
    out = dict(base.zones)
    for zone, p in step.zones.items():
        name = zones.absolute(zone)
        if name not in base.zones or p.zsk is None:
            continue
        own = base.zones[name]
        signing = _quarter_zsk(seed, zone, p.zsk)
        extra = dict(own.extra)
        if p.idle_zsk is not None:
            idle = own.zsk if p.idle_zsk == -1 else _quarter_zsk(seed, zone, p.idle_zsk)
            extra["zsk-next"] = idle
        out[name] = zones.ZoneKeys(own.ksk, signing, extra)
    return zones.LabKeys(out, base.decoys)


def _texts(tree: zones.LabTree, files: list[ServedFile]) -> dict[ServedFile, str]:
    texts = {}
    for f in files:
        variant = tree.variants.get(f.server, {}).get(f.zone)
        zone = variant if variant is not None else tree.zones.get(f.zone)
        if zone is not None:
            texts[f] = zones.zone_text(zone)
    return texts


def build_demo_history(
    lab_dir: str | Path,
    workspace: str | Path,
    portfolio: str | Path,
    *,
    now: datetime,
    quarters: int = 4,
    catalog: Sequence[LabZone] = LAB_ZONES,
    seed: str = DEMO_SEED,
) -> list[str]:
    """Collect simulated history of ``portfolio`` — a run a month and two around each
    quarter's end, over ``quarters`` full calendar quarters and the current one
    (:func:`demo_times`) — from the running lab in
    ``lab_dir`` into ``workspace`` (see the module docstring); returns the run ids, oldest
    first. The lab's zone files are restored afterwards, whatever happens.

    Raises LabError when the lab is not running or was not built with the default key seed
    (its trust anchor must be the root DS of :func:`toolkit.lab.zones.generate_lab_keys`),
    InputError for a bad portfolio, StoreError when a run cannot be stored.
    """
    base = zones.generate_lab_keys(catalog, seed=zones.DEFAULT_KEY_SEED)
    steps = plan(catalog, demo_times(now, quarters))
    run_ids = []
    with Republisher(lab_dir) as rp:
        info = rp.info
        anchor = zones.trust_anchor_text(zones.make_ds(zones.ROOT, base.zones[zones.ROOT].ksk))
        if Path(info.trust_anchor).read_text().split() != anchor.split():
            raise LabError(
                f"the lab at {info.dir} was not built with the default key seed: "
                "the demo history rebuilds its zones with the default keys"
            )
        addrs = LabAddresses.from_base(info.base)
        config = SimulatedCollectConfig(
            trust_anchor=info.trust_anchor,
            root_hints=info.root_hints,
            resolvers=(),
            progress=False,
            simulation=SIMULATION,
        )
        for step in steps:
            lab_zones = [replace(lz, scenario=step.zones[lz.zone].scenario) for lz in catalog]
            tree = zones.build_tree(addrs, step_keys(base, step, seed), step.at, lab_zones)
            rp.publish_files(_texts(tree, rp.files))
            run_ids.append(collect_run(portfolio, workspace, config, now=step.at).run_id)
    return run_ids
