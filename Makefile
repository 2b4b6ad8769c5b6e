# Two commands do everything on a fresh Debian machine (as root):
#   make demo   lab up -> collect the sample portfolio -> out/board-report.pdf -> lab down
#   make test   lint, format check, type check and the whole test suite (unit + real lab + PDF)
# Both install what they need (Debian packages, a virtualenv in .venv) and are safe to re-run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint deps debian-packages clean

demo: deps
	$(VENV)/bin/dnssec-audit demo --out out --workspace out/workspace

test: deps lint
	$(PY) -m pytest

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

deps: debian-packages $(STAMP)

debian-packages:
	@sh scripts/install-debian-packages.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

clean:
	-$(VENV)/bin/dnssec-audit lab down --dir .lab
	rm -rf out .pytest_cache .ruff_cache
