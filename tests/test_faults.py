"""Issue 12, defects 5-8: each test reproduced a defect before its fix (formula injection in
CSV outputs, alerts, tracebacks instead of one clear line, inputs accepted silently)."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from governance_fakes import SAMPLE, store_sample_run

from toolkit.cli.main import main
from toolkit.schemas import ZONES
from toolkit.store.runs import Store

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
NOW_TEXT = "2026-11-28T12:00:00Z"
FORMULAS = ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd")


def _portfolio(tmp_path, owners=FORMULAS):
    """The sample portfolio with formula-looking owners on the first zones."""
    port = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, port)
    inv = port / "inventory.csv"
    rows = list(csv.DictReader(inv.open(encoding="utf-8")))
    for row, owner in zip(rows, owners, strict=False):
        row["owner"] = owner
    with inv.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return port


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _assert_defused(cells: list[str], formulas=FORMULAS) -> None:
    risky = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not risky, f"cells a spreadsheet would run as formulas: {risky}"
    for formula in formulas:
        assert "'" + formula in cells  # the value kept, defused


# -- 5. CSV formula injection -----------------------------------------------------------------


def test_inventory_export_defuses_formula_cells(tmp_path, capsys):
    port = _portfolio(tmp_path)
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(hours=1), portfolio=port)
    out = tmp_path / "assets.csv"
    assert main(["inventory", "export", "--workspace", str(ws), "--out", str(out)]) == 0
    # the inventory reader strips surrounding blanks: the tab and CR owners arrive stripped
    _assert_defused(_cells(out.read_text(encoding="utf-8")), FORMULAS[:4])


def test_zones_csv_defuses_formula_cells(tmp_path, capsys):
    zones = ZONES.frame(
        [
            {"zone": f"z{i}.test", "status": "secure", "reasons": "", "owner": owner}
            for i, owner in enumerate(FORMULAS)
        ]
    )
    Store(tmp_path / "ws").write({"zones": zones}, parameters={}, now=NOW)
    assert main(["zones", "--workspace", str(tmp_path / "ws"), "--format", "csv"]) == 0
    # capsys reads stdout with universal newlines (a CR becomes a line end): the CR cell is
    # checked by the risky-cell scan only
    _assert_defused(_cells(capsys.readouterr().out), FORMULAS[:5])


# -- 7. one clear line, not a traceback: --now, --resolver ----------------------------------


def _tiny_portfolio(tmp_path, zone="ok.test"):
    port = tmp_path / "p"
    port.mkdir(exist_ok=True)
    (port / "inventory.csv").write_text(f"zone\n{zone}\n", encoding="utf-8")
    return port


@pytest.mark.parametrize("now", ["9999-12-31", "0001-01-01", "0001-01-01T00:00:00+01:00"])
def test_now_out_of_range_is_one_clear_line(tmp_path, capsys, now):
    port = _tiny_portfolio(tmp_path)
    argv = ["collect", "--portfolio", str(port), "--workspace", str(tmp_path / "ws"),
            "--no-resolvers", "--now", now]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--now" in err and "out of range" in err
    assert not (tmp_path / "ws").exists()


def test_resolver_address_must_be_an_ip_address(tmp_path, capsys):
    port = _tiny_portfolio(tmp_path)
    argv = ["collect", "--portfolio", str(port), "--workspace", str(tmp_path / "ws"),
            "--resolver", "x=notanip"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--resolver" in err and "'notanip' is not an IPv4 or IPv6 address" in err
    assert not (tmp_path / "ws").exists()  # refused before any probing


# -- 8. inputs that were accepted silently --------------------------------------------------


@pytest.mark.parametrize("zone", ["127.0.0.1", "::1", "10.0.0.1."])
def test_ip_address_is_no_zone_name(tmp_path, capsys, zone):
    port = _tiny_portfolio(tmp_path, zone)
    argv = ["collect", "--portfolio", str(port), "--workspace", str(tmp_path / "ws"),
            "--no-resolvers"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "inventory.csv, line 2, column 'zone'" in err and "is an IP address" in err


@pytest.mark.parametrize("period", ["2026Q9", "2026Q0", "2026-H3", "2026-13", "2026-00"])
def test_period_that_names_no_period_is_refused(tmp_path, capsys, period):
    with pytest.raises(SystemExit) as exc:
        main(["report", "audit", "--workspace", str(tmp_path), "--period", period])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{period!r} is no period" in err


@pytest.mark.parametrize("period", ["2026Q4", "2026-H2", "2026-11", "2026", "last quarter"])
def test_real_periods_and_free_labels_still_accepted(period):
    from toolkit.cli.argtypes import period as period_type

    assert period_type(period) == period


# -- 7. policy.yaml: a date that does not exist, nesting that exhausts the parser ------------


def test_policy_with_an_impossible_date_names_file_and_line(tmp_path):
    from toolkit.errors import InputError
    from toolkit.inputs.policy import load_policies

    text = (SAMPLE / "policy.yaml").read_text(encoding="utf-8")
    assert "last_review: 2026-06-15" in text
    bad = tmp_path / "policy.yaml"
    bad.write_text(text.replace("last_review: 2026-06-15", "last_review: 2026-02-30"))
    with pytest.raises(InputError) as err:
        load_policies(bad)
    line = text.splitlines().index("last_review: 2026-06-15") + 1
    assert err.value.line == line
    assert str(bad) in str(err.value) and "2026-02-30" in str(err.value)


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_policy_nested_5000_deep_is_refused(tmp_path, opener):
    from toolkit.errors import InputError
    from toolkit.inputs.policy import load_policies

    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if opener == "- ":
        body = "".join(f"{' ' * (2 * i)}-\n" for i in range(5000))
    else:
        body = opener * 5000 + "1" + closer * 5000
    bad = tmp_path / "policy.yaml"
    sep = "\n" if opener == "- " else " "
    bad.write_text("format_version: 1\npolicies:" + sep + body + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_policies(bad)
    assert str(bad) in str(err.value) and "nested" in str(err.value)


# -- 7. a read-only workspace, a full disk: real small tmpfs mounts (the suite runs as root) --


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(name, size, read_only)`` → a fresh tmpfs folder; unmounted at the end."""
    import subprocess

    mounted = []

    def mount(name: str, size: str = "256k", read_only: bool = False):
        where = tmp_path / name
        where.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=True)


