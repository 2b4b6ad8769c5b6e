"""Audit report: notebook -> papermill -> nbconvert -> WeasyPrint (PDF/A-3 with the data
embedded), checked on the PDF itself — pages, bookmarks, running header and footer, the table
of contents' page numbers, key figures, DS proofs, attachments — and on its safety.

One render of a hand-built run (no DNS, no lab) is shared by the module. The run holds a zone
whose DS matches its key, one whose DS matches no key, an island, a zone that does not exist,
an IDN, and untrusted markup in an owner, a server name, a finding and the organisation; it
records no portfolio, so the governance sections must say *not evidenced*.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader

from toolkit.assessment.judge import run_findings
from toolkit.errors import ReportError
from toolkit.reports import audit, audit_html
from toolkit.reports import html as report_html
from toolkit.reports import render as report
from toolkit.schemas import (
    FINDINGS,
    INVENTORY,
    NAME_RESOLVERS,
    NAMES,
    QUERIES,
    RECORDS,
    RESOLVER_CHECKS,
    ZONES,
)
from toolkit.store.runs import Store

pytestmark = pytest.mark.report

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
SCRIPT_OWNER = "<script>alert(1)</script>"
IMG_REASON = '<img src="http://192.0.2.1/x.png">'
EVIL_SERVER = "<b>ns</b>.evil.example."
# quotes, a newline, markup and would-be code: papermill must pass it as data
ORG = 'Acme "Audit" Ltd\'s <i>DNS</i>"); open("/tmp/pwned-by-report", "w") #'
PWNED = Path("/tmp/pwned-by-report")
PERIOD = "2026Q4"


# -- a hand-built run ----------------------------------------------------------------------------


def _dnskey(flags: int) -> dns.rdata.Rdata:
    key = ec.generate_private_key(ec.SECP256R1())
    return dns.dnssec.make_dnskey(key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags)


def _rrsig(covered: str, key_tag: int, signer: str) -> str:
    sig = base64.b64encode(hashlib.sha512(f"{covered}{key_tag}".encode()).digest()).decode()
    return f"{covered} 13 2 3600 20261228000000 20261121000000 {key_tag} {signer} {sig}"


def _signed_zone_records(zone: str, *, ds_matches: bool, server_name: str = "") -> list[dict]:
    name = dns.name.from_text(zone)
    ksk, zsk = _dnskey(257), _dnskey(256)
    ds = dns.dnssec.make_ds(name, ksk if ds_matches else _dnskey(257), "SHA256")
    parent = zone.split(".", 1)[1]
    base = {"zone": zone, "owner_name": f"{zone}.", "ttl": 3600, "queried_at": NOW}
    parent_side = {**base, "source": "parent", "server": "192.0.2.10"}
    parent_side["server_name"] = server_name or f"ns.{parent}."
    child = {**base, "source": "child", "server": "192.0.2.20", "server_name": f"ns1.{zone}."}
    rows = [
        {
            **parent_side,
            "rrtype": "DS",
            "key_tag": ds.key_tag,
            "algorithm": 13,
            "digest_type": 2,
            "rdata": ds.to_text(),
        },
        {
            **parent_side,
            "rrtype": "RRSIG",
            "covered_type": "DS",
            "key_tag": 4242,
            "algorithm": 13,
            "signer": f"{parent}.",
            "inception": datetime(2026, 11, 21, tzinfo=UTC),
            "expiration": datetime(2026, 12, 28, tzinfo=UTC),
            "rdata": _rrsig("DS", 4242, f"{parent}."),
        },
    ]
    for key in (ksk, zsk):
        tag = dns.dnssec.key_id(key)
        rows.append(
            {
                **child,
                "rrtype": "DNSKEY",
                "key_tag": tag,
                "algorithm": 13,
                "flags": key.flags,
                "rdata": key.to_text(),
            }
        )
    rows.append(
        {
            **child,
            "rrtype": "RRSIG",
            "covered_type": "DNSKEY",
            "key_tag": dns.dnssec.key_id(ksk),
            "algorithm": 13,
            "signer": f"{zone}.",
            "rdata": _rrsig("DNSKEY", dns.dnssec.key_id(ksk), f"{zone}."),
        }
    )
    rows.append(
        {
            **child,
            "rrtype": "SOA",
            "rdata": f"ns1.{zone}. hostmaster.{zone}. 1 3600 900 1209600 300",
        }
    )
    return rows


def _zones():
    def z(zone, status, **kw):
        row = {
            "zone": zone,
            "zone_unicode": zone,
            "owner": "DNS team",
            "business_unit": "IT",
            "risk_tier": 1,
            "expected_signed": True,
            "status": status,
            "reasons": "",
            "reason_text": "",
            "parent": zone.split(".", 1)[1],
            "signed": True,
            "has_ds": True,
            "algorithms": "13",
            "ns_servers": 2,
            "ns_answered": 2,
            "min_rrsig_days_left": 30.0,
            "earliest_expiration": datetime(2026, 12, 28, tzinfo=UTC),
            "checked_at": NOW,
        }
        row.update(kw)
        return row

    return [
        z("example.com", "secure"),
        z("xn--bcher-kva.example", "secure", zone_unicode="bücher.example", risk_tier=2),
        z(
            "broken.example",
            "bogus",
            owner=SCRIPT_OWNER,
            reasons="DS_NO_MATCHING_DNSKEY",
            reason_text="The DS record at the parent matches no key.",
        ),
        z(
            "island.example",
            "insecure",
            risk_tier=2,
            has_ds=False,
            reasons="NO_DS_SIGNED",
            reason_text=f"The parent publishes no DS record. {IMG_REASON}",
        ),
        z(
            "gone.example",
            "indeterminate",
            owner=None,
            risk_tier=None,
            signed=None,
            has_ds=None,
            algorithms=None,
            ns_servers=0,
            ns_answered=0,
            min_rrsig_days_left=None,
            earliest_expiration=None,
            reasons="ZONE_NOT_FOUND",
            reason_text="The zone does not exist in DNS.",
        ),
    ]


def _findings(zones):
    rows = []
    for z in zones:
        status = {"bogus": "fail", "indeterminate": "indeterminate"}.get(z["status"], "pass")
        rows.append(
            {
                "check_id": "chain_not_bogus",
                "zone": z["zone"],
                "status": status,
                "severity": "critical",
                "pillar": "technical",
                "title": "Chain of trust validates",
                "message": "chain is " + z["status"]
                if status == "pass"
                else f"The chain of trust is {z['status']}: {z['reason_text']}",
                "evidence": f"zones[{z['zone']}] status={z['status']}",
                "references": "RFC 4035 §5;RFC 4033 §5",
            }
        )
        signed_ok = z["status"] == "secure"
        rows.append(
            {
                "check_id": "zone_signed_as_expected",
                "zone": z["zone"],
                "status": "pass"
                if signed_ok
                else ("fail" if z["status"] != "indeterminate" else "indeterminate"),
                "severity": "high",
                "pillar": "technical",
                "title": "Zone signed as the inventory expects",
                "message": "zone is signed"
                if signed_ok
                else f"Expected to be signed but the chain is {z['status']} {SCRIPT_OWNER}",
                "evidence": f"zones[{z['zone']}] {IMG_REASON}",
                "references": "RFC 4033;RFC 4035 §4.3",
            }
        )
    return FINDINGS.frame(rows)


def _records():
    rows = [
        {
            "zone": ".",
            "owner_name": ".",
            "rrtype": "DNSKEY",
            "ttl": 3600,
            "server": "192.0.2.1",
            "server_name": "a.root-servers.test.",
            "source": "child",
            "key_tag": 20326,
            "algorithm": 13,
            "flags": 257,
            "rdata": _dnskey(257).to_text(),
            "queried_at": NOW,
        }
    ]
    rows += _signed_zone_records("example.com", ds_matches=True)
    rows += _signed_zone_records("xn--bcher-kva.example", ds_matches=True)
    rows += _signed_zone_records("broken.example", ds_matches=False, server_name=EVIL_SERVER)
    island = [r for r in _signed_zone_records("island.example", ds_matches=True)]
    island = [r for r in island if r["source"] == "child"]
    island.append(
        {
            "zone": "island.example",
            "owner_name": "island.example.",
            "rrtype": "NSEC",
            "ttl": 300,
            "server": "192.0.2.10",
            "server_name": "ns.example.",
            "source": "parent",
            "rdata": "jungle.example. NS RRSIG NSEC",
            "queried_at": NOW,
        }
    )
    rows += island
    return RECORDS.frame(rows)


def _resolver_checks(zones):
    rows = []
    for z in zones:
        for name, addr in (("unbound", "192.0.2.53"), ("bind", "192.0.2.54")):
            rows.append(
                {
                    "zone": z["zone"],
                    "resolver": name,
                    "address": addr,
                    "port": 53,
                    "rcode": "SERVFAIL" if z["status"] == "bogus" else "NOERROR",
                    "ad": z["status"] == "secure",
                    "latency_ms": 1.5,
                    "resolver_status": z["status"],
                    "queried_at": NOW,
                }
            )
    return RESOLVER_CHECKS.frame(rows)


def _inventory(zones):
    return INVENTORY.frame(
        {k: z[k] for k in ("zone", "zone_unicode", "owner", "business_unit", "risk_tier")}
        | {"expected_signed": True, "source_line": i + 2}
        | ({"names": "www;mail"} if z["zone"] == "example.com" else {})
        for i, z in enumerate(zones)
    )


BOGUS_WWW = "RRSIG_MISSING: no RRSIG by example.com. with a trusted key <u>forged</u>"
"""The reason of example.com's bogus www A (with markup that must stay text)."""


