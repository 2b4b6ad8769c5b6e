"""The package as a user installs it: a wheel, not this checkout.

The report notebooks, the nbconvert templates and the sample portfolio live at the top of the
repository and are mapped into the package by ``pyproject.toml``; these tests build the wheel,
install it (not editable) into a new virtualenv and render the board, audit, zone and dashboard
reports from a collection of the lab with the installed ``dnssec-audit``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_package_list_names_every_package_of_toolkit():
    """The explicit package list (needed for the folder mapping) cannot silently miss a new
    sub-package: every folder of toolkit/ with an __init__.py is listed, and every listed name is a
    folder of toolkit/ or one of the mapped folders."""
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = setuptools["package-dir"]
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "toolkit").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    for name in listed - found:
        assert name in mapped and (ROOT / mapped[name]).is_dir(), name


def _build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with the wheel installed (not editable); returns its ``bin`` folder.

    The toolkit comes from the wheel only. Its dependencies are borrowed from the test's own
    environment through a path entry (listed after the new environment's site-packages, so the
    wheel's ``toolkit`` wins; such an entry does not run the checkout's editable-install hook),
    and so are their Jupyter data files (JUPYTER_PATH):
    installing pandas, pyarrow and WeasyPrint again would only re-test pip."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp / "dist")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for shipped in (
        "toolkit/notebooks/board_report.ipynb",
        "toolkit/report_templates/print.css",
        "toolkit/report_templates/audit/index.html.j2",
        "toolkit/sample_portfolio/inventory.csv",
        "toolkit/assessment/frameworks/iso27001.yaml",
    ):
        assert shipped in names

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # the kernel papermill starts must be this environment's Python, whatever else is installed
    subprocess.run(
        [py, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
        check=True,
        capture_output=True,
    )
    return venv / "bin"


def _env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSEC_AUDIT_")}
    # searched first: this environment's kernel; then the borrowed dependencies' data files
    # (nbconvert's base templates), as an installation of them here would have them
    borrowed = Path(sys.prefix, "share", "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(bin_dir.parent / "share" / "jupyter"), str(borrowed)]
    )
    env["PYTHONPATH"] = ""
    return env


def test_the_installed_toolkit_is_the_wheel_not_the_checkout(installed, tmp_path):
    code = (
        "import toolkit, toolkit.reports.render as r, toolkit.cli.demo as d; "
        "print(toolkit.__file__); print(r.notebooks_dir()); print(r.templates_dir()); "
        "print(d.SAMPLE_PORTFOLIO)"
    )
    out = subprocess.run(
        [installed / "python", "-c", code],
        cwd=tmp_path,
        env=_env(installed),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    site = installed.parent / "lib"
    for path in out:
        assert Path(path).is_relative_to(site), path  # nothing found in the checkout
        assert Path(path).exists(), path


@pytest.mark.lab
@pytest.mark.report
def test_a_wheel_install_collects_and_renders_every_report(installed, lab, tmp_path):
    cli = str(installed / "dnssec-audit")
    ws = tmp_path / "ws"
    portfolio = Path(
        subprocess.run(
            [installed / "python", "-c", "import toolkit.cli.demo as d; print(d.SAMPLE_PORTFOLIO)"],
            cwd=tmp_path,
            env=_env(installed),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [cli, *args], cwd=tmp_path, env=_env(installed), capture_output=True, text=True
        )
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
        return done

    run(
        "collect",
        "--portfolio",
        str(portfolio),
        "--workspace",
        str(ws),
        "--lab",
        str(lab.dir),
        "--no-progress",
        "--workers",
        "1",
    )
    for kind, args in {
        "board": ("board",),
        "audit": ("audit",),
        "zone": ("zone", "--zone", "payments.test"),
    }.items():
        out = tmp_path / f"{kind}.pdf"
        run("report", *args, "--workspace", str(ws), "--out", str(out))
        reader = PdfReader(out)
        text = " ".join(page.extract_text() for page in reader.pages)
        assert "payments.test" in text, kind
    # the dashboard is a self-contained HTML page
    run("report", "dashboard", "--workspace", str(ws), "--out", str(tmp_path / "dashboard.html"))
    page = (tmp_path / "dashboard.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "payments.test" in page