def _fill(folder):
    """Write into ``folder`` until the file system is full."""
    import errno as errno_

    with open(folder / "filler", "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno_.ENOSPC
                return


def _dead_tree(tmp_path):
    """Root hints naming a loopback address where nothing listens (this suite's lab base), and
    a root trust anchor: collection runs, every server is an observation of failure."""
    from conftest import LAB_TEST_BASE

    hints = tmp_path / "dead.hints"
    hints.write_text(f". 3600 IN NS a.root.\na.root. 3600 IN A {LAB_TEST_BASE}.251\n")
    anchor = tmp_path / "anchor.ds"
    anchor.write_text(
        ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    )
    return ["--root-hints", str(hints), "--trust-anchor", str(anchor), "--no-resolvers",
            "--workers", "1", "--no-progress"]  # fmt: skip


def test_read_only_workspace_is_refused_before_probing(tmp_path, tmpfs, capsys):
    import time

    port = _tiny_portfolio(tmp_path)
    ws = tmpfs("ro", read_only=True)
    argv = ["collect", "--portfolio", str(port), "--workspace", str(ws / "ws"),
            *_dead_tree(tmp_path), "--timeout", "3", "--tries", "2"]  # fmt: skip
    t0 = time.monotonic()
    assert main(argv) == 1
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err and str(ws) in err
    assert elapsed < 2.5  # probing the dead server would take 3 s or more


def test_full_disk_in_collect_is_one_line(tmp_path, tmpfs, capsys):
    port = _tiny_portfolio(tmp_path)
    fs = tmpfs("full", size="64k")
    _fill(fs)
    argv = ["collect", "--portfolio", str(port), "--workspace", str(fs / "ws"),
            *_dead_tree(tmp_path), "--timeout", "0.2", "--tries", "1"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and str(fs) in err


def test_full_disk_in_metrics_and_inventory_export_is_one_line(tmp_path, tmpfs, capsys):
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(hours=1))
    fs = tmpfs("full", size="64k")
    _fill(fs)
    for argv, target in (
        (["metrics", "--workspace", str(ws), "--out"], fs / "dnssec.prom"),
        (["inventory", "export", "--workspace", str(ws), "--out"], fs / "assets.csv"),
    ):
        assert main([*argv, str(target)]) == 1
        err = capsys.readouterr().err
        assert err == f"dnssec-audit: error: cannot write {target}: No space left on device\n"
        assert sorted(p.name for p in fs.iterdir()) == ["filler"]  # no partial file


def test_full_disk_in_a_report_is_not_blamed_on_weasyprint(tmpfs):
    from toolkit.errors import WriteError
    from toolkit.reports.render import html_to_pdf

    fs = tmpfs("full", size="64k")
    _fill(fs)
    big = "<p>" + "DNSSEC evidence " * 20000 + "</p>"
    with pytest.raises(WriteError) as err:
        html_to_pdf(f"<html><body>{big}</body></html>", fs / "r.pdf")
    assert str(err.value) == f"cannot write {fs / 'r.pdf'}: No space left on device"
    assert sorted(p.name for p in fs.iterdir()) == ["filler"]


def test_exception_scope_must_name_a_check(tmp_path):
    from toolkit.checks import check_ids
    from toolkit.errors import InputError
    from toolkit.inputs.governance.exceptions import load_exceptions

    path = tmp_path / "exceptions.csv"
    text = (SAMPLE / "exceptions.csv").read_text(encoding="utf-8")
    rows = text.splitlines()
    rows[2] = rows[2].replace(",unsigned,", ",no_such_check,")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_exceptions(path, check_ids=check_ids())
    e = err.value
    assert (e.line, e.column) == (3, "scope")
    assert str(path) in str(e) and "'no_such_check'" in str(e) and "names no check" in str(e)
    assert "chain_not_bogus" in str(e) and "ds_matches_dnskey" in str(e)
    assert "expected unsigned or a check id" in str(e) and len(check_ids()) > 50
    # the reader sits below the catalogue: without the ids it checks the scope's form only
    assert "no_such_check" in set(load_exceptions(path)["scope"])
    # a real check id and "unsigned" are accepted
    path.write_text(text.replace(",unsigned,", ",chain_not_bogus,", 1), encoding="utf-8")
    assert "chain_not_bogus" in set(load_exceptions(path, check_ids=check_ids())["scope"])


def test_alerts_now_past_the_look_back_says_the_runs_exist(tmp_path, capsys):
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(hours=1))
    later = "2027-06-01T00:00:00Z"
    assert main(["alerts", "--workspace", str(ws), "--portfolio", str(SAMPLE), "--now", later]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no run in the look-back window" in err and "1 run(s)" in err and "before it" in err
    assert "2026-11-28 11:00" in err  # where the run is
    empty = tmp_path / "empty"
    assert main(["alerts", "--workspace", str(empty), "--now", later]) == 1
    assert "no runs in" in capsys.readouterr().err


def test_zone_not_in_the_run_says_how_many_more_it_holds():
    from toolkit.errors import ReportError
    from toolkit.reports.html import find_zone

    zones = ZONES.frame([{"zone": f"z{i:02}.test", "status": "secure"} for i in range(12)])
    with pytest.raises(ReportError) as err:
        find_zone(zones, "nope.test")
    assert str(err.value).endswith("z07.test and 4 more)")
    with pytest.raises(ReportError) as err:
        find_zone(zones.head(3), "nope.test")
    assert str(err.value).endswith("(it holds: z00.test, z01.test, z02.test)")


def test_audit_report_with_evidence_honours_out(tmp_path, capsys):
    from toolkit.evidence.pack import REPORT_PDF

    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(hours=1))
    pack, pdf = tmp_path / "pack", tmp_path / "elsewhere" / "a.pdf"
    argv = ["report", "audit", "--workspace", str(ws), "--evidence", str(pack), "--out", str(pdf)]
    assert main(argv) == 0
    assert f"wrote {pdf}" in capsys.readouterr().out
    assert pdf.read_bytes() == (pack / REPORT_PDF).read_bytes()
    assert main(["evidence", "verify", str(pack)]) == 0  # the copy is outside the pack