def _names():
    """example.com lists www and mail: www's A is bogus at one of its two servers, the rest
    validates; mail does not exist (NXDOMAIN, proven)."""
    rows = []
    for server in ("192.0.2.20", "192.0.2.21"):
        for name in ("www.example.com", "mail.example.com"):
            for qtype in ("A", "AAAA", "MX", "TXT"):
                bogus = name.startswith("www") and qtype == "A" and server == "192.0.2.20"
                data = name.startswith("www") and qtype == "A"
                rows.append(
                    {
                        "zone": "example.com",
                        "name": name,
                        "qtype": qtype,
                        "server": server,
                        "rcode": "NOERROR" if name.startswith("www") else "NXDOMAIN",
                        "answer": "data" if data else ("nodata" if "www" in name else "nxdomain"),
                        "status": "bogus" if bogus else "secure",
                        "reason": BOGUS_WWW if bogus else "validly signed",
                        "ttl": 300,
                        "rdata": "192.0.2.80" if data else None,
                        "queried_at": NOW,
                    }
                )
    return NAMES.frame(rows)


def _name_resolvers():
    rows = []
    for name in ("www.example.com", "mail.example.com"):
        for qtype in ("A", "AAAA", "MX", "TXT"):
            for resolver, addr in (("unbound", "192.0.2.53"), ("bind", "192.0.2.54")):
                fail = name.startswith("www") and qtype == "A" and resolver == "bind"
                rows.append(
                    {
                        "zone": "example.com",
                        "name": name,
                        "qtype": qtype,
                        "resolver": resolver,
                        "address": addr,
                        "port": 53,
                        "rcode": "SERVFAIL" if fail else "NOERROR",
                        "ad": not fail,
                        "resolver_status": "bogus" if fail else "secure",
                        "queried_at": NOW,
                    }
                )
    return NAME_RESOLVERS.frame(rows)


