"""Zone discovery (issue 11): delegations below the inventory's zones from zone files, AXFR and
NSEC walks, the frames, the CLI and the governance check.

Unit tests read hand-written zone files and walk NSEC chains of hand-built zones through
recorded-style answers (tests/dns_fakes.respond); the lab tests run against the real Knot
servers of the scenario lab, one scenario per source.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pandas as pd
import pytest
from dns_fakes import respond

from toolkit.checks import default_registry
from toolkit.checks.base import Context
from toolkit.cli.main import main
from toolkit.collect import collect_run
from toolkit.collect.discover import (
    DiscoverConfig,
    Pacer,
    delegations_in_zone,
    discover,
    read_zone_file,
    transfer,
    walk_nsec,
)
from toolkit.errors import InputError
from toolkit.inputs.policy import PolicySet
from toolkit.schemas import DELEGATIONS, DISCOVERY, INVENTORY
from toolkit.store.runs import Store

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
HEAD = (
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
)


def _file(tmp_path: Path, text: str, name: str = "ex.test.zone") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- zone files ------------------------------------------------------------------------------


def test_delegations_in_a_zone_file_skip_apex_and_glue_side_names(tmp_path):
    text = (
        HEAD
        + (
            "shop IN NS ns.provider.example.\n"
            "shop IN DS 12345 13 2 " + "ab" * 32 + "\n"
            "deep.shop IN NS ns.elsewhere.example.\n"  # below a cut: not the zone's delegation
            "lab IN NS ns1.lab\n"
            "ns1.lab IN A 192.0.2.9\n"  # glue
            "www IN A 192.0.2.80\n"
        )
    )
    zone = read_zone_file(_file(tmp_path, text), "ex.test")
    found = delegations_in_zone(zone)
    assert [d.child for d in found] == ["lab.ex.test", "shop.ex.test"]
    assert found[0].ns_targets == ("ns1.lab.ex.test",) and found[0].has_ds is False
    assert found[1].ns_targets == ("ns.provider.example",) and found[1].has_ds is True


def test_include_is_refused_naming_file_and_line(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text('leak IN TXT "the auditor\'s private file"\n')
    path = _file(tmp_path, HEAD + f"$INCLUDE {secret}\n")
    with pytest.raises(InputError) as err:
        read_zone_file(path, "ex.test")
    assert err.value.line == 5 and "$INCLUDE" in str(err.value)
    assert str(err.value).startswith(str(path))


def test_generate_is_refused(tmp_path):
    path = _file(tmp_path, HEAD + "$GENERATE 1-1000 host$ A 192.0.2.$\n")
    with pytest.raises(InputError) as err:
        read_zone_file(path, "ex.test")
    assert err.value.line == 5 and "$GENERATE" in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [
        "bad IN A 999.1.1.1",  # dnspython reports line 6 for these two: the line's end was read
        'bad IN TXT "unterminated',
        "bad IN MX notanumber mx.ex.test.",  # reported on its own line
        "bad IN BOGUSTYPE x",
    ],
)
def test_bad_record_names_its_own_line(tmp_path, bad):
    path = _file(tmp_path, HEAD + bad + "\nok IN A 192.0.2.7\n")
    with pytest.raises(InputError) as err:
        read_zone_file(path, "ex.test")
    assert err.value.line == 5, str(err.value)
    assert "master-file syntax" in str(err.value)


def test_file_of_another_zone_is_refused(tmp_path):
    path = _file(tmp_path, "$ORIGIN other.test.\n" + HEAD)
    with pytest.raises(InputError, match="no SOA record at the apex ex.test"):
        read_zone_file(path, "ex.test")


def test_cli_bad_zone_file_is_one_line_no_traceback(tmp_path, capsys):
    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\nex.test\n")
    files = tmp_path / "zf"
    files.mkdir()
    _file(files, HEAD + "bad IN A 999.1.1.1\n", name="db.ex.test")
    code = main(
        ["discover", "--portfolio", str(portfolio), "--workspace", str(tmp_path / "ws")]
        + ["--zone-files", str(files), "--no-axfr", "--no-walk"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{files / 'db.ex.test'}, line 5:" in err


def test_cli_discover_from_zone_files_only_writes_csv_and_table(tmp_path, capsys):
    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\nex.test\nlab.ex.test\nempty.test\n")
    files = tmp_path / "zf"
    files.mkdir()
    _file(files, HEAD + "lab IN NS ns1\nshop IN NS =cmd.example.\n", name="ex.test")
    out = tmp_path / "found.csv"
    code = main(
        ["discover", "--portfolio", str(portfolio), "--workspace", str(tmp_path / "ws")]
        + ["--zone-files", str(files), "--no-axfr", "--no-walk", "--out", str(out)]
        + ["--now", "2026-12-06T05:00:00Z"]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "2 delegated zone(s) found below 3 inventory zone(s); 1 not in the inventory: " in text
    assert "shop.ex.test" in text and "no_file" in text  # empty.test: no file given
    written = pd.read_csv(out)
    assert list(written.columns) == DELEGATIONS.names
    by_child = written.set_index("child")
    assert by_child.loc["lab.ex.test", "in_inventory"]
    assert not by_child.loc["shop.ex.test", "in_inventory"]
    assert by_child.loc["shop.ex.test", "seen_at"].startswith("2026-12-06 05:00:00")
    assert by_child.loc["shop.ex.test", "ns_targets"] == "'=cmd.example"  # defused for sheets
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".found*"))


def test_cli_discover_needs_a_run_for_axfr_and_walk(tmp_path, capsys):
    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\nex.test\n")
    code = main(["discover", "--portfolio", str(portfolio), "--workspace", str(tmp_path / "ws")])
    assert code == 1
    assert "no runs in workspace" in capsys.readouterr().err


# -- the NSEC walk --------------------------------------------------------------------------


def _nsec_zone(
    origin: str, labels: list[str], delegated: set[str], signed: frozenset[str] = frozenset()
) -> dns.zone.Zone:
    """A zone whose names each carry an A record (or NS, when ``delegated``) and an NSEC chain
    in canonical order (the walk reads the chain; signatures play no part in it)."""
    zone = dns.zone.Zone(dns.name.from_text(origin), relativize=False)
    apex = zone.origin
    with zone.writer() as txn:
        txn.add(apex, 3600, _rd("SOA", f"ns1.{origin} h.{origin} 1 2 3 4 5"))
        txn.add(apex, 3600, _rd("NS", f"ns1.{origin}"))
        for label in labels:
            name = dns.name.from_text(label, apex)
            if label in delegated:
                txn.add(name, 3600, _rd("NS", "ns.provider.example."))
                if label in signed:
                    txn.add(name, 3600, _rd("DS", "4242 13 2 " + "42" * 32))
            else:
                txn.add(name, 3600, _rd("A", "192.0.2.1"))
    names = sorted(zone.nodes)
    with zone.writer() as txn:
        for i, name in enumerate(names):
            nxt = names[(i + 1) % len(names)]
            label = name.to_text().split(".")[0]
            types = (["NS", "DS"] if label in signed else ["NS"]) if label in delegated else ["A"]
            if name == apex:
                types = ["SOA", "NS"]
            txn.add(name, 300, _rd("NSEC", f"{nxt} {' '.join(types)} RRSIG NSEC"))
    return zone


def _rd(rdtype: str, text: str):
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text)


class _Server:
    """Answers NSEC questions from a zone, counting them."""

    def __init__(self, zone: dns.zone.Zone | None) -> None:
        self.zone = zone
        self.asked: list[str] = []

    def __call__(self, name, qtype):
        self.asked.append(name.to_text())
        return respond(self.zone, name, qtype)


def test_walk_follows_the_chain_and_names_delegations():
    labels = ["a", "branch", "mail", "www", "z"]
    server = _Server(_nsec_zone("ex.test.", labels, {"branch"}))
    seen = walk_nsec("ex.test", server)
    assert seen.outcome == "complete"
    assert [d.child for d in seen.delegations] == ["branch.ex.test"]
    assert seen.queries == len(labels) + 1  # the apex and each name, once
    assert len(set(server.asked)) == len(server.asked)


class _Referrals(_Server):
    """A server that answers a question at or below a signed delegation with a referral (NS
    and DS, no NSEC), as Knot and BIND do."""

    def __call__(self, name, qtype):
        for cut, node in self.zone.nodes.items():
            ds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DS)
            if ds is not None and name.is_subdomain(cut):
                self.asked.append(name.to_text())
                r = dns.message.make_response(dns.message.make_query(name, qtype))
                ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
                r.authority += [
                    dns.rrset.from_rdata_list(cut, ns.ttl, list(ns)),
                    dns.rrset.from_rdata_list(cut, ds.ttl, list(ds)),
                ]
                return r
        return super().__call__(name, qtype)


def test_walk_steps_past_a_signed_delegation():
    labels = ["a", "secure", "www"]
    server = _Referrals(_nsec_zone("ex.test.", labels, {"secure"}, frozenset({"secure"})))
    seen = walk_nsec("ex.test", server)
    assert seen.outcome == "complete", seen.detail
    assert [(d.child, d.has_ds) for d in seen.delegations] == [("secure.ex.test", True)]
    assert "secure\\000.ex.test." in server.asked  # the first name after its subtree
    assert seen.queries == len(labels) + 2


def test_walk_with_a_chain_leaving_the_zone_is_not_complete():
    zone = _nsec_zone("ex.test.", ["a", "b"], set())
    with zone.writer() as txn:  # b's NSEC should lead back to the apex
        txn.replace(dns.name.from_text("b.ex.test."), 300, _rd("NSEC", "other.example. A"))
    seen = walk_nsec("ex.test", _Server(zone))
    assert seen.outcome == "partial" and "outside the zone" in seen.detail


def test_walk_stops_at_its_bound():
    labels = [f"host{i:03d}" for i in range(200)]
    server = _Server(_nsec_zone("ex.test.", labels, {"host150"}))
    seen = walk_nsec("ex.test", server, max_queries=25)
    assert seen.outcome == "partial"
    assert seen.queries == 25 and len(server.asked) == 25
    assert "bound of 25 queries" in seen.detail
    assert seen.delegations == ()  # host150 lies beyond the bound


def test_walk_keeps_its_pace():
    server = _Server(_nsec_zone("ex.test.", ["a", "b", "c"], set()))
    clock = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    seen = walk_nsec("ex.test", server, min_interval=0.5, sleep=sleep, monotonic=lambda: clock[0])
    assert seen.outcome == "complete"
    assert slept == [0.5] * (seen.queries - 1)  # no waiting before the first question only


def test_discovery_paces_each_server_across_zones():
    """Two zones on one server walked one after the other: every question to that server,
    the first of the second walk included, keeps the interval (20 per second)."""
    zones = {z: _Server(_nsec_zone(f"{z}.", ["a", "b"], set())) for z in ("one.test", "two.test")}
    clock = [0.0]
    sent: list[float] = []

    def sleep(s: float) -> None:
        clock[0] += s

    def ask_for(server):
        def ask(name, qtype):
            sent.append(clock[0])
            zone = "one.test" if name.is_subdomain(dns.name.from_text("one.test.")) else "two.test"
            return zones[zone](name, qtype)

        return ask

    pacer = Pacer(0.05, sleep=sleep, monotonic=lambda: clock[0])
    servers = {z: [("192.0.2.53", "ns")] for z in zones}
    config = DiscoverConfig(axfr=False)
    _, tried = discover(list(zones), servers, config, now=NOW, ask_for=ask_for, pacer=pacer)
    assert list(tried["outcome"]) == ["complete", "complete"]
    assert len(sent) == 6
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.05 - 1e-9


def test_walk_does_not_crack_nsec3():
    zone = _nsec_zone("ex.test.", ["a"], set())
    answer = respond(zone, dns.name.from_text("ex.test."), "NSEC")
    answer.answer.clear()  # an NSEC3 zone holds no NSEC: NODATA with an NSEC3 proof
    answer.authority.append(
        dns.rrset.from_text(
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.ex.test.",
            300,
            "IN",
            "NSEC3",
            "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
        )
    )
    seen = walk_nsec("ex.test", lambda name, qtype: answer)
    assert seen.outcome == "not_walkable" and "NSEC3" in seen.detail
    assert seen.queries == 1


def test_walk_of_an_unsigned_zone_and_of_a_silent_server():
    zone = dns.zone.Zone(dns.name.from_text("ex.test."), relativize=False)
    with zone.writer() as txn:
        txn.add(zone.origin, 3600, _rd("SOA", "ns1.ex.test. h.ex.test. 1 2 3 4 5"))
    seen = walk_nsec("ex.test", _Server(zone))
    assert (seen.outcome, seen.detail) == ("not_walkable", "not walkable (unsigned: no NSEC chain)")
    silent = walk_nsec("ex.test", lambda name, qtype: None)
    assert silent.outcome == "failed" and "no answer" in silent.detail


def test_a_refused_transfer_is_an_observation():
    seen, zone = transfer("ex.test", "127.0.0.1", timeout=0.5, port=9)  # nothing listens
    assert seen.outcome == "failed" and zone is None and seen.queries == 1


# -- the check ------------------------------------------------------------------------------


def _ctx(frames: dict[str, pd.DataFrame]) -> Context:
    inventory = INVENTORY.frame([{"zone": "ex.test"}, {"zone": "lab.ex.test"}])
    return Context({"inventory": inventory, **frames}, PolicySet(), NOW, "r1")


def _run_check(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[str, str]]:
    findings = default_registry().run(_ctx(frames), ["delegations_inventoried"])
    return {r.zone: (r.status, r.message) for r in findings.itertuples()}


def _discovered(outcome: str, children: list[str]) -> dict[str, pd.DataFrame]:
    tried = DISCOVERY.frame(
        [{"zone": "ex.test", "source": "axfr", "server": "192.0.2.1", "outcome": outcome}]
    )
    found = DELEGATIONS.frame(
        {"parent": "ex.test", "child": c, "source": "axfr", "server": "192.0.2.1"} for c in children
    )
    return {"discovery": tried, "delegations": found}


def test_check_is_indeterminate_without_discovery():
    got = _run_check({})
    assert {s for s, _ in got.values()} == {"indeterminate"}
    assert "collect --discover" in got["ex.test"][1]


def test_check_names_each_uninventoried_child():
    got = _run_check(_discovered("complete", ["lab.ex.test", "shop.ex.test", "old.ex.test"]))
    status, message = got["ex.test"]
    assert status == "fail"
    assert "old.ex.test (seen by axfr)" in message and "shop.ex.test (seen by axfr)" in message
    assert "lab.ex.test" not in message  # it is in the inventory
    assert got["lab.ex.test"][0] == "indeterminate"  # no source tried it


def test_check_passes_only_when_a_source_saw_the_whole_zone():
    assert _run_check(_discovered("complete", ["lab.ex.test"]))["ex.test"][0] == "pass"
    status, message = _run_check(_discovered("refused", []))["ex.test"]
    assert status == "indeterminate" and "no discovery source saw the whole zone" in message
    assert "(axfr 192.0.2.1: refused)" in message  # each source, where it looked, what it saw
    assert _run_check(_discovered("partial", ["shop.ex.test"]))["ex.test"][0] == "fail"


# -- the real lab: one scenario per source --------------------------------------------------

ZONES = ["corp.test", "discover-zonefile.test", "discover-axfr.test", "discover-nsec.test"]


@pytest.fixture(scope="module")
def discovered(lab, tmp_path_factory):
    """A collect --discover of the discovery zones; the organisation provides one zone file."""
    from test_collect import lab_config

    tmp = tmp_path_factory.mktemp("discover")
    portfolio = tmp / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone,owner\n" + "".join(f"{z},Ops\n" for z in ZONES))
    files = tmp / "zonefiles"
    files.mkdir()
    shutil.copy(lab.dir / "zones" / "discover-zonefile.test.zone", files)
    config = DiscoverConfig(zone_files=files)
    run = collect_run(
        portfolio, tmp / "ws", lab_config(lab), now=datetime.now(UTC), discover=config
    )
    return run, Store(tmp / "ws").load(run.run_id), portfolio


def _rows(df: pd.DataFrame, **match) -> pd.DataFrame:
    for k, v in match.items():
        df = df[df[k] == v]
    return df


@pytest.mark.lab
def test_lab_zone_file_shows_what_neither_axfr_nor_walk_can(discovered, lab):
    _, stored, _ = discovered
    found, tried = stored["delegations"], stored["discovery"]
    rows = _rows(found, parent="discover-zonefile.test")
    assert set(rows["source"]) == {"zonefile"}
    assert set(rows["child"]) == {"branch.discover-zonefile.test"}
    outcomes = _rows(tried, zone="discover-zonefile.test").set_index(["source", "server"])
    assert outcomes.loc[("axfr", lab.servers["ns1"]), "outcome"] == "refused"
    assert outcomes.loc[("axfr", lab.servers["ns2"]), "outcome"] == "refused"
    assert outcomes.loc[("nsec-walk", lab.servers["ns1"]), "outcome"] == "not_walkable"


@pytest.mark.lab
def test_lab_axfr_shows_the_delegation_from_both_servers(discovered, lab):
    _, stored, _ = discovered
    rows = _rows(stored["delegations"], parent="discover-axfr.test", source="axfr")
    assert set(rows["child"]) == {"branch.discover-axfr.test"}
    assert set(rows["server"]) == {lab.servers["ns1"], lab.servers["ns2"]}
    assert set(rows["ns_targets"]) == {"ns1.discover-axfr.test"}
    walk = _rows(stored["discovery"], zone="discover-axfr.test", source="nsec-walk")
    assert list(walk["outcome"]) == ["skipped"]  # the transfer showed the whole zone


@pytest.mark.lab
def test_lab_nsec_walk_shows_the_delegation(discovered, lab):
    _, stored, _ = discovered
    rows = _rows(stored["delegations"], parent="discover-nsec.test")
    assert set(rows["source"]) == {"nsec-walk"}
    by_child = rows.set_index("child")
    assert set(by_child.index) == {"branch.discover-nsec.test", "signed-branch.discover-nsec.test"}
    assert by_child.loc["signed-branch.discover-nsec.test", "has_ds"]  # its referral held a DS
    assert not by_child.loc["branch.discover-nsec.test", "has_ds"]
    walk = _rows(stored["discovery"], zone="discover-nsec.test", source="nsec-walk")
    assert list(walk["outcome"]) == ["complete"]
    assert 2 <= int(walk["queries"].iloc[0]) <= 10
    corp = _rows(stored["delegations"], parent="corp.test")
    assert corp.empty  # a walked zone without delegations shows none


@pytest.mark.lab
def test_lab_discovery_reaches_the_assessment(discovered):
    from toolkit.assessment.assess import assess

    run, stored, portfolio = discovered
    assert run.manifest["parameters"]["discover"]["axfr"] is True
    for name in ("delegations", "discovery"):
        assert name in stored.frames  # stored, hashed and schema-checked with the run
    a = assess(portfolio, stored.path.parent.parent, run=run.run_id, now=datetime.now(UTC))
    f = a.findings[a.findings["check_id"] == "delegations_inventoried"].set_index("zone")
    assert f.loc["corp.test", "status"] == "pass"
    for zone in ZONES[1:]:
        assert f.loc[zone, "status"] == "fail"
        assert f"branch.{zone}" in f.loc[zone, "message"]


@pytest.mark.lab
def test_a_cluster_collection_discovers_what_the_single_machine_does(discovered, lab, tmp_path):
    """collect --cluster local:2 --discover: the parts are collected by two Dask workers,
    discovery runs once after them, and the stored delegations and discovery frames are the
    single machine's (sorted; their times are each run's own)."""
    from test_collect import lab_config

    _, single, portfolio = discovered
    files = tmp_path / "zonefiles"
    files.mkdir()
    shutil.copy(lab.dir / "zones" / "discover-zonefile.test.zone", files)
    run = collect_run(
        portfolio,
        tmp_path / "ws",
        lab_config(lab),
        now=datetime.now(UTC),
        cluster="local:2",
        discover=DiscoverConfig(zone_files=files),
    )
    stored = Store(tmp_path / "ws").load(run.run_id)
    assert stored.manifest["parameters"]["cluster"] == "local:2"
    for name, keys in (("delegations", ["parent", "child", "source", "server"]),
                       ("discovery", ["zone", "source", "server"])):  # fmt: skip

        def plain(df: pd.DataFrame, keys: list[str] = keys) -> pd.DataFrame:
            out = df.drop(columns="seen_at").sort_values(keys).reset_index(drop=True)
            out["file"] = out["file"].map(lambda f: f if pd.isna(f) else Path(f).name)
            return out

        assert len(stored[name]) > 0
        pd.testing.assert_frame_equal(plain(stored[name]), plain(single[name]))


@pytest.mark.lab
def test_runs_without_discovery_still_load_and_assess(lab, tmp_path):
    from test_collect import lab_config

    from toolkit.assessment.assess import assess

    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\ncorp.test\n")
    run = collect_run(portfolio, tmp_path / "ws", lab_config(lab), now=datetime.now(UTC))
    stored = Store(tmp_path / "ws").load(run.run_id)
    assert "delegations" not in stored.frames
    a = assess(portfolio, tmp_path / "ws", run=run.run_id, now=datetime.now(UTC))
    f = a.findings[a.findings["check_id"] == "delegations_inventoried"]
    assert list(f["status"]) == ["indeterminate"]


def test_discover_with_no_server_is_an_observation():
    found, tried = discover(["ex.test"], {}, DiscoverConfig(), now=NOW)
    assert found.empty
    assert list(tried["outcome"]) == ["failed"]
    assert "no server" in tried["detail"].iloc[0]


def test_check_evidence_names_where_each_source_looked():
    frames = _discovered("refused", [])
    frames["discovery"] = pd.concat(
        [
            frames["discovery"],
            DISCOVERY.frame([{"zone": "ex.test", "source": "zonefile", "outcome": "no_file"}]),
        ]
    )
    findings = default_registry().run(_ctx(frames), ["delegations_inventoried"])
    row = findings.set_index("zone").loc["ex.test"]
    assert row["evidence"] == "discovery: axfr 192.0.2.1: refused; zonefile: no_file"


def test_collect_with_a_bad_zone_file_stops_before_probing(tmp_path, capsys):
    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\nex.test\n")
    files = tmp_path / "zf"
    files.mkdir()
    _file(files, HEAD + "$INCLUDE /etc/passwd\n", name="ex.test.zone")
    ws = tmp_path / "ws"
    argv = ["collect", "--portfolio", str(portfolio), "--workspace", str(ws), "--no-resolvers"]
    code = main([*argv, "--zone-files", str(files), "--timeout", "0.2", "--tries", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"{files / 'ex.test.zone'}, line 5: zone file directive '$INCLUDE'" in err
    assert not (ws / "runs").exists() or not [p for p in (ws / "runs").iterdir() if p.is_dir()]


@pytest.mark.lab
def test_cli_collect_discover_on_the_lab(lab, tmp_path, capsys):
    portfolio = tmp_path / "p"
    portfolio.mkdir()
    (portfolio / "inventory.csv").write_text("zone\ndiscover-nsec.test\ndiscover-axfr.test\n")
    ws = str(tmp_path / "ws")
    argv = ["collect", "--portfolio", str(portfolio), "--workspace", ws, "--lab", str(lab.dir)]
    assert main([*argv, "--discover", "--no-progress", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 delegated zone(s) found below 2 inventory zone(s); 3 not in the inventory: " in out
    assert main(["discover", "--portfolio", str(portfolio), "--workspace", ws, "--no-axfr"]) == 0
    out = capsys.readouterr().out
    assert "signed-branch.discover-nsec.test" in out and "branch.discover-axfr.test" not in out
