"""The governance record files and policy.yaml's governance sections: the sample loads, a
missing file is "not evidenced", and every kind of bad record gives one clear error naming the
file, the line and the column."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from toolkit.checks import check_ids
from toolkit.errors import InputError
from toolkit.inputs.governance import RECORD_SPECS, load_records
from toolkit.inputs.governance.keys import load_keys
from toolkit.inputs.maturity_settings import DEFAULT_GATES
from toolkit.inputs.policy import load_policies
from toolkit.inputs.policy_settings import Settings
from toolkit.inputs.portfolio import load_portfolio

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample-portfolio"
TEMPLATES = ROOT / "data" / "templates"


def sample_copy(tmp_path: Path) -> Path:
    target = tmp_path / "portfolio"
    shutil.copytree(SAMPLE, target)
    return target


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- good records ------------------------------------------------------------------------------


def test_sample_records_load_with_their_schemas():
    portfolio = load_portfolio(SAMPLE)
    records = load_records(SAMPLE, set(portfolio.inventory["zone"]))
    assert set(records.frames) == set(RECORD_SPECS)
    assert records.missing == []
    for kind, frame in records.frames.items():
        schema = RECORD_SPECS[kind].schema
        schema.check(frame)
        assert list(frame.dtypes.astype(str)) == list(schema.empty().dtypes.astype(str)), kind
    keys = records.get("keys")
    assert keys["zone"].str.contains("xn--bcher-kva.test").any()  # IDN normalised
    assert len(records.get("registrars")) == 2


def test_templates_are_valid_empty_records():
    for spec in RECORD_SPECS.values():
        frame = load_records(TEMPLATES).get(spec.name)
        assert frame is not None and frame.empty, spec.filename
    assert load_policies(TEMPLATES / "policy.yaml").names


def test_missing_files_are_not_evidenced(tmp_path):
    directory = sample_copy(tmp_path)
    for name in ("keys.csv", "drills.csv"):
        (directory / name).unlink()
    records = load_records(directory)
    assert records.get("keys") is None and records.get("drills") is None
    assert records.missing == ["keys.csv", "drills.csv"]


def test_header_only_file_is_an_empty_record(tmp_path):
    path = write(tmp_path / "keys.csv", "zone,key_tag,role\n")
    frame = load_keys(path)
    assert frame.empty and list(frame.columns) == RECORD_SPECS["keys"].schema.names


# --- bad records -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        pytest.param(
            "keys.csv",
            "zone,key_tag,role\ncorp.test,70000,ksk\n",
            [(2, "key_tag", "expected a whole number from 0 to 65535")],
            id="key-tag-out-of-range",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag,role,storage\ncorp.test,1,ksk,cloud\n",
            [(2, "storage", "expected one of: hsm, offline, online")],
            id="unknown-storage",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag,role,created,activated\ncorp.test,1,ksk,2026-05-01,2026-04-01\n",
            [(2, "activated", "activated (2026-04-01) is before created (2026-05-01)")],
            id="dates-out-of-order",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag,role\ncorp.test,1,ksk\ncorp.test,1,zsk\n",
            [(3, "zone", "zone 'corp.test', key_tag '1' is listed twice: on line 2 and on line 3")],
            id="duplicate-key",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag\ncorp.test,1\n",
            [(1, "role", "required column 'role' is missing")],
            id="missing-required-column",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag,role,colour\ncorp.test,1,ksk,red\n",
            [(1, "colour", "unknown column 'colour'; accepted columns: zone, key_tag")],
            id="unknown-column",
        ),
        pytest.param(
            "keys.csv",
            "zone,key_tag,role\nnowhere.test,1,ksk\n",
            [(2, "zone", "zone 'nowhere.test' is not in the inventory")],
            id="zone-not-in-inventory",
        ),
        pytest.param(
            "changes.csv",
            "ticket,zone,action\nCHG-1,corp.test,reboot\n",
            [(2, "action", "expected one of: zsk_rollover, ksk_rollover, ds_publish")],
            id="unknown-action",
        ),
        pytest.param(
            "changes.csv",
            "ticket,zone,action\nCHG-1,,ksk_rollover\n",
            [(2, "zone", "a value is required for a ksk_rollover ticket")],
            id="ticket-without-zone",
        ),
        pytest.param(
            "changes.csv",
            "ticket,zone,action,approved_at\nCHG-1,corp.test,sign,yesterday\n",
            [(2, "approved_at", "expected an ISO 8601 date YYYY-MM-DD")],
            id="bad-time",
        ),
        pytest.param(
            "drills.csv",
            "date,scenario,outcome\n2026-01-01,rollback,great\n",
            [(2, "outcome", "expected one of: passed, partial, failed, missed")],
            id="bad-outcome",
        ),
        pytest.param(
            "drills.csv",
            "date,scenario,outcome,zones\n2026-01-01,rollback,passed,corp.test;nowhere.test\n",
            [(2, "zones", "zone 'nowhere.test' is not in the inventory")],
            id="drill-zone-unknown",
        ),
        pytest.param(
            "incidents.csv",
            "incident,opened_at,resolved_at\nINC-1,2026-02-02,2026-02-01\n",
            [(2, "resolved_at", "is before opened_at")],
            id="resolved-before-opened",
        ),
        pytest.param(
            "registrars.csv",
            "registrar,sla_hours\nLab Registrar,-4\n",
            [(2, "sla_hours", "expected a number above 0")],
            id="negative-sla",
        ),
        pytest.param(
            "exceptions.csv",
            "exception,zone,scope,expires\nRA-1,marketing.test,unsigned,\n",
            [(2, "expires", "a value is required")],
            id="acceptance-without-expiry",
        ),
        pytest.param(
            "exceptions.csv",
            "exception,zone,scope,expires\nRA-1,marketing.test,unsigned,2026-01-01\n"
            "RA-1,intranet.test,unsigned,2026-01-01\n",
            [(3, "exception", "exception 'RA-1' is listed twice: on line 2 and on line 3")],
            id="duplicate-acceptance",
        ),
    ],
)
def test_bad_record_gives_a_clear_error(tmp_path, filename, text, expected):
    directory = sample_copy(tmp_path)
    path = write(directory / filename, text)
    zones = set(load_portfolio(directory).inventory["zone"])
    with pytest.raises(InputError) as info:
        load_records(directory, zones)
    err = info.value
    assert err.path == str(path)
    assert str(err).startswith(str(path))
    found = [(p.line, p.column) for p in err.problems]
    assert found == [(line, column) for line, column, _ in expected], str(err)
    for problem, (_, _, words) in zip(err.problems, expected, strict=True):
        assert words in problem.message, problem.message


def test_every_problem_of_a_file_in_one_error(tmp_path):
    path = write(
        tmp_path / "keys.csv",
        "zone,key_tag,role,storage\ncorp.test,x,ksk,hsm\nb.test,2,pilot,cloud\nc.test,3\n",
    )
    with pytest.raises(InputError) as info:
        load_keys(path)
    assert [(p.line, p.column) for p in info.value.problems] == [
        (2, "key_tag"),
        (3, "role"),
        (3, "storage"),
        (4, None),
    ]
    assert str(info.value).startswith(f"{path}: 4 problems found:\n")


# --- policy.yaml governance sections -------------------------------------------------------


POLICY = """\
format_version: 1
policies:
  standard:
    allowed_algorithms: [13]
    zsk_lifetime_days: 90
    ksk_lifetime_days: 365
    min_rrsig_validity_days: 5