def build_workspace(
    path: Path, *, now: datetime = NOW, tsa_url: str | None = None
) -> tuple[Store, str]:
    """A workspace with one hand-built run (see the module docstring); returns it and the id."""
    zones = _zones()
    frames = {
        "inventory": _inventory(zones),
        "zones": ZONES.frame(zones),
        "findings": _findings(zones),
        "records": _records(),
        "resolver_checks": _resolver_checks(zones),
        "queries": QUERIES.empty(),
        "names": _names(),
        "name_resolvers": _name_resolvers(),
    }
    params = {
        "inventory": "hand-built",
        "trust_anchor": "/labs/root.ds",
        "root_hints": "/labs/root.hints",
        "resolvers": ["unbound=192.0.2.53@53", "bind=192.0.2.54@53"],
    }
    store = Store(path)
    run = store.write(frames, parameters=params, now=now, tsa_url=tsa_url)
    return store, run.run_id


# -- the shared render ---------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


class Rendered:
    def __init__(self, tmp: Path) -> None:
        PWNED.unlink(missing_ok=True)
        self.workspace = tmp / "ws"
        self.store, self.run_id = build_workspace(self.workspace)
        self.out = tmp / "out" / "audit.pdf"
        self.policy = report.FetchPolicy(report.templates_dir())
        t0 = time.perf_counter()
        self.result = report.render_report(
            "audit",
            self.workspace,
            self.out,
            report.ReportOptions(organisation=ORG, period=PERIOD, keep_intermediate=True),
            policy=self.policy,
        )
        self.seconds = time.perf_counter() - t0
        self.reader = PdfReader(self.out)
        self.pages = [p.extract_text() for p in self.reader.pages]
        self.text = "\n".join(self.pages)
        self.words = " ".join(self.text.split())
        self.squeezed = "".join(self.text.split())
        self.html = self.out.with_suffix(".html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return Rendered(tmp_path_factory.mktemp("audit"))


def _outline(reader):
    """The PDF outline as (depth, title, page number) tuples."""
    out = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 0)
    return out


