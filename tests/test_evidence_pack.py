"""Evidence pack: `dnssec-audit report audit --evidence DIR` and `dnssec-audit evidence verify`.

One pack of a hand-built run (the run of test_audit_report, no DNS) is written for the module;
tests that damage a pack work on a copy. The pack is written a second time to prove it is
byte-for-byte reproducible and that an existing pack is replaced in one step.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader
from test_audit_report import NOW, build_workspace

from toolkit.cli import main as cli
from toolkit.evidence import pack as evidence
from toolkit.evidence.pack import EvidenceError, verify_evidence_pack, write_evidence_pack
from toolkit.reports import render as report
from toolkit.reports.render import ReportOptions
from toolkit.store.runs import sha256_file

pytestmark = pytest.mark.report

OPTIONS = ReportOptions(organisation="Example Organisation", period="2026Q4", inline_zone_limit=2)


class Pack:
    def __init__(self, tmp: Path) -> None:
        self.workspace = tmp / "ws"
        self.store, self.run_id = build_workspace(self.workspace)
        self.path = tmp / "evidence"
        self.pack = write_evidence_pack(self.workspace, self.path, OPTIONS)
        self.manifest = json.loads((self.path / "manifest.json").read_text())
        self.manifest_bytes = (self.path / "manifest.json").read_bytes()


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    return Pack(tmp_path_factory.mktemp("pack"))


@pytest.fixture
def copy(pack, tmp_path):
    """A copy of the module's pack to damage."""
    dest = tmp_path / "copy"
    shutil.copytree(pack.path, dest)
    return dest


# -- what a pack holds ---------------------------------------------------------------------------


def test_pack_verifies(pack):
    result = verify_evidence_pack(pack.path)
    assert result.ok, result.lines()
    assert result.checked == len(pack.manifest["files"])
    assert result.manifest_sha256 == pack.pack.manifest_sha256


def test_manifest_names_runs_tool_and_as_of(pack):
    m = pack.manifest
    assert m["format"] == evidence.FORMAT and m["format_version"] == evidence.FORMAT_VERSION
    assert m["as_of"] == "2026-11-28"
    assert m["tool"] == "dnssec-governance-toolkit" and m["tool_version"]
    assert [r["run_id"] for r in m["runs"]] == [pack.run_id]
    run_manifest = pack.workspace / "runs" / pack.run_id / "manifest.json"
    assert m["runs"][0]["manifest_sha256"] == sha256_file(run_manifest)
    assert m["report"]["report_id"].startswith("DNSSEC-AUDIT-2026Q4-")
    for name, meta in m["files"].items():
        data = (pack.path / name).read_bytes()
        assert meta["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert meta["bytes"] == len(data)
        assert meta["kind"] in {
            *("report", "run-manifest", "frame", "records", "table", "readme"),
            *("run-signature", "public-key"),
        }


def test_layout(pack):
    files = set(pack.manifest["files"])
    base = f"runs/{pack.run_id}"
    assert "audit-report.pdf" in files and "README.txt" in files
    assert f"{base}/manifest.json" in files
    for frame in ("zones", "findings", "records", "resolver_checks", "inventory", "queries"):
        assert f"{base}/frames/{frame}.parquet" in files
        assert f"{base}/frames/{frame}.csv" in files
    for zone in ("example.com", "broken.example", "gone.example", "xn--bcher-kva.example"):
        assert f"{base}/records/{zone}.zone" in files
    assert f"{base}/records/@root.zone" in files
    for table in ("scope", "ds_proofs", "check_summary", "zone_annex", "runs"):
        assert f"report/tables/{table}.csv" in files
        assert f"report/tables/{table}.parquet" in files


def test_parquet_frames_are_the_store_files_byte_for_byte(pack):
    run_manifest = json.loads((pack.workspace / "runs" / pack.run_id / "manifest.json").read_text())
    for fname, meta in run_manifest["files"].items():
        entry = pack.manifest["files"][f"runs/{pack.run_id}/frames/{fname}"]
        assert entry["sha256"] == meta["sha256"], fname


def test_csv_frames_match_the_store_and_the_pdf_attachments(pack):
    run = pack.store.load(pack.run_id)
    base = pack.path / "runs" / pack.run_id / "frames"
    zones = pd.read_csv(base / "zones.csv")
    assert list(zones["zone"]) == list(run["zones"]["zone"])
    assert list(zones.columns) == list(run["zones"].columns)
    attached = PdfReader(pack.path / "audit-report.pdf").attachments
    embedded = 0
    for name, meta in pack.manifest["files"].items():
        if "embedded_in_pdf_as" in meta:
            assert attached[meta["embedded_in_pdf_as"]][0] == (pack.path / name).read_bytes()
            embedded += 1
    assert embedded == len(attached)  # every attachment is also a file of the pack
    assert set(pack.manifest["report"]["embedded_files"]) == set(attached)


def test_zone_files_hold_the_raw_records_with_server_and_time(pack):
    text = (pack.path / "runs" / pack.run_id / "records" / "example.com.zone").read_text()
    run = pack.store.load(pack.run_id)
    records = run["records"]
    ds = records[(records["zone"] == "example.com") & (records["rrtype"] == "DS")].iloc[0]
    assert f"example.com.\t3600\tIN\tDS\t{ds['rdata']}" in text
    assert "; --- parent side: server 192.0.2.10 (ns.com.), received 2026-11-28T09:30:00" in text
    assert f"; run {pack.run_id}" in text
    gone = (pack.path / "runs" / pack.run_id / "records" / "gone.example.zone").read_text()
    assert "no records were collected for this zone" in gone
    import dns.zone  # the lines are master-file syntax a DNS tool can read

    lines = [ln for ln in text.splitlines() if ln and not ln.startswith(";")]
    dns.zone.from_text("\n".join(lines), origin="example.com.", check_origin=False)


def test_sha256sums_for_standard_tools(pack):
    sums = (pack.path / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in sums}
    assert set(listed) == set(pack.manifest["files"]) | {"manifest.json"}
    for name, digest in listed.items():
        assert sha256_file(pack.path / name) == digest


def test_bulk_detail_goes_to_attachments_past_the_limit(pack):
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(pack.path / "audit-report.pdf").pages
    )
    assert "5 zones are more than the 2 this report details" in text
    assert "the proofs of all 5 zones are in the attachment table-ds_proofs.csv" in text


