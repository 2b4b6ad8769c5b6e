"""Framework files: integrity against the whole check catalogue, the inverted mapping, the
roll-up of findings into pass / fail / not_evidenced, and clear errors for a bad file."""

from __future__ import annotations

import textwrap

import pytest

from toolkit.assessment.frameworks import (
    FRAMEWORK_IDS,
    load_framework,
    load_frameworks,
    mapping_frame,
    requirement_status,
    requirements_by_check,
    rollup,
)
from toolkit.checks import PILLARS, SEVERITIES, default_registry
from toolkit.errors import InputError
from toolkit.schemas import FINDINGS


def test_every_referenced_check_exists_and_every_check_is_mapped():
    registry = default_registry()
    frameworks = load_frameworks()
    assert set(frameworks) == set(FRAMEWORK_IDS)
    by_check = requirements_by_check(frameworks)
    unknown = sorted(c for c in by_check if c not in registry)
    unmapped = sorted(c.id for c in registry.checks() if c.id not in by_check)
    assert unknown == [], f"frameworks reference checks that do not exist: {unknown}"
    assert unmapped == [], f"checks mapped to no requirement: {unmapped}"


def test_every_check_of_the_catalogue_has_complete_metadata():
    for check in default_registry().checks():
        assert check.severity in SEVERITIES and check.pillar in PILLARS, check.id
        assert check.risk.strip() and check.remediation.strip() and check.references, check.id


def test_framework_files_are_well_formed():
    for fid, fw in load_frameworks().items():
        assert fw.id == fid and fw.title and fw.requirements
        ids = [r.id for r in fw.requirements]
        assert len(ids) == len(set(ids)), fid
        for r in fw.requirements:
            assert r.checks and len(r.checks) == len(set(r.checks)), (fid, r.id)


def test_reference_requirements_are_present():
    fws = load_frameworks()
    want = {
        "nist-800-53": {"SC-20", "SC-21", "SC-22", "SC-12", "SC-13", "CM-3", "CM-8", "SI-4",
                        "CA-7", "IR-4", "IR-8"},
        "iso27001": {"5.2", "5.9", "5.19", "5.24", "5.26", "5.27", "8.16", "8.24", "8.32"},
        "soc2": {"CC6.1", "CC7.1", "CC7.2", "CC7.3", "CC7.4", "CC7.5", "CC8.1"},
        "nis2": {"6.7.2(l)", "9.1.2(c)", "6.4"},
        "cis": {"1.1", "4.9", "12.3", "17.4"},
    }  # fmt: skip
    for fid, ids in want.items():
        assert ids <= {r.id for r in fws[fid].requirements}, fid
    sc20 = next(r for r in fws["nist-800-53"].requirements if r.id == "SC-20")
    assert "chain_not_bogus" in sc20.checks


def test_inverted_mapping_and_mapping_frame():
    fws = load_frameworks(["nist-800-53", "iso27001"])
    by_check = requirements_by_check(fws)
    cm3 = {(r.framework, r.id) for r in by_check["change_approval_segregated"]}
    assert {("nist-800-53", "CM-3"), ("iso27001", "8.32")} <= cm3
    frame = mapping_frame(fws)
    assert set(frame["framework"]) == {"nist-800-53", "iso27001"}
    assert len(frame) == sum(len(r.checks) for fw in fws.values() for r in fw.requirements)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pass", "pass"], "pass"),
        (["pass", "not_applicable"], "pass"),
        (["pass", "fail", "indeterminate"], "fail"),
        (["pass", "indeterminate"], "not_evidenced"),
        (["not_applicable"], "not_evidenced"),
        ([], "not_evidenced"),
    ],
)
def test_requirement_status_never_passes_on_missing_evidence(statuses, expected):
    assert requirement_status(statuses) == expected


def test_rollup_with_evidence_rows():
    fws = {"nist-800-53": load_framework("nist-800-53")}
    findings = FINDINGS.frame(
        [
            {"check_id": "chain_not_bogus", "zone": "a.test", "status": "pass"},
            {"check_id": "chain_not_bogus", "zone": "b.test", "status": "fail"},
            {"check_id": "authoritative_servers_answer", "zone": "a.test", "status": "pass"},
            {"check_id": "roles_assigned", "zone": "(portfolio)", "status": "indeterminate"},
        ]
    )
    req, ev = rollup(findings, fws)
    r = req.set_index("requirement_id")
    assert r.loc["SC-20", "status"] == "fail" and r.loc["SC-20", "failing_zones"] == "b.test"
    assert (r.loc["SC-20", "passed"], r.loc["SC-20", "failed"]) == (1, 1)
    assert r.loc["SC-22", "status"] == "pass"
    assert r.loc["SC-1", "status"] == "not_evidenced"
    assert r.loc["IR-4", "status"] == "not_evidenced"  # no finding at all
    sc20 = ev[ev["requirement_id"] == "SC-20"]
    assert set(zip(sc20["zone"], sc20["status"], strict=True)) == {
        ("a.test", "pass"),
        ("b.test", "fail"),
    }


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("title: x\nrequirements: {A: {title: t, checks: [c]}}\n", "framework"),
        ("framework: f\ntitle: x\nrequirements: {A: {title: t, checks: []}}\n",
         "requirements.A.checks"),
        ("framework: f\ntitle: x\nrequirements: {A: {checks: [c], owner: me}}\n",
         "requirements.A"),
        ("framework: f\ntitle: x\nrequirements: []\n", "requirements"),
        ("framework: f\ntitle: x\ncolour: red\nrequirements: {A: {title: t, checks: [c]}}\n",
         "colour"),
    ],
)  # fmt: skip
def test_bad_framework_file(tmp_path, text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(InputError) as info:
        load_framework(path)
    assert str(info.value).startswith(str(path))
    assert field in [p.column for p in info.value.problems]


def test_unknown_framework():
    with pytest.raises(InputError, match="known frameworks: iso27001, soc2"):
        load_framework("pci-dss")