SECTIONS = [
    "1 Summary",
    "2 Scope and method",
    "3 Findings",
    "4 Governance records",
    "5 DS publication proofs",
    "6 Per-zone technical annex",
    "7 Evidence and attachments",
]


# -- the document --------------------------------------------------------------------------------


def test_pdf_written_with_bounded_page_count(rendered):
    assert rendered.out.read_bytes().startswith(b"%PDF-")
    # The run has no portfolio: its findings are the technical catalogue judged over its frames
    # as of its time (every technical check, most not evidenced by this hand-built run; the
    # findings frame stored in it is ignored), each check with its section.
    assert 8 <= len(rendered.reader.pages) <= 60, len(rendered.reader.pages)
    assert not list(rendered.out.parent.glob(".*.tmp")), "temporary file left behind"
    assert not rendered.out.with_suffix(".failed.ipynb").exists()
    assert rendered.seconds < 120


def test_cover_page(rendered):
    cover = " ".join(rendered.pages[0].split())
    assert "DNSSEC audit report" in cover
    assert "".join(ORG.split()) in "".join(cover.split())  # the organisation, as text
    assert PERIOD in cover and "2026-11-28" in cover
    assert rendered.result.metadata["report_id"] in cover
    assert rendered.run_id in cover
    assert "INTERNAL" not in cover and "CONFIDENTIAL" in cover  # the audit report's default
    assert "Page 1 of" not in cover  # no running footer on the cover


def test_bookmarks_follow_the_sections(rendered):
    outline = _outline(rendered.reader)
    top = [t for d, t, _ in outline if d == 1]
    assert outline[0][:2] == (0, "DNSSEC audit report")
    assert top[0] == "Contents"
    assert top[1:] == SECTIONS
    zones = {t for d, t, _ in outline if d == 2}
    assert {"example.com", "broken.example", "bücher.example (xn--bcher-kva.example)"} <= zones
    pages = [p for d, _, p in outline if d == 1]
    assert pages == sorted(pages)


def test_table_of_contents_page_numbers_are_right(rendered):
    outline = {t: p for d, t, p in _outline(rendered.reader) if d == 1}
    first = min(outline[s] for s in SECTIONS)  # the contents may run over several pages
    contents = " ".join(" ".join(rendered.pages[outline["Contents"] - 1 : first - 1]).split())
    for section in SECTIONS:
        m = re.search(re.escape(section) + r"[ .]*?(\d+)", contents)
        assert m, section
        assert int(m[1]) == outline[section], (section, m[1], outline[section])
        assert section in rendered.pages[outline[section] - 1]