# -- 6. alerts: a corrected webhook URL gets what the wrong one owed; failures exit 1 -------


def test_pending_alerts_reach_the_corrected_webhook_url(tmp_path, capsys):
    from test_alerts import T0, _bogus, _free_port, _Server

    from toolkit.alerts import alerts_frame

    ws = tmp_path / "ws"
    _bogus(ws, T0)
    wrong = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens: delivery fails
    argv = ["alerts", "--workspace", str(ws), "--now", T0.isoformat(), "--timeout", "2"]
    assert main([*argv, "--webhook", wrong]) == 1  # a failed delivery is not a success
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dnssec-audit: error: delivery failed:")
    assert f"webhook:{wrong}" in err and "1 alert(s) kept pending" in err
    server = _Server()
    try:
        assert main([*argv, "--webhook", server.url]) == 0
        assert capsys.readouterr().err == ""
        assert [r["rule"] for r in server.received] == ["chain_bogus"]
        assert alerts_frame(ws)["pending"].tolist() == [""]  # owed to no one any more
        assert main([*argv, "--webhook", server.url]) == 0
        assert len(server.received) == 1  # delivered once
    finally:
        server.stop()


def test_dashboard_does_not_claim_no_open_alert_when_alerts_were_not_evaluated(tmp_path):
    from toolkit.alerts import evaluate_alerts
    from toolkit.reports.dashboard import alerts_html, open_alerts
    from toolkit.reports.render import render_dashboard

    ws = tmp_path / "ws"
    run = store_sample_run(ws, NOW - timedelta(hours=1))
    assert "RRSIG_EXPIRED" in set(run.frames["zones"]["reasons"])  # an expired zone
    out = render_dashboard(ws, tmp_path / "dash.html").path
    page = out.read_text(encoding="utf-8")
    assert "No open alert" not in page
    assert f"Alerts were not evaluated for run {run.run_id}" in page and "never evaluated" in page
    evaluated = evaluate_alerts(ws, now=NOW, portfolio_dir=SAMPLE)
    assert evaluated.latest_run_id == run.run_id
    from toolkit.alerts import alerts_frame

    html = alerts_html(open_alerts(alerts_frame(ws)), run_id=run.run_id, evaluated_run=run.run_id)
    assert "not evaluated" not in html and "chain_bogus" in html
    other = alerts_html(open_alerts(alerts_frame(ws)), run_id="r-older", evaluated_run=run.run_id)
    assert f"last evaluated on run {run.run_id}" in other and "No open alert" not in other


def test_out_through_a_file_is_one_line(tmp_path, capsys):
    """Found by the fuzz suite: metrics --out below a path that is a file was a traceback."""
    ws = tmp_path / "ws"
    store_sample_run(ws, NOW - timedelta(hours=1))
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "m.prom"
    assert main(["metrics", "--workspace", str(ws), "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dnssec-audit: error: cannot write {target}")
