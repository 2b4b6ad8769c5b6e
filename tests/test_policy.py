"""policy.yaml loading and the portfolio cross-check with inventory.csv."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from toolkit.errors import InputError
from toolkit.inputs.policy import (
    POLICIES,
    POLICY_KEYS,
    PolicySet,
    SigningPolicy,
    load_policies,
)
from toolkit.inputs.portfolio import Portfolio, load_portfolio

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "sample-portfolio"

GOOD = """\
format_version: 1
default_policy: standard
policies:
  standard:
    description: Baseline
    allowed_algorithms: [13, 15, 8]
    zsk_lifetime_days: 90
    ksk_lifetime_days: 365
    min_rrsig_validity_days: 5
  strict:
    allowed_algorithms: [13]
    zsk_lifetime_days: 30
    ksk_lifetime_days: 180
    min_rrsig_validity_days: 7.5
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_policies(path)
    return info.value


def assert_names(err: InputError, path: Path, *parts: str) -> None:
    text = str(err)
    assert text.startswith(str(path)), text
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"


# --- good files -----------------------------------------------------------------------------


def test_sample_policy_loads():
    policies = load_policies(SAMPLE_DIR / "policy.yaml")
    assert policies.names == ["standard"]
    assert policies.default == "standard"
    standard = policies.get("standard")
    assert standard == policies.get(None)
    assert standard is not None
    assert standard.allowed_algorithms == (13, 15, 14, 16, 8)
    assert standard.zsk_lifetime_days == 90
    assert standard.ksk_lifetime_days == 365
    assert standard.min_rrsig_validity_days == 5.0
    assert standard.description
    assert standard.allows(13) and not standard.allows(5)


def test_two_policies_and_frame(tmp_path):
    policies = load_policies(write(tmp_path, GOOD))
    assert len(policies) == 2 and "strict" in policies
    strict = policies.get("strict")
    assert strict == SigningPolicy("strict", "", (13,), 30, 180, 7.5)
    assert policies.get("unknown") is None
    df = policies.to_frame()
    assert list(df.columns) == POLICIES.names
    for column in POLICIES.columns:
        assert str(df[column.name].dtype) == column.dtype, column.name
    assert df["name"].tolist() == ["standard", "strict"]
    assert df["allowed_algorithms"].tolist() == ["13;15;8", "13"]
    assert df["is_default"].tolist() == [True, False]


def test_no_default_policy(tmp_path):
    text = GOOD.replace("default_policy: standard\n", "")
    policies = load_policies(write(tmp_path, text))
    assert policies.default is None
    assert policies.get(None) is None


def test_empty_policy_set():
    empty = PolicySet()
    assert len(empty) == 0
    assert empty.get(None) is None and empty.get("standard") is None
    df = empty.to_frame()
    assert df.empty and list(df.columns) == POLICIES.names


# --- bad files --------------------------------------------------------------------------------


def replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "field", "expected"),
    [
        pytest.param(
            replace("format_version: 1\n", ""),
            None,
            "format_version",
            ["required key 'format_version' is missing"],
            id="missing-format-version",
        ),
        pytest.param(
            replace("format_version: 1", "format_version: 2"),
            1,
            "format_version",
            ["format version 2 is not supported", "version 1"],
            id="wrong-format-version",
        ),
        pytest.param(
            replace("format_version: 1", "format_version: '1'"),
            1,
            "format_version",
            ["expected 1, found '1' (text)"],
            id="format-version-text",
        ),
        pytest.param(
            replace("default_policy: standard", "default_policy: gold"),
            2,
            "default_policy",
            ["'gold' names no policy", "'standard', 'strict'"],
            id="default-names-no-policy",
        ),
        pytest.param(
            replace("format_version: 1\n", "format_version: 1\nowner: me\n"),
            2,
            "owner",
            ["unknown top-level key 'owner'", "format_version, default_policy, policies"],
            id="unknown-top-level-key",
        ),
        pytest.param(
            replace("    zsk_lifetime_days: 90\n", "    zsk_lifetime_days: 90\n    nsec3: on\n"),
            8,
            "policies.standard.nsec3",
            ["unknown policy key 'nsec3'", "accepted keys: " + ", ".join(POLICY_KEYS)],
            id="unknown-policy-key",
        ),
        pytest.param(
            replace("    zsk_lifetime_days: 90\n", ""),
            4,
            "policies.standard.zsk_lifetime_days",
            ["required key 'zsk_lifetime_days' is missing from policies.standard"],
            id="missing-policy-key",
        ),
        pytest.param(
            replace("zsk_lifetime_days: 90", "zsk_lifetime_days: -3"),
            7,
            "policies.standard.zsk_lifetime_days",
            ["expected a whole number of days above 0, found -3"],
            id="negative-lifetime",
        ),
        pytest.param(
            replace("ksk_lifetime_days: 365", "ksk_lifetime_days: 365.5"),
            8,
            "policies.standard.ksk_lifetime_days",
            ["expected a whole number of days above 0, found 365.5 (a decimal number)"],
            id="fractional-lifetime",
        ),
        pytest.param(
            replace("ksk_lifetime_days: 365", "ksk_lifetime_days: a year"),
            8,
            "policies.standard.ksk_lifetime_days",
            ["found 'a year' (text)"],
            id="text-lifetime",
        ),
        pytest.param(
            replace("min_rrsig_validity_days: 5", "min_rrsig_validity_days: -1"),
            9,
            "policies.standard.min_rrsig_validity_days",
            ["expected a number of days, 0 or more, found -1"],
            id="negative-min-validity",
        ),
        pytest.param(
            replace("min_rrsig_validity_days: 5", "min_rrsig_validity_days: .nan"),
            9,
            "policies.standard.min_rrsig_validity_days",
            ["expected a number of days, 0 or more"],
            id="nan-min-validity",
        ),
        pytest.param(
            replace("allowed_algorithms: [13, 15, 8]", "allowed_algorithms: [13, 300, x]"),
            6,
            "policies.standard.allowed_algorithms",
            ["1 to 255", "item 2 is 300", "item 3 is 'x' (text)"],
            id="algorithm-out-of-range",
        ),
        pytest.param(
            replace("allowed_algorithms: [13, 15, 8]", "allowed_algorithms: 13"),
            6,
            "policies.standard.allowed_algorithms",
            ["expected a non-empty list", "found 13 (a whole number)"],
            id="algorithms-not-a-list",
        ),
        pytest.param(
            replace("allowed_algorithms: [13, 15, 8]", "allowed_algorithms: []"),
            6,
            "policies.standard.allowed_algorithms",
            ["expected a non-empty list"],
            id="algorithms-empty",
        ),
        pytest.param(
            replace("allowed_algorithms: [13, 15, 8]", "allowed_algorithms: [13, true]"),
            6,
            "policies.standard.allowed_algorithms",
            ["item 2 is true (a boolean)"],
            id="algorithm-boolean",
        ),
        pytest.param(
            replace("allowed_algorithms: [13, 15, 8]", "allowed_algorithms: [13, 13]"),
            6,
            "policies.standard.allowed_algorithms",
            ["13 listed more than once"],
            id="algorithm-twice",
        ),
        pytest.param(
            replace("    zsk_lifetime_days: 90\n", "    zsk_lifetime_days: 90\n" * 2),
            8,
            "policies.standard.zsk_lifetime_days",
            ["key given twice (first on line 7)"],
            id="duplicate-key",
        ),
        pytest.param(
            "format_version: 1\npolicies: {}\n",
            2,
            "policies",
            ["no policies"],
            id="no-policies",
        ),
        pytest.param(
            "format_version: 1\npolicies: [standard]\n",
            2,
            "policies",
            ["expected a mapping of policy names to policies, found a list"],
            id="policies-not-a-mapping",
        ),
        pytest.param(
            "format_version: 1\npolicies:\n  standard: 90\n",
            3,
            "policies.standard",
            ["expected a mapping of policy settings", "found 90"],
            id="policy-not-a-mapping",
        ),
        pytest.param(
            "format_version: 1\npolicies:\n  standard:\n    zsk_lifetime_days: 90\n   bad: x\n",
            5,
            None,
            ["not valid YAML", "expected <block end>"],
            id="invalid-yaml",
        ),
        pytest.param(
            "format_version: 1\npolicies:\n\tstandard: {}\n",
            3,
            None,
            ["not valid YAML", "'\\t'"],
            id="yaml-tab",
        ),
        pytest.param(
            "- format_version: 1\n",
            1,
            None,
            ["expected a mapping with format_version and policies, found a list"],
            id="top-level-list",
        ),
    ],
)
def test_bad_policy_file(tmp_path, text, line, field, expected):
    path = write(tmp_path, text)
    err = load_error(path)
    assert len(err.problems) == 1, str(err)
    assert err.line == line
    assert err.column == field
    where = ", ".join(
        part
        for part in (f"line {line}" if line else "", f"field '{field}'" if field else "")
        if part
    )
    assert_names(err, path, where, *expected)


def test_all_problems_in_one_error(tmp_path):
    text = GOOD.replace("zsk_lifetime_days: 90", "zsk_lifetime_days: 0").replace(
        "min_rrsig_validity_days: 7.5", "min_rrsig_validity_days: soon\n    colour: red"
    )
    path = write(tmp_path, text)
    err = load_error(path)
    assert [(p.line, p.column) for p in err.problems] == [
        (7, "policies.standard.zsk_lifetime_days"),
        (14, "policies.strict.min_rrsig_validity_days"),
        (15, "policies.strict.colour"),
    ]
    assert str(err).startswith(f"{path}: 3 problems found:\n")


def test_empty_policy_file(tmp_path):
    path = write(tmp_path, "# nothing yet\n")
    assert_names(load_error(path), path, "the file is empty")


def test_missing_policy_file(tmp_path):
    path = tmp_path / "policy.yaml"
    assert_names(load_error(path), path, "file not found")


def test_unsafe_yaml_is_rejected(tmp_path):
    path = write(tmp_path, "format_version: !!python/object/apply:os.getcwd []\n")
    assert_names(load_error(path), path, "line 1", "not valid YAML")


