"""inventory.csv loading: the sample portfolio, and one clear error per kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.errors import InputError, Problem
from toolkit.inputs.inventory import ACCEPTED_COLUMNS, load_inventory, normalize_zone
from toolkit.schemas import INVENTORY

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample-portfolio" / "inventory.csv"

HEADER = "zone,owner,risk_tier,expected_signed,last_reviewed"


def write(tmp_path: Path, text: str, name: str = "inventory.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_inventory(path)
    return info.value


# --- the sample portfolio -------------------------------------------------------------------


def test_sample_loads_with_schema_dtypes():
    df = load_inventory(SAMPLE)
    assert len(df) == 14
    assert list(df.columns) == INVENTORY.names
    for column in INVENTORY.columns:
        assert str(df[column.name].dtype) == column.dtype, column.name
    INVENTORY.check(df)


def test_sample_zones_in_file_order_and_idn():
    df = load_inventory(str(SAMPLE))  # a str path works too
    assert list(df["zone"]) == [
        "corp.test",
        "payments.test",
        "xn--bcher-kva.test",
        "shop.test",
        "brand.test",
        "legacy.test",
        "events.test",
        "intranet.test",
        "marketing.test",
        "old-campaign.test",
        "api.test",
        "partners.test",
        "support.test",
        "careers.test",
    ]
    row = df.set_index("zone").loc["xn--bcher-kva.test"]
    assert row["zone_unicode"] == "bücher.test"
    assert list(df["source_line"]) == list(range(2, 16))


def test_sample_values():
    df = load_inventory(SAMPLE).set_index("zone")
    assert pd.isna(df.loc["marketing.test", "owner"])  # the governance gap
    assert df.loc["intranet.test", "expected_signed"] == False  # noqa: E712
    assert df["expected_signed"].sum() == 12
    assert df.loc["corp.test", "risk_tier"] == 1
    assert df.loc["events.test", "risk_tier"] == 3
    assert set(df["policy"]) == {"standard"}
    assert df["last_reviewed"].dt.year.eq(2026).all()
    assert df.loc["corp.test", "owner"]
    assert df.loc["payments.test", "owner"] == "Payments Platform Team"


# --- good but unusual input -----------------------------------------------------------------


def test_only_zone_column_is_required_and_defaults(tmp_path):
    df = load_inventory(write(tmp_path, "zone\nCorp.Test.\n  b.test  \n"))
    assert list(df["zone"]) == ["corp.test", "b.test"]
    assert df["expected_signed"].tolist() == [True, True]
    assert df["owner"].isna().all()
    assert df["risk_tier"].isna().all()
    assert df["last_reviewed"].isna().all()
    assert str(df["risk_tier"].dtype) == "Int64"


def test_bom_blank_lines_and_quoted_values(tmp_path):
    text = (
        "\ufeffzone,owner,expected_signed,risk_tier,last_reviewed\n"
        "\n"
        'a.test,"Team, with comma",No,,2026-01-02\n'
        ",,,,\n"
        "b.test,  ,YES,2,2026-03-04T10:00:00+02:00\n"
    )
    df = load_inventory(write(tmp_path, text))
    assert list(df["zone"]) == ["a.test", "b.test"]
    assert list(df["source_line"]) == [3, 5]
    assert df.loc[0, "owner"] == "Team, with comma"
    assert pd.isna(df.loc[1, "owner"])
    assert df["expected_signed"].tolist() == [False, True]
    assert pd.isna(df.loc[0, "risk_tier"]) and df.loc[1, "risk_tier"] == 2
    assert df.loc[0, "last_reviewed"] == pd.Timestamp("2026-01-02", tz="UTC")
    assert df.loc[1, "last_reviewed"] == pd.Timestamp("2026-03-04T08:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("raw", "a_label", "u_label"),
    [
        ("bücher.test", "xn--bcher-kva.test", "bücher.test"),
        ("BÜCHER.TEST.", "xn--bcher-kva.test", "bücher.test"),
        ("xn--bcher-kva.test", "xn--bcher-kva.test", "bücher.test"),
        ("Corp.test.", "corp.test", "corp.test"),
        ("straße.test", "xn--strae-oqa.test", "straße.test"),
    ],
)
def test_normalize_zone(raw, a_label, u_label):
    assert normalize_zone(raw) == (a_label, u_label)


# --- bad input: one clear error each ----------------------------------------------------------


def assert_names(err: InputError, path: Path, *parts: str) -> None:
    text = str(err)
    assert text.startswith(str(path)), text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


BAD_ZONES = [
    ("", "the name is empty"),
    ("a..b.test", "empty label"),
    ("a" * 64 + ".test", "64 octets long; at most 63"),
    (".".join(["a" * 60] * 5), "at most 253"),
    ("a_b.test", "underscore"),
    ("-a.test", "hyphen"),
    ("a-.test", "hyphen"),
    ("ex ample.test", "whitespace"),
    ("a*b.test", "character '*'"),
    ("xn--zz.test", "not valid punycode"),
    ("💩.test", "not allowed"),
]


@pytest.mark.parametrize(("zone", "why"), BAD_ZONES)
def test_invalid_domain_name(tmp_path, zone, why):
    path = write(tmp_path, f"zone,owner\nok.test,x\n{zone},y\n")
    err = load_error(path)
    assert (err.line, err.column) == (3, "zone")
    assert_names(err, path, "line 3", "column 'zone'", "not a valid domain name", why)


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        pytest.param(
            "owner,risk_tier\nTeam,1\n",
            1,
            "zone",
            ["required column 'zone' is missing", "'owner', 'risk_tier'"],
            id="missing-zone-column",
        ),
        pytest.param(
            "zone,owner\ncorp.test,a\nb.test,b\nCorp.test.,c\n",
            4,
            "zone",
            ["'corp.test' is listed twice", "line 2", "line 4"],
            id="duplicate-zone",
        ),
        pytest.param(
            f"{HEADER}\na.test,x,4,true,2026-01-01\n",
            2,
            "risk_tier",
            ["found '4'", "expected 1, 2 or 3"],
            id="unknown-risk-tier",
        ),
        pytest.param(
            f"{HEADER}\na.test,x,high,true,2026-01-01\n",
            2,
            "risk_tier",
            ["found 'high'", "expected 1, 2 or 3"],
            id="risk-tier-text",
        ),
        pytest.param(
            f"{HEADER}\na.test,x,1,true,01/02/2026\n",
            2,
            "last_reviewed",
            ["found '01/02/2026'", "YYYY-MM-DD"],
            id="unreadable-date",
        ),
        pytest.param(
            f"{HEADER}\na.test,x,1,true,2026-02-30\n",
            2,
            "last_reviewed",
            ["found '2026-02-30'", "YYYY-MM-DD"],
            id="impossible-date",
        ),
        pytest.param(
            f"{HEADER}\na.test,x,1,maybe,\n",
            2,
            "expected_signed",
            ["found 'maybe'", "true/false, yes/no or 1/0"],
            id="bad-expected-signed",
        ),
        pytest.param(
            "zone,owner,colour\na.test,x,red\n",
            1,
            "colour",
            ["unknown column 'colour'", "accepted columns: " + ", ".join(ACCEPTED_COLUMNS)],
            id="unknown-column",
        ),
        pytest.param(
            "zone,Owner\na.test,x\n",
            1,
            "Owner",
            ["unknown column 'Owner'", "did you mean 'owner'"],
            id="unknown-column-case",
        ),
        pytest.param(
            "zone,owner,zone\na.test,x,b.test\n",
            1,
            "zone",
            ["column 'zone' appears more than once"],
            id="duplicate-column",
        ),
        pytest.param(
            "zone,owner\na.test,x\nb.test,Smith, John\n",
            3,
            None,
            ["3 fields found, 2 expected", "double quotes"],
            id="ragged-row-long",
        ),
        pytest.param(
            "zone,owner,risk_tier\na.test,x\n",
            2,
            None,
            ["2 fields found, 3 expected"],
            id="ragged-row-short",
        ),
        pytest.param(
            'zone,owner\na.test,"unclosed\n',
            2,
            None,
            ["malformed CSV"],
            id="unclosed-quote",
        ),
    ],
)
def test_bad_inventory(tmp_path, text, line, column, expected):
    path = write(tmp_path, text)
    err = load_error(path)
    assert err.line == line
    assert err.column == column
    where = f"line {line}" + (f", column '{column}'" if column else "")
    assert_names(err, path, where, *expected)


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    err = load_error(path)
    assert_names(err, path, "no header row")


def test_blank_only_file(tmp_path):
    path = write(tmp_path, "\n\n  \n")
    assert_names(load_error(path), path, "no header row")


def test_header_without_rows(tmp_path):
    path = write(tmp_path, "zone,owner\n\n")
    assert_names(load_error(path), path, "no data rows")


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "inventory.csv"
    err = load_error(path)
    assert_names(err, path, "file not found")


def test_not_utf8(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_bytes("zone,owner\nb\xfccher.test,x\n".encode("latin-1"))
    err = load_error(path)
    assert err.line == 2
    assert_names(err, path, "line 2", "UTF-8")


def test_quoted_multiline_value_keeps_line_numbers(tmp_path):
    text = 'zone,owner\na.test,"two\nlines"\nb.test,x\nbad_zone.test,y\n'
    err = load_error(write(tmp_path, text))
    assert (err.line, err.column) == (5, "zone")


def test_multiple_problems_in_one_error(tmp_path):
    text = (
        f"{HEADER}\n"
        "good.test,x,1,true,2026-01-01\n"
        "a..b,x,1,true,2026-01-01\n"  # line 3: zone
        "c.test,x,7,perhaps,yesterday\n"  # line 4: three problems
        "\n"
        "GOOD.test,x,1,true,\n"  # line 6: duplicate of line 2
        "d.test,x\n"  # line 7: ragged
    )
    path = write(tmp_path, text)
    err = load_error(path)
    found = [(p.line, p.column) for p in err.problems]
    assert found == [
        (3, "zone"),
        (4, "risk_tier"),
        (4, "expected_signed"),
        (4, "last_reviewed"),
        (6, "zone"),
        (7, None),
    ]
    assert err.line is None and err.column is None
    lines = str(err).splitlines()
    assert lines[0] == f"{path}: 6 problems found:"
    assert lines[1].strip().startswith("line 3, column 'zone': 'a..b' is not a valid domain name")
    assert "line 2 and on line 6" in lines[5]
    assert len(lines) == 7


def test_unknown_column_still_checks_rows(tmp_path):
    path = write(tmp_path, "zone,colour\na.test,red\nb..test,blue\n")
    err = load_error(path)
    assert [(p.line, p.column) for p in err.problems] == [(1, "colour"), (3, "zone")]


def test_problem_listing_is_capped(tmp_path):
    rows = "".join(f"z{i}..test\n" for i in range(60))
    err = load_error(write(tmp_path, "zone\n" + rows))
    assert len(err.problems) == 60
    text = str(err)
    assert text.splitlines()[-1].strip() == "... and 10 more"
    assert len(text.splitlines()) == 1 + InputError.MAX_LISTED + 1


def test_input_error_single_form_still_works():
    err = InputError("x.csv", "bad thing", line=3, column="zone")
    assert str(err) == "x.csv, line 3, column 'zone': bad thing"
    assert (err.path, err.line, err.column, err.detail) == ("x.csv", 3, "zone", "bad thing")
    assert err.problems == [Problem(3, "zone", "bad thing")]
    assert str(InputError("x.csv", "gone")) == "x.csv: gone"


# --- names beyond the apex (issue 11) --------------------------------------------------------


def test_names_column_is_normalised_and_optional(tmp_path):
    path = write(
        tmp_path,
        'zone,names\nexample.test,"www; Mail ;_dmarc;@;bücher;_25._tcp.mail"\nother.test,\n',
    )
    df = load_inventory(path)
    assert list(df["names"]) == [
        "www;mail;_dmarc;@;xn--bcher-kva;_25._tcp.mail",
        pd.NA,
    ]
    old = load_inventory(write(tmp_path, "zone\nexample.test\n", "old.csv"))
    assert old["names"].isna().all()  # an inventory without the column keeps working


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("www;;mail", "two ';' in a row"),
        ("www.example.test.", "expected a name relative to the zone"),
        ("*.shop", "is a wildcard"),
        ("a..b", "empty label"),
        ("www;WWW", "listed twice"),
        ("-web", "must not start or end with a hyphen"),
        (";".join(f"n{i}" for i in range(21)), "21 names listed; at most 20 per zone"),
        ("x" * 64, "at most 63 allowed"),
        ("a." * 120 + "b", "at most 253 allowed"),
    ],
)
def test_bad_names_one_clear_problem(tmp_path, cell, expected):
    err = load_error(write(tmp_path, f'zone,names\nok.test,www\nexample.test,"{cell}"\n'))
    assert len(err.problems) == 1
    problem = err.problems[0]
    assert (problem.line, problem.column) == (3, "names")
    assert expected in problem.message