def _margin_texts(page) -> tuple[str, str]:
    """(text in the top margin, text in the bottom margin) of a PDF page (A4: 842 pt high)."""
    top: list[str] = []
    bottom: list[str] = []

    def visit(text, cm, tm, font, size):
        y = cm[3] * tm[5] + cm[5]  # WeasyPrint draws in a flipped, scaled space
        if text.strip():
            (top if y > 780 else bottom if y < 60 else []).append(text.strip())

    page.extract_text(visitor_text=visit)
    return " ".join(top), " ".join(bottom)


def test_running_header_and_footer(rendered):
    n = len(rendered.pages)
    rid = rendered.result.metadata["report_id"]
    for i, page in enumerate(rendered.reader.pages[1:], start=2):
        top, bottom = _margin_texts(page)
        assert "DNSSEC audit report" in top and PERIOD in top, (i, top)
        assert f"Page {i} of {n}" in bottom, (i, bottom)
        assert "CONFIDENTIAL" in bottom and rid in bottom, (i, bottom)
    top, bottom = _margin_texts(rendered.reader.pages[0])
    assert "Page 1" not in bottom and PERIOD not in top  # the cover has no running elements


def test_pdf_metadata(rendered):
    meta = rendered.reader.metadata
    assert meta.title == f"DNSSEC audit report — {ORG} — {PERIOD}"
    assert meta.author == ORG
    assert rendered.result.metadata["report_id"] in meta.subject
    assert meta.creation_date.date().isoformat() == "2026-11-28"
    assert meta.modification_date.date().isoformat() == "2026-11-28"
    assert rendered.result.metadata["report_id"].startswith("DNSSEC-AUDIT-2026Q4-")


# -- what it says --------------------------------------------------------------------------------


def test_key_figures(rendered):
    words = rendered.words
    assert "5 / 5 zones probed" in words
    assert "2 / 5 zones secure" in words
    judged = run_findings(rendered.store.load(rendered.run_id))  # no portfolio: technical
    assert len(set(judged["check_id"])) > 2  # not the two checks of the stored frame
    summary = audit.check_summary(judged)
    failing = int((summary["result"] == "fail").sum())
    assert failing >= 1  # chain_not_bogus on broken.example at least
    assert f"{failing} / {len(summary)} checks failing" in words
    assert "The inventory lists 5 zones; the run probed 5 of them" in words
    assert "No server answered for 1: gone.example" in words
    assert "key tag 20326 (algorithm 13)" in words  # the root key the chains start from
    assert "/labs/root.ds" in rendered.squeezed


def test_scope_lists_runs_and_resolvers(rendered):
    assert rendered.run_id in rendered.words
    assert "2026-11-28 09:30:00 UTC" in rendered.words
    for resolver in ("unbound", "bind"):
        assert resolver in rendered.words
    manifest = json.loads(
        (rendered.workspace / "runs" / rendered.run_id / "manifest.json").read_text()
    )
    for meta in manifest["files"].values():  # every file's hash is quoted
        assert meta["sha256"] in rendered.squeezed
    # and the key that signed the manifest, as the workspace records it (issue 12)
    fp = (rendered.workspace / "signing" / "fingerprint.txt").read_text().strip()
    assert manifest["signing_key"] == fp and fp in rendered.squeezed


def test_findings_check_by_check_with_evidence(rendered):
    words = rendered.words
    assert "Chain of trust validates" in words and "chain_not_bogus" in words
    assert "The chain of trust is bogus: The DS record at the parent matches no key." in words
    assert "zones[broken.example] status=bogus" in rendered.words
    assert "References: RFC 4035 §5; RFC 4033 §5." in words
    assert "Passed: example.com" in words


def test_governance_is_not_evidenced_not_invented(rendered):
    words = rendered.words
    assert "Not evidenced: no governance assessment in this workspace" in words
    assert "the run records no portfolio" in words
    for topic in ("Key manifest reconciled", "Change-control reconciliation", "Exceptions"):
        assert topic in words
    assert "Nothing in this section is claimed" in words
    assert "Requirements of" not in words  # no control is reported as met or not