def test_csv_defuses_spreadsheet_formulas():
    df = pd.DataFrame(
        {"owner": ["=HYPERLINK(1)", "+1", "plain", "@x", None], "n": [1, -2, 3, 4, 5]}
    )
    text = evidence.frame_csv_bytes(df).decode()
    assert "'=HYPERLINK(1)" in text and "'+1" in text and "'@x" in text
    assert "\nplain," in text and ",-2\n" in text  # numbers are numbers
    assert evidence.frame_csv_bytes(df) == evidence.frame_csv_bytes(df.copy())


# -- verify names every damage -------------------------------------------------------------------


def test_one_altered_byte_is_named(copy, pack, capsys):
    name = f"runs/{pack.run_id}/frames/zones.csv"
    data = bytearray((copy / name).read_bytes())
    data[10] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    result = verify_evidence_pack(copy)
    assert not result.ok
    assert result.altered == [name] and not result.missing and not result.extra
    assert cli.main(["evidence", "verify", str(copy)]) == 1
    out, err = capsys.readouterr()
    assert f"ALTERED {name}" in out
    assert "does NOT verify: 1 altered" in err


def test_altered_pdf_is_named(copy):
    pdf = copy / "audit-report.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pdf.write_bytes(bytes(data))
    assert verify_evidence_pack(copy).altered == ["audit-report.pdf"]


def test_missing_and_extra_files_are_named(copy, pack):
    gone = f"runs/{pack.run_id}/records/example.com.zone"
    (copy / gone).unlink()
    (copy / "notes.txt").write_text("added later")
    (copy / "report" / "tables" / "extra.csv").write_text("a,b\n")
    result = verify_evidence_pack(copy)
    assert result.missing == [gone]
    assert result.extra == ["notes.txt", "report/tables/extra.csv"]
    assert not result.altered