# --- the portfolio: inventory.csv + policy.yaml ---------------------------------------------


def copy_sample(tmp_path: Path) -> Path:
    target = tmp_path / "portfolio"
    shutil.copytree(SAMPLE_DIR, target)
    return target


def test_sample_portfolio_loads():
    portfolio = load_portfolio(SAMPLE_DIR)
    assert isinstance(portfolio, Portfolio)
    assert portfolio.directory == SAMPLE_DIR
    assert len(portfolio.inventory) == 14
    assert portfolio.has_policy_file
    standard = portfolio.policies.get("standard")
    assert portfolio.policy_for("corp.test") == standard
    assert portfolio.policy_for("Bücher.test.") == standard
    with pytest.raises(KeyError):
        portfolio.policy_for("unknown.test")


def test_unknown_policy_name_in_inventory(tmp_path):
    directory = copy_sample(tmp_path)
    inventory = directory / "inventory.csv"
    lines = inventory.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(",standard,", ",gold,")  # line 4 of the file
    lines[6] = lines[6].replace(",standard,", ",platinum,")  # line 7
    inventory.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_portfolio(directory)
    err = info.value
    assert err.path == str(inventory)
    assert [(p.line, p.column) for p in err.problems] == [(4, "policy"), (7, "policy")]
    text = str(err)
    assert text.startswith(str(inventory))
    assert "line 4, column 'policy': policy 'gold' is not defined in policy.yaml" in text
    assert "expected one of: 'standard'" in text


def test_empty_policy_column_uses_default(tmp_path):
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "inventory.csv").write_text("zone,policy\na.test,\nb.test,strict\n")
    write(directory, GOOD)
    portfolio = load_portfolio(directory)
    assert portfolio.policy_for("a.test").name == "standard"
    assert portfolio.policy_for("b.test").name == "strict"


def test_missing_policy_file_means_not_evidenced(tmp_path):
    directory = copy_sample(tmp_path)
    (directory / "policy.yaml").unlink()
    portfolio = load_portfolio(directory)
    assert len(portfolio.policies) == 0
    assert not portfolio.has_policy_file
    assert portfolio.policies.to_frame().empty
    assert portfolio.policy_for("corp.test") is None
    assert len(portfolio.inventory) == 14


def test_missing_inventory(tmp_path):
    directory = copy_sample(tmp_path)
    (directory / "inventory.csv").unlink()
    with pytest.raises(InputError) as info:
        load_portfolio(directory)
    assert str(info.value).startswith(str(directory / "inventory.csv"))
    assert "file not found" in str(info.value)


def test_missing_directory(tmp_path):
    with pytest.raises(InputError, match="directory not found"):
        load_portfolio(tmp_path / "nowhere")


def test_invalid_policy_file_in_portfolio(tmp_path):
    directory = copy_sample(tmp_path)
    write(directory, GOOD.replace("format_version: 1", "format_version: 3"))
    with pytest.raises(InputError) as info:
        load_portfolio(directory)
    assert info.value.path == str(directory / "policy.yaml")


# --- the collector's politeness caps (issue 10) ----------------------------------------------


def test_collector_section_sets_the_caps_and_absent_means_not_set(tmp_path):
    path = write(tmp_path, GOOD + "collector:\n  max_inflight_per_server: 4\n")
    politeness = load_policies(path).settings.collector
    assert politeness.max_inflight_per_server == 4
    assert politeness.max_qps_per_server is None  # not given: the command line or the default
    path = write(
        tmp_path, GOOD + "collector: {max_inflight_per_server: 0, max_qps_per_server: 2.5}\n"
    )
    politeness = load_policies(path).settings.collector
    assert (politeness.max_inflight_per_server, politeness.max_qps_per_server) == (0, 2.5)
    assert load_policies(write(tmp_path, GOOD)).settings.collector.max_qps_per_server is None


@pytest.mark.parametrize(
    "section, line, field, expected",
    [
        (
            "collector:\n  max_inflight_per_server: 2.5\n",
            16,
            "collector.max_inflight_per_server",
            "expected a whole number, 0 or more, found 2.5 (a decimal number)",
        ),
        (
            "collector:\n  max_qps_per_server: -1\n",
            16,
            "collector.max_qps_per_server",
            "expected a number, 0 or more, found -1 (a whole number)",
        ),
        (
            "collector:\n  max_qps: 10\n",
            16,
            "collector.max_qps",
            "unknown key 'max_qps'; accepted keys: max_inflight_per_server, max_qps_per_server",
        ),
        ("collector: 16\n", 15, "collector", "expected a mapping of settings, found 16"),
    ],
    ids=["fractional-inflight", "negative-qps", "unknown-key", "not-a-mapping"],
)
def test_bad_collector_caps_name_line_field_and_expectation(
    tmp_path, section, line, field, expected
):
    path = write(tmp_path, GOOD + section)
    err = load_error(path)
    assert len(err.problems) == 1, str(err)
    assert (err.line, err.column) == (line, field)
    assert_names(err, path, f"line {line}", f"field '{field}'", expected)