def test_ds_publication_proofs(rendered):
    proofs = audit.ds_proofs(Store(rendered.workspace).load(rendered.run_id))
    verdicts = dict(zip(proofs["zone"], proofs["verdict"], strict=True))
    assert verdicts == {
        "broken.example": "no_dnskey",
        "example.com": "match",
        "gone.example": "no_ds",
        "island.example": "no_ds",
        "xn--bcher-kva.example": "match",
    }
    words = rendered.words
    assert "DS matches DNSKEY" in words and "No matching DNSKEY" in words
    assert "digest recomputed from the DNSKEY matches the DS" in words
    ds = proofs.loc[proofs["zone"] == "example.com", "ds_rdata"].iloc[0]
    assert f"example.com. 3600 IN DS {ds}".replace(" ", "") in rendered.squeezed  # raw record
    assert "received 2026-11-28 09:30:00.000 UTC" in words
    assert "island.example. 300 IN NSEC jungle.example. NS RRSIG NSEC" in words  # denial


def test_attachments_are_the_data_and_their_hashes_are_quoted(rendered):
    attached = rendered.reader.attachments
    names = set(attached)
    assert {"run-manifest.json", "zones.csv", "findings.csv", "records.csv"} <= names
    assert {"table-ds_proofs.csv", "table-scope.csv"} <= names
    for name, datas in attached.items():
        digest = hashlib.sha256(datas[0]).hexdigest()
        assert digest in rendered.squeezed, name  # the report quotes each file's SHA-256
    store_manifest = rendered.workspace / "runs" / rendered.run_id / "manifest.json"
    assert attached["run-manifest.json"][0] == store_manifest.read_bytes()
    zones_csv = attached["zones.csv"][0].decode()
    assert zones_csv.count("\n") == 6  # header + 5 zones
    assert "'<script>" not in zones_csv and SCRIPT_OWNER in zones_csv


# -- safety --------------------------------------------------------------------------------------


def test_untrusted_text_stays_text(rendered):
    for needle in (SCRIPT_OWNER, IMG_REASON, EVIL_SERVER):
        assert "".join(needle.split()) in rendered.squeezed, needle
    tags = _Tags()
    tags.feed(rendered.html)
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "link", "iframe", "object", "i"}
    assert "&lt;b&gt;ns&lt;/b&gt;.evil.example." in rendered.html
    assert "&lt;i&gt;DNS&lt;/i&gt;" in rendered.html
    for tag, attrs in tags.tags:
        for name, value in attrs:
            if name in ("src", "href") and value:
                assert value.startswith(("data:", "#")), (tag, name, value[:60])


def test_the_annex_shows_the_names_beyond_the_apex(rendered):
    """example.com's page lists its names per type: the worst verdict over its servers (www A:
    bogus at 1 of 2), why, and what the resolvers saw; the reason's markup stays text."""
    assert "Names beyond the apex" in rendered.words
    assert "www.example.com" in rendered.words and "mail.example.com" in rendered.words
    assert "1 of 2" in rendered.words
    assert "SERVFAIL: bind; 1 secure" in rendered.words or "1 secure; SERVFAIL: bind" in (
        rendered.words
    )
    assert "&lt;u&gt;forged&lt;/u&gt;" in rendered.html
    table = audit.name_answers(rendered.store.load(rendered.run_id), "example.com")
    www_a = table[(table["name"] == "www.example.com") & (table["qtype"] == "A")].iloc[0]
    assert (www_a["status"], www_a["servers"], www_a["reason"]) == ("bogus", "1 of 2", BOGUS_WWW)
    assert www_a["resolvers"] == "1 secure; SERVFAIL: bind"
    mail = table[table["name"] == "mail.example.com"]
    assert set(mail["status"]) == {"secure"} and set(mail["answer"]) == {"nxdomain"}
    assert audit.name_answers(rendered.store.load(rendered.run_id), "island.example").empty