def test_a_file_swapped_for_a_link_is_altered(copy, pack):
    name = f"runs/{pack.run_id}/frames/findings.csv"
    target = copy.parent / "outside.csv"
    target.write_bytes((copy / name).read_bytes())  # same bytes, but not the pack's file
    (copy / name).unlink()
    (copy / name).symlink_to(target)
    assert name in verify_evidence_pack(copy).altered


def test_edited_manifest_is_caught_by_sha256sums(copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["as_of"] = "2025-01-01"
    (copy / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    result = verify_evidence_pack(copy)
    assert result.altered == ["SHA256SUMS"]


def test_missing_manifest(copy):
    (copy / "manifest.json").unlink()
    result = verify_evidence_pack(copy)
    assert result.missing == ["manifest.json"] and not result.ok


def test_unsafe_paths_in_a_manifest_are_refused(copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 0, "kind": "readme"}
    (copy / "manifest.json").write_text(json.dumps(m))
    result = verify_evidence_pack(copy)
    assert any("unsafe path" in p for p in result.problems)


def test_verify_cli_success_and_bad_folder(pack, tmp_path, capsys):
    assert cli.main(["evidence", "verify", str(pack.path)]) == 0
    out, _ = capsys.readouterr()
    assert "verifies" in out and pack.pack.manifest_sha256 in out
    assert cli.main(["evidence", "verify", str(tmp_path / "nope")]) == 1


# -- writing: reproducible, atomic ---------------------------------------------------------------


def test_rewrite_is_byte_identical_and_replaces_the_pack_in_one_step(pack):
    before = {n: m["sha256"] for n, m in pack.manifest["files"].items()}
    again = write_evidence_pack(pack.workspace, pack.path, OPTIONS)
    assert (pack.path / "manifest.json").read_bytes() == pack.manifest_bytes
    after = {n: m["sha256"] for n, m in again.manifest["files"].items()}
    assert after == before  # the PDF included: same inputs and as_of, same bytes
    siblings = sorted(p.name for p in pack.path.parent.iterdir())
    assert siblings == ["evidence", "ws"]  # no temporary or old folder left


def test_refuses_to_replace_a_folder_that_is_not_a_pack(pack, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.tex").write_text("do not delete")
    with pytest.raises(EvidenceError, match="not an evidence pack"):
        write_evidence_pack(pack.workspace, target, OPTIONS)
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]


def test_failure_leaves_no_pack_and_no_temporary_folder(pack, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise report.ReportError("renderer on fire")

    monkeypatch.setattr(report, "render_report", boom)
    with pytest.raises(report.ReportError, match="on fire"):
        write_evidence_pack(pack.workspace, tmp_path / "ev", OPTIONS)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_evidence_for_the_board_report(pack, tmp_path, capsys):
    """Only the audit report has an evidence pack: `report board` has no --evidence option,
    so argparse refuses it (exit 2) with the board report's usage, naming the option."""
    with pytest.raises(SystemExit) as exc:
        cli.main(
            [
                "report",
                "board",
                "--workspace",
                str(pack.workspace),
                "--evidence",
                str(tmp_path / "e"),
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: dnssec-audit report board" in err
    assert (
        f"dnssec-audit report board: error: unrecognized arguments: --evidence {tmp_path / 'e'}"
        in err
    )
    assert not (tmp_path / "e").exists()


def test_frame_writers_are_deterministic():
    df = pd.DataFrame(
        {"t": pd.to_datetime([NOW, None], utc=True), "s": pd.array(["a", None], dtype="string")}
    )
    assert evidence.frame_parquet_bytes(df) == evidence.frame_parquet_bytes(df.copy())
    csv = evidence.frame_csv_bytes(df).decode()
    assert csv == "t,s\n2026-11-28T09:30:00.000000Z,a\n,\n"
    assert pd.read_parquet(io.BytesIO(evidence.frame_parquet_bytes(df))).equals(df)


# -- signatures, run manifests, PDF attachments (issue 12) ---------------------------------------


def _fingerprint(pack) -> str:
    return (pack.workspace / "signing" / "fingerprint.txt").read_text().strip()


def _rewrite_consistently(copy: Path, name: str, data: bytes) -> None:
    """What a forger without the key can do: change a file, its manifest entry, SHA256SUMS."""
    (copy / name).write_bytes(data)
    m = json.loads((copy / "manifest.json").read_text())
    m["files"][name].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    mb = (json.dumps(m, indent=2, sort_keys=True) + "\n").encode()
    (copy / "manifest.json").write_bytes(mb)
    (copy / "SHA256SUMS").write_text(evidence._sums_text(m, mb))


def test_pack_verification_says_what_it_proved_in_one_line(pack, capsys):
    result = verify_evidence_pack(pack.path, expect_key=_fingerprint(pack))
    assert result.ok, result.lines()
    assert result.pack_signed and result.signed_runs == result.run_manifests == 1
    assert result.pdf_attachments == sum(
        1 for m in pack.manifest["files"].values() if m.get("embedded_in_pdf_as")
    )
    assert result.pdf_attachments > 5
    assert result.summary() == (
        f"verified: {result.checked} files, pack manifest signed by key {_fingerprint(pack)}, "
        f"1 of 1 run manifest(s) signed, {result.pdf_attachments} PDF attachment(s) match the "
        "pack; no timestamp"
    )
    assert cli.main(["evidence", "verify", str(pack.path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == result.summary()


def test_a_consistent_rewrite_of_csv_manifest_and_sums_fails(copy, pack):
    name = f"runs/{pack.run_id}/frames/zones.csv"
    forged = (copy / name).read_bytes().replace(b"bogus", b"secure")
    assert forged != (copy / name).read_bytes()
    _rewrite_consistently(copy, name, forged)
    result = verify_evidence_pack(copy)
    assert not result.altered and not result.missing and not result.extra  # hashes all agree
    assert not result.ok
    assert any("edited after signing" in p for p in result.problems)
    assert any("attachment zones.csv differs" in p for p in result.problems)  # and the PDF


def test_a_frame_rewritten_with_its_pack_entry_differs_from_the_signed_run_manifest(copy, pack):
    name = f"runs/{pack.run_id}/frames/zones.parquet"
    df = pd.read_parquet(copy / name)
    df["status"] = "secure"
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    _rewrite_consistently(copy, name, buf.getvalue())
    problems = verify_evidence_pack(copy).problems
    assert f"{name} differs from its run manifest" in problems


def test_a_flipped_byte_in_a_run_signature_is_caught(copy, pack):
    sig = copy / "runs" / pack.run_id / "manifest.json.sig"
    data = bytearray(sig.read_bytes())
    data[0] ^= 1
    _rewrite_consistently(copy, f"runs/{pack.run_id}/manifest.json.sig", bytes(data))
    assert any("does not match its signature" in p for p in verify_evidence_pack(copy).problems)


def test_a_pack_resigned_with_another_key_is_caught(copy, pack, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from toolkit.store.signing import fingerprint, public_pem

    other = Ed25519PrivateKey.generate()
    _rewrite_consistently(copy, "signing/run-signing-key.pub.pem", public_pem(other.public_key()))
    (copy / "manifest.json.sig").write_bytes(other.sign((copy / "manifest.json").read_bytes()))
    result = verify_evidence_pack(copy)
    assert result.pack_signed and result.key_fingerprint == fingerprint(other.public_key())
    assert any("not the pack's" in p for p in result.problems)  # the run was signed by ours
    # the same pack, intact, but checked against another key: refused
    wrong = fingerprint(other.public_key())
    assert not verify_evidence_pack(pack.path, expect_key=wrong).ok
    assert cli.main(["evidence", "verify", str(pack.path), "--expect-key", wrong]) == 1
    assert "not the expected" in capsys.readouterr().out


def test_standard_tools_verify_a_pack(pack):
    import subprocess

    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=pack.path, capture_output=True, text=True
    )
    assert sums.returncode == 0 and "FAILED" not in sums.stdout
    cmd = "openssl pkeyutl -verify -pubin -inkey signing/run-signing-key.pub.pem -rawin"
    for target in ("manifest.json", f"runs/{pack.run_id}/manifest.json"):
        args = [*cmd.split(), "-in", target, "-sigfile", f"{target}.sig"]
        done = subprocess.run(args, cwd=pack.path, capture_output=True, text=True)
        assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout
