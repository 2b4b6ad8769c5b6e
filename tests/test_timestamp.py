"""RFC 3161 timestamps of evidence packs, against a local Time-Stamping Authority.

The TSA is real: ``openssl ts -reply`` behind a small HTTP server on loopback, with its own CA
and a TSA certificate (extended key usage timeStamping, critical) made here. No network.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_audit_report import build_workspace

from toolkit.cli.main import main
from toolkit.evidence.pack import PACK_TIMESTAMP, verify_evidence_pack
from toolkit.store.timestamp import TimestampError, request_timestamp, verify_timestamp

TSA_CONF = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_authority(folder: Path, name: str) -> Path:
    """A CA and a TSA certificate signed by it in ``folder``; returns the CA certificate."""
    folder.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
             "-subj", f"/CN={name} CA", cwd=folder)  # fmt: skip
    _openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name}",
             cwd=folder)  # fmt: skip
    (folder / "ext").write_text(
        "basicConstraints=CA:FALSE\nextendedKeyUsage=critical,timeStamping\n"
    )
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tsa.crt", "-days", "30", "-extfile", "ext",
             cwd=folder)  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(TSA_CONF.format(dir=folder))
    return folder / "ca.crt"


class _TsaHandler(BaseHTTPRequestHandler):
    folder: Path
    served: list[int]

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers["Content-Length"]))
        work = self.folder / f"q{len(self.served)}"
        work.mkdir()
        (work / "q.tsq").write_bytes(query)
        subprocess.run(
            ["openssl", "ts", "-reply", "-config", str(self.folder / "tsa.cnf"),
             "-queryfile", str(work / "q.tsq"), "-out", str(work / "r.tsr")],
            check=True, capture_output=True,
        )  # fmt: skip
        reply = (work / "r.tsr").read_bytes()
        self.served.append(len(reply))
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """(url, ca certificate, replies served) of a local TSA; stopped at the end."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (Debian package openssl, installed by make deps)")
    folder = tmp_path_factory.mktemp("tsa") / "authority"
    ca = make_authority(folder, "Test TSA")
    handler = type("Handler", (_TsaHandler,), {"folder": folder, "served": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", ca, handler.served
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_proves_the_bytes_and_names_its_tsa(tsa):
    url, ca, served = tsa
    before = len(served)
    token = request_timestamp(b"manifest bytes", url)
    assert len(served) == before + 1
    ts = verify_timestamp(b"manifest bytes", token, ca)
    assert "Test TSA" in ts.tsa and ts.time.endswith("GMT") and ts.serial
    with pytest.raises(TimestampError, match="does not verify"):
        verify_timestamp(b"manifest bytes, edited", token, ca)


def test_a_token_does_not_verify_against_another_ca(tsa, tmp_path):
    url, _, _ = tsa
    other = make_authority(tmp_path / "other", "Other TSA")
    token = request_timestamp(b"x", url)
    with pytest.raises(TimestampError, match="does not verify"):
        verify_timestamp(b"x", token, other)


def test_an_unreachable_or_wrong_tsa_is_a_clear_error(tmp_path):
    with pytest.raises(TimestampError, match="TSA http://127.0.0.1:9/"):
        request_timestamp(b"x", "http://127.0.0.1:9/", timeout=2)
    with pytest.raises(TimestampError, match="http:// or https://"):
        request_timestamp(b"x", "file:///etc/passwd")


@pytest.fixture(scope="module")
def stamped_pack(tsa, tmp_path_factory):
    """An evidence pack of the audit report's hand-built run, written with --tsa-url by the
    CLI."""
    tmp = tmp_path_factory.mktemp("stamped")
    workspace = tmp / "ws"
    url, ca, _ = tsa
    build_workspace(workspace, tsa_url=url)  # the run is timestamped at collection too
    out = tmp / "pack"
    argv = ["report", "audit", "--workspace", str(workspace), "--evidence", str(out)]
    argv += ["--organisation", "Example Organisation", "--period", "2026Q4"]
    assert main([*argv, "--tsa-url", url]) == 0
    return out, ca


@pytest.mark.report
def test_a_stamped_pack_verifies_with_its_time(stamped_pack, capsys):
    pack, ca = stamped_pack
    assert (pack / PACK_TIMESTAMP).is_file()
    result = verify_evidence_pack(pack, tsa_ca=ca)
    assert result.ok, result.lines()
    assert "manifest timestamped" in result.summary() and "Test TSA" in result.summary()
    assert result.timestamped_runs == 1
    assert "1 run manifest(s) timestamped (RFC 3161)" in result.summary()
    unchecked = verify_evidence_pack(pack)
    assert unchecked.ok and "present but not checked" in unchecked.summary()
    assert "1 run timestamp(s) present but not checked" in unchecked.summary()
    assert main(["evidence", "verify", str(pack), "--tsa-ca", str(ca)]) == 0
    assert "manifest timestamped" in capsys.readouterr().out


@pytest.mark.report
def test_a_stamped_pack_fails_against_another_tsa_ca(stamped_pack, tmp_path):
    pack, _ = stamped_pack
    other = make_authority(tmp_path / "other", "Other TSA")
    result = verify_evidence_pack(pack, tsa_ca=other)
    assert not result.ok and any(PACK_TIMESTAMP in p for p in result.problems)


@pytest.mark.report
def test_a_token_moved_to_another_pack_fails(stamped_pack, tmp_path):
    """The token covers the manifest's bytes: copied beside another manifest, it fails."""
    pack, ca = stamped_pack
    copy = tmp_path / "copy"
    shutil.copytree(pack, copy)
    manifest = copy / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"tool"', b'"tool" ', 1))
    result = verify_evidence_pack(copy, tsa_ca=ca)
    assert any(PACK_TIMESTAMP in p and "does not verify" in p for p in result.problems)


def test_tsa_url_without_an_evidence_pack_is_refused(tmp_path, capsys):
    """The audit report takes --tsa-url only with --evidence (exit 1 naming it); the board
    report has no evidence pack, so its parser refuses --tsa-url itself (usage, exit 2)."""
    assert main(["report", "audit", "--workspace", str(tmp_path), "--tsa-url", "http://x"]) == 1
    assert "--evidence" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "board", "--workspace", str(tmp_path), "--tsa-url", "http://x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "dnssec-audit report board: error: unrecognized arguments: --tsa-url" in err


@pytest.mark.report
def test_the_readme_openssl_command_verifies_the_token(stamped_pack):
    """What the README tells an auditor without the toolkit to run."""
    pack, ca = stamped_pack
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "manifest.json", "-in", PACK_TIMESTAMP,
         "-CAfile", str(ca)],
        cwd=pack, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and "Verification: OK" in done.stdout


def test_a_timestamped_run_loads_and_its_token_proves_its_manifest(tsa, tmp_path):
    url, ca, _ = tsa
    store, run_id = build_workspace(tmp_path / "ws", tsa_url=url)
    folder = store.runs_dir / run_id
    token = (folder / "manifest.json.tsr").read_bytes()
    ts = verify_timestamp((folder / "manifest.json").read_bytes(), token, ca)
    assert "Test TSA" in ts.tsa
    runs = store.list_runs()
    assert runs.set_index("run_id").loc[run_id, "status"] == "signed"  # the token is expected
    store.load(run_id)


def test_no_run_is_stored_when_the_tsa_fails(tmp_path):
    with pytest.raises(TimestampError, match="TSA http://127.0.0.1:9/"):
        build_workspace(tmp_path / "ws", tsa_url="http://127.0.0.1:9/")
    runs = tmp_path / "ws" / "runs"
    leftovers = [p.name for p in runs.iterdir() if p.name != ".lock"] if runs.exists() else []
    assert leftovers == []  # no run, and no temporary folder either