def test_parameters_reach_the_notebook_as_data(rendered):
    assert not PWNED.exists()
    assert "".join(ORG.split()) in rendered.squeezed


def test_no_fetch_outside_the_report_assets(rendered):
    assert rendered.policy.refused == []
    for url in rendered.policy.requested:
        assert url.startswith(("data:", "file:")), url[:80]
        if url.startswith("file:"):
            assert report.FetchPolicy(report.templates_dir()).allows(url)


def test_no_code_or_prompts(rendered):
    for needle in ("In [", "Out[", "import ", "display(", "audit_html", "Traceback"):
        assert needle not in rendered.text, needle
    assert "Audit report (developer note" not in rendered.text


# -- failures ------------------------------------------------------------------------------------


def test_failing_notebook_names_the_cell_keeps_the_notebook_and_writes_no_pdf(
    rendered, tmp_path, monkeypatch
):
    import nbformat

    nb = nbformat.read(report.notebooks_dir() / report.AUDIT_NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "ds-proofs")
    cell.source = 'raise RuntimeError("DS table on fire")\n' + cell.source
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    nbformat.write(nb, nbdir / report.AUDIT_NOTEBOOK)
    monkeypatch.setenv(report.NOTEBOOKS_ENV, str(nbdir))
    out = tmp_path / "out" / "audit.pdf"
    out.parent.mkdir()
    with pytest.raises(report.NotebookError) as err:
        report.render_report("audit", rendered.workspace, out)
    e = err.value
    message = str(e)
    assert "audit_report.ipynb" in message
    assert 'raise RuntimeError("DS table on fire")' in message
    assert "RuntimeError: DS table on fire" in message
    index = [c.get("id") for c in nb.cells].index("ds-proofs")
    assert e.cell_index == index + 1  # papermill injects the parameters cell before it
    assert e.kept == out.with_suffix(".failed.ipynb")
    assert str(e.kept) in message
    kept = nbformat.read(e.kept, as_version=4)
    assert any(o.get("output_type") == "error" for c in kept.cells for o in c.get("outputs", []))
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == ["audit.failed.ipynb"]
    assert isinstance(e, ReportError)


def test_unknown_framework_is_refused_before_any_work(rendered, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(ReportError, match="unknown framework 'iso27002'"):
        report.render_audit_report(rendered.workspace, tmp_path / "x.pdf", framework="iso27002")
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "x.pdf").exists()


def test_parameters_must_be_plain_data(tmp_path):
    with pytest.raises(ReportError, match="plain data"):
        report.execute_notebook(
            report.notebooks_dir() / report.AUDIT_NOTEBOOK, tmp_path, {"workspace": object()}
        )


def test_unknown_report_kind(tmp_path):
    with pytest.raises(ReportError, match="unknown report 'weekly'"):
        report.render_report("weekly", tmp_path, tmp_path / "x.pdf")


# -- pieces --------------------------------------------------------------------------------------


def test_table_of_contents_is_filled_from_marked_headings():
    html = (
        report_html.toc_placeholder_html()
        + report_html.heading_html("1 <First>", anchor="sec-one", toc=True)
        + report_html.heading_html("1.1 Sub", level=3, anchor="sec-sub", toc=True)
        + report_html.heading_html("Not listed", level=3, anchor="sec-x")
        + "<h2 id='sneaky' data-toc='1'>injected by data?</h2>"
    )
    filled = report_html.fill_toc(html)
    assert '<li class="toc-level-1"><a href="#sec-one">1 &lt;First&gt;</a></li>' in filled
    assert '<li class="toc-level-2"><a href="#sec-sub">1.1 Sub</a></li>' in filled
    assert "Not listed</a>" not in filled
    assert report_html.TOC_PLACEHOLDER not in filled
    assert report_html.fill_toc("<p>no toc</p>") == "<p>no toc</p>"