"""


def test_absent_sections_take_documented_defaults_and_facts_are_not_evidenced(tmp_path):
    policies = load_policies(write(tmp_path / "policy.yaml", POLICY))
    s = policies.settings
    assert s == Settings()
    assert s.policy_owner is None and s.last_review is None and s.roles == {}
    assert s.alerts.coverage_max_age_days == 7 and s.drills.cadence_days == 365
    assert dict(s.maturity.pillar_weights) == {
        "technical": 0.40,
        "operational": 0.35,
        "governance": 0.25,
    }
    assert s.maturity.levels == (40, 60, 75, 90)
    assert s.maturity.gates == DEFAULT_GATES
    standard = policies.get("standard")
    assert standard.ksk_storage == ("hsm", "offline") and standard.cds_automation is False
    assert standard.lifetime_days("csk") == 365


def test_sample_policy_carries_the_governance_facts():
    s = load_policies(SAMPLE / "policy.yaml").settings
    assert s.policy_owner and s.last_review == pd.Timestamp("2026-06-15", tz="UTC")
    assert set(s.roles) == {"zone_administrator", "security_lead", "registrar_liaison"}
    assert s.drills.scenarios == (
        "ksk_emergency_rollover",
        "bogus_zone_rollback",
        "registrar_ds_change",
    )
    assert {"roles", "policy_owner", "maturity"} <= s.given


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        pytest.param("last_review: soon\n", "last_review", "expected an ISO 8601 date", id="date"),
        pytest.param("roles:\n  chief: me\n", "roles.chief", "unknown key 'chief'", id="role"),
        pytest.param(
            "drills:\n  cadence_days: -1\n", "drills.cadence_days", "above 0", id="cadence"
        ),
        pytest.param(
            "maturity:\n  levels: [40, 30, 75, 90]\n",
            "maturity.levels",
            "4 increasing scores",
            id="levels",
        ),
        pytest.param(
            "maturity:\n  pillar_weights: {technical: -1}\n",
            "maturity.pillar_weights.technical",
            "expected a weight",
            id="weight",
        ),
        pytest.param(
            "maturity:\n  indicator_weights: {luck: 2}\n",
            "maturity.indicator_weights.luck",
            "unknown name 'luck'",
            id="indicator",
        ),
        pytest.param(
            "maturity:\n  gates:\n    - {id: g, when: check_fails, checks: [nope], max_level: 2}\n",
            "maturity.gates.[0].checks",
            "unknown check id(s) nope",
            id="gate-check",
        ),
        pytest.param(
            "maturity:\n  gates:\n    - {id: g, when: zone_status, max_level: 9}\n",
            "maturity.gates.[0].max_level",
            "expected a level 1 to 5",
            id="gate-level",
        ),
        pytest.param(
            "alerts:\n  pager: on\n", "alerts.pager", "unknown key 'pager'", id="alert-key"
        ),
    ],
)
def test_bad_governance_section_names_field_and_line(tmp_path, extra, field, words):
    path = write(tmp_path / "policy.yaml", POLICY + extra)
    with pytest.raises(InputError) as info:
        load_policies(path, check_ids())
    err = info.value
    assert [p.column for p in err.problems] == [field], str(err)
    key_line = next(i for i, text in enumerate(extra.splitlines()) if field.split(".")[-1] in text)
    assert err.problems[0].line == len(POLICY.splitlines()) + 1 + key_line
    assert words in str(err)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("ksk_storage", "[cloud]", "expected a non-empty list of: hsm, offline, online"),
        ("denial", "nsec5", "expected one of nsec, nsec3"),
        ("cds_automation", "maybe", "expected true or false"),
        ("ds_digest_types", "[]", "expected a non-empty list of whole numbers"),
        ("dnskey_ttl", "-5", "expected a whole number, 0 or more"),
    ],
)
def test_bad_policy_extra_key(tmp_path, key, value, words):
    path = write(tmp_path / "policy.yaml", POLICY + f"    {key}: {value}\n")
    with pytest.raises(InputError) as info:
        load_policies(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (8, f"policies.standard.{key}")
    assert words in problem.message