def test_headings_refuse_unsafe_anchors():
    with pytest.raises(ValueError):
        report_html.heading_html("x", anchor='a" onload="b')
    with pytest.raises(ValueError):
        report_html.heading_html("x", toc=True)
    assert report_html.anchor_id("zone", "<b>") == report_html.anchor_id("zone", "<b>")
    assert re.fullmatch(r"zone-[0-9a-f]{10}", report_html.anchor_id("zone", "x\"'<>"))


def test_report_id_is_deterministic():
    a = report_html.report_id("audit", "r1", as_of="2026-11-28", period="2026Q4")
    assert a == report_html.report_id("audit", "r1", as_of="2026-11-28", period="2026Q4")
    assert a != report_html.report_id("audit", "r2", as_of="2026-11-28", period="2026Q4")
    assert re.fullmatch(r"DNSSEC-AUDIT-2026Q4-[0-9A-F]{8}", a)
    assert "<" not in report_html.report_id("audit", "r", as_of="x", period="<b>")


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2026Q4", "2026-10-01", "2027-01-01"),
        ("2026-q1", "2026-01-01", "2026-04-01"),
        ("2026-H2", "2026-07-01", "2027-01-01"),
        ("2026-11", "2026-11-01", "2026-12-01"),
        ("2026", "2026-01-01", "2027-01-01"),
    ],
)
def test_period_bounds(period, start, end):
    a, b = audit.period_bounds(period)
    assert (a.date().isoformat(), b.date().isoformat()) == (start, end)


def test_period_bounds_unknown():
    assert audit.period_bounds("last quarter") is None
    assert audit.period_bounds("2026-13") is None


def test_zones_to_detail_past_the_limit(rendered):
    run = Store(rendered.workspace).load(rendered.run_id)
    assert audit.zones_to_detail(run, 10) == sorted(run["zones"]["zone"])
    assert audit.zones_to_detail(run, 2) == ["broken.example", "gone.example"]


def test_collapse_findings_keeps_fails_and_groups_undecided():
    rows = [
        {
            "check_id": "c",
            "zone": f"z{i}.example",
            "status": "indeterminate",
            "message": "no answer",
        }
        for i in range(4)
    ] + [{"check_id": "c", "zone": "bad.example", "status": "fail", "message": "broken"}]
    df = FINDINGS.frame(rows)
    out = audit.collapse_findings(df)
    assert list(out["status"]) == ["fail", "indeterminate"]
    assert out.iloc[1]["zone"] == "4 zones"
    assert "z0.example, z1.example, z2.example, z3.example" in out.iloc[1]["message"]
    assert list(out["zones"]) == [1, 4]


def test_requirement_section_escapes_and_counts():
    req = {
        "framework": "nis2",
        "requirement_id": "6.7.2(l)",
        "title": "DNS <security>",
        "status": "fail",
        "check_ids": "chain_not_bogus;nope",
    }
    evidence = _findings(_zones())
    evidence = evidence[evidence["check_id"] == "chain_not_bogus"]
    html = audit_html.requirement_section_html(req, evidence, run_id="r1", limit=10)
    assert "DNS &lt;security&gt;" in html and "<security>" not in html
    assert "No finding of nope: not evidenced." in html
    assert "3 pass, 1 fail, 1 indeterminate, 0 not applicable" in html


def test_check_results_chart_is_deterministic_vector(rendered):
    summary = audit.check_summary(_findings(_zones()))
    a, b = audit_html.check_results_svg(summary), audit_html.check_results_svg(summary)
    assert a == b and a.lstrip().startswith("<?xml") and "<dc:date>" not in a
    shown, note = audit_html.chart_selection(summary, max_rows=1)
    assert len(shown) == 1 and "the other 1 are in the table" in note


def test_board_and_audit_share_one_template_and_stylesheet():
    tdir = report.templates_dir()
    for kind in ("board", "audit"):
        conf = json.loads((tdir / kind / "conf.json").read_text())
        assert conf["base_template"] == "common"
    assert (tdir / "common" / "report.html.j2").is_file()
    # one print stylesheet for every report; documents.css only adds the policy statement's
    # and runbook's own elements
    assert sorted(p.name for p in tdir.glob("*.css")) == ["documents.css", "print.css"]
