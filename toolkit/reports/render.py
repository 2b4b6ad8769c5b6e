"""Render reports: parameterised notebook -> papermill -> nbconvert -> WeasyPrint PDF.

One pipeline, several reports. Each step is a function of its own so that every report (board,
audit, zone, dashboard, policy statement, runbook) reuses it with its own notebook and
nbconvert template, as :data:`toolkit.reports.registry.REPORTS` describes it:

1. :func:`execute_notebook` runs a notebook of ``notebooks/`` with papermill and parameters;
2. :func:`notebook_to_html` converts the executed notebook with an nbconvert template of
   ``report_templates/`` that hides every code cell and prompt and pulls in no remote script,
   stylesheet or font;
3. :func:`html_to_pdf` lays the HTML out with WeasyPrint and a print stylesheet, through a URL
   fetcher that refuses anything but ``data:`` URLs and files inside ``report_templates/``
   (the report never touches the network), and writes the PDF atomically.

:func:`render_report` is the one engine: it chains the three for any kind of report of the
registry, fills the table of contents, embeds the audit report's attachments and writes the
dashboard as one self-contained HTML page instead of a PDF; :func:`render_board_report`,
:func:`render_audit_report`, :func:`render_zone_report`, :func:`render_dashboard`,
:func:`render_policy_statement` and :func:`render_runbook` are its faces. A failing
notebook raises :class:`NotebookError` naming the notebook and the cell, keeps the executed
notebook for debugging and leaves no PDF behind.

The HTML fragments the notebooks display (title block, KPI tiles, status chart, action table,
method note), and the report metadata they hand back to the renderer, are
:mod:`toolkit.reports.html`.

The heavy libraries (papermill, nbconvert, WeasyPrint) are imported inside the functions that
need them, so that importing this module stays fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from toolkit import __version__
from toolkit.atomic import open_atomic
from toolkit.errors import WRITE_ERRNOS, ReportError, StoreError, WriteError
from toolkit.reports.html import REPORT_META_KEY, fill_toc, find_zone
from toolkit.reports.registry import (
    DEFAULT_HISTORY_RUNS,
    DEFAULT_INLINE_ZONE_LIMIT,
    DEFAULT_ORGANISATION,
    PRINT_CSS,
    REPORTS,
    ReportKind,
    report_kind,
)
from toolkit.resources import shipped

log = logging.getLogger(__name__)

#: Environment variables that override where notebooks and templates are looked up.
NOTEBOOKS_ENV = "DNSSEC_AUDIT_NOTEBOOKS"
TEMPLATES_ENV = "DNSSEC_AUDIT_REPORT_TEMPLATES"
# each kind's notebook and template, by the names callers used before the registry
BOARD_NOTEBOOK, BOARD_TEMPLATE = REPORTS["board"].notebook, REPORTS["board"].template
AUDIT_NOTEBOOK, AUDIT_TEMPLATE = REPORTS["audit"].notebook, REPORTS["audit"].template
ZONE_NOTEBOOK, ZONE_TEMPLATE = REPORTS["zone"].notebook, REPORTS["zone"].template
DASHBOARD_NOTEBOOK = REPORTS["dashboard"].notebook
POLICY_NOTEBOOK = REPORTS["policy"].notebook
RUNBOOK_NOTEBOOK = REPORTS["runbook"].notebook
#: The file a notebook writes into its ``attachments_dir`` to list the files to embed in the PDF.
ATTACHMENTS_INDEX = "attachments.json"
#: Cells carrying this tag never reach the rendered report (developer notes).
REMOVE_CELL_TAG = "remove-cell"
KERNEL_NAME = "python3"


def notebooks_dir() -> Path:
    """Where report notebooks live: ``$DNSSEC_AUDIT_NOTEBOOKS``, else the package's own
    (``toolkit/notebooks`` in a wheel, ``<repo>/notebooks`` in a checkout)."""
    return Path(os.environ.get(NOTEBOOKS_ENV) or shipped("notebooks"))


def templates_dir() -> Path:
    """Where nbconvert templates and the print stylesheet live: ``$DNSSEC_AUDIT_REPORT_TEMPLATES``,
    else the package's own (``toolkit/report_templates`` in a wheel, ``<repo>/report_templates``
    in a checkout)."""
    return Path(os.environ.get(TEMPLATES_ENV) or shipped("report_templates"))


# -- step 1: papermill ---------------------------------------------------------------------------


def execute_notebook(
    notebook: Path | str,
    out_dir: Path | str,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = KERNEL_NAME,
    cwd: Path | str | None = None,
    timeout: int = 600,
    keep_failed: Path | str | None = None,
) -> Path:
    """Execute ``notebook`` with papermill and ``parameters``; return the executed notebook.

    The executed copy is written to ``out_dir`` under the notebook's name. The kernel runs in
    ``cwd`` (default: the notebook's own folder, as in Jupyter), so pass paths as absolute
    paths. Parameters must be plain data (str, int, float, bool, None, or lists and dicts of
    them): papermill writes them into the notebook as Python literals, never as code.

    A failing cell raises :class:`NotebookError` naming the notebook, the cell (its position
    among the notebook's cells, its execution count and first line) and the error; with
    ``keep_failed`` the executed notebook, holding the error output, is copied there first and
    the message says where. Raises :class:`ReportError` for every other failure.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    if not notebook.is_file():
        raise ReportError(f"report notebook {notebook} does not exist")
    _check_parameters(notebook.name, parameters)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    kernel_log = out_dir / f"{notebook.stem}.kernel.log"
    try:
        with open(kernel_log, "wb") as log_fh:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=dict(parameters),
                kernel_name=kernel_name,
                cwd=str(cwd or notebook.parent),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                execution_timeout=timeout,
                kernel_manager_class=_kernel_manager_class(log_fh),
            )
    except PapermillExecutionError as exc:
        kept = _keep_copy(executed, keep_failed)
        raise NotebookError(
            notebook.name,
            cell_index=exc.cell_index,
            exec_count=exc.exec_count,
            source=exc.source or "",
            ename=exc.ename,
            evalue=exc.evalue,
            kept=kept,
        ) from exc
    except Exception as exc:
        hint = ""
        if type(exc).__name__ == "NoSuchKernel":
            hint = " (register it with `python -m ipykernel install --sys-prefix`)"
        tail = _tail(kernel_log)
        raise ReportError(
            f"{notebook.name}: could not execute the notebook: {type(exc).__name__}: {exc}{hint}"
            + (f"\nkernel output:\n{tail}" if tail else "")
        ) from exc
    if log.isEnabledFor(logging.DEBUG):
        log.debug("kernel output of %s:\n%s", notebook.name, _tail(kernel_log, 50))
    return executed


class NotebookError(ReportError):
    """A cell of a report notebook failed.

    Fields: ``notebook`` (file name), ``cell_index`` (0-based position among all the executed
    notebook's cells, papermill's injected parameters cell included), ``exec_count`` (the
    execution count shown as ``In [n]``), ``source`` (the cell's code), ``ename`` and ``evalue``
    (the error), ``kept`` (where the executed notebook was kept for debugging, or None).
    """

    def __init__(
        self,
        notebook: str,
        *,
        cell_index: int,
        exec_count: int | None,
        source: str,
        ename: str,
        evalue: str,
        kept: Path | None = None,
    ) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.source = source
        self.ename = ename
        self.evalue = evalue
        self.kept = kept
        first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
        if len(first) > 80:
            first = first[:77] + "..."
        where = f"cell {cell_index + 1} (In [{exec_count}]" + (f": {first}" if first else "") + ")"
        text = f"{notebook}: {where} failed: {ename}: {evalue}"
        if kept is not None:
            text += f"\nthe executed notebook, with the error in that cell, is kept at {kept}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_notebook_error, (self.notebook, self.__dict__.copy()))


def _restore_notebook_error(notebook: str, fields: dict[str, Any]) -> NotebookError:
    fields = {k: v for k, v in fields.items() if k != "notebook"}
    return NotebookError(notebook, **fields)


_PLAIN = (str, int, float, bool, type(None))


def _check_parameters(name: str, parameters: Mapping[str, Any]) -> None:
    """Refuse parameters that are not plain data (papermill writes them as literals)."""

    def plain(value: Any) -> bool:
        if isinstance(value, _PLAIN):
            return True
        if isinstance(value, list | tuple):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return False

    for key, value in parameters.items():
        if not key.isidentifier() or not plain(value):
            raise ReportError(
                f"{name}: parameter {key!r} must be a name bound to plain data "
                f"(str, number, bool, None, lists and dicts of them), got {type(value).__name__}"
            )


def _keep_copy(executed: Path, keep: Path | str | None) -> Path | None:
    """Copy the executed notebook to ``keep`` (if given and it exists); return where."""
    if keep is None or not executed.is_file():
        return None
    keep = Path(keep)
    try:
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_bytes(executed.read_bytes())
    except OSError as exc:
        log.warning("could not keep the failed notebook at %s: %s", keep, exc)
        return None
    return keep


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _kernel_manager_class(log_fh: Any) -> type:
    """The kernel manager papermill uses: the kernel's own stdout/stderr go to ``log_fh`` (not
    the terminal: ipykernel logs noise such as an interrupt caught during shutdown), and CurveZMQ
    keys are provisioned when pyzmq and the kernelspec support them, so the kernel's traffic is
    encrypted (and ipykernel does not warn about plain TCP)."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    curve = bool(zmq.has("curve"))

    class ReportKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _default_transport_encryption(self) -> str:
            return "auto" if curve else "disabled"

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stdout", log_fh)
            kw.setdefault("stderr", log_fh)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return ReportKernelManager


# -- step 2: nbconvert ---------------------------------------------------------------------------


def report_metadata(nb: Any) -> dict[str, str]:
    """The report metadata a notebook attached to one of its outputs (``REPORT_META_KEY`` in the
    output's metadata), as strings; empty when there is none."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            meta = (output.get("metadata") or {}).get(REPORT_META_KEY)
            if isinstance(meta, Mapping):
                return {str(k): "" if v is None else str(v) for k, v in meta.items()}
    return {}


def notebook_to_html(
    notebook: Path | str,
    *,
    template_name: str = BOARD_TEMPLATE,
    template_dir: Path | str | None = None,
    report_kind: str = "",
) -> str:
    """Convert an executed notebook to HTML with the nbconvert template ``template_name`` of
    ``template_dir`` (default :func:`templates_dir`), hiding every input, prompt and cell tagged
    ``remove-cell``. The notebook's report metadata (see :func:`report_metadata`) is handed to
    the template as ``resources.report``, ``report_kind`` (default: the template's name; it
    must be lower-case letters) as ``resources.report_kind``. Output on stderr is left out of
    the HTML and logged.
    """
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    notebook = Path(notebook)
    tdir = Path(template_dir) if template_dir is not None else templates_dir()
    if not (tdir / template_name / "conf.json").is_file():
        raise ReportError(f"nbconvert template '{template_name}' not found in {tdir}")
    nb = _read_notebook(notebook)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise ReportError(
                    f"{notebook.name}: the notebook holds an error output: "
                    f"{output.get('ename')}: {output.get('evalue')}"
                )
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                log.warning("%s wrote to stderr: %s", notebook.name, output.get("text", "")[:500])
    # a code cell without output adds nothing but an empty box (which would, for instance,
    # push a cover page off page 1): leave it out
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.get("outputs")]
    meta = report_metadata(nb)
    kind = report_kind or template_name
    if not kind.isalpha() or not kind.islower():
        raise ReportError(f"report kind {kind!r}: expected lower-case letters")
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = [REMOVE_CELL_TAG]
    try:
        exporter = HTMLExporter(
            config=config,
            template_name=template_name,
            extra_template_basedirs=[str(tdir)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            anchor_link_text="",
        )
        body, _ = exporter.from_notebook_node(
            nb,
            resources={
                "metadata": {"name": meta.get("title") or notebook.stem},
                "report": meta,
                "report_kind": kind,
            },
        )
    except Exception as exc:
        raise ReportError(
            f"{notebook.name}: nbconvert failed with template '{template_name}': "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return body


# -- step 3: WeasyPrint --------------------------------------------------------------------------


@dataclass
class FetchPolicy:
    """Which URLs WeasyPrint may load while laying out a report: ``data:`` URLs and ``file:``
    URLs of files inside ``root``; everything else (http, https, ftp, other files) is refused.

    Every URL asked for is recorded in ``requested``, every refusal in ``refused``.
    """

    root: Path
    requested: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return True
        if scheme == "file" and parts.netloc in ("", "localhost"):
            try:
                path = Path(url2pathname(unquote(parts.path))).resolve()
            except (OSError, ValueError):
                return False
            return path.is_relative_to(self.root.resolve())
        return False

    def check(self, url: str) -> None:
        """Record ``url``; raise ValueError if it may not be fetched."""
        self.requested.append(url)
        if not self.allows(url):
            self.refused.append(url)
            log.warning("report rendering: refused to fetch %s", url[:200])
            raise ValueError(f"the report renderer refuses to fetch {url[:200]}")


def make_url_fetcher(policy: FetchPolicy) -> Any:
    """A WeasyPrint URL fetcher that consults ``policy`` before opening anything."""
    import weasyprint.urls as wurls

    base = getattr(wurls, "URLFetcher", None)
    if base is None:  # WeasyPrint < 66: a fetcher is a function returning a dict

        def fetch(url: str) -> dict[str, Any]:
            policy.check(url)
            return wurls.default_url_fetcher(url)

        return fetch

    class _PolicyFetcher(base):
        def fetch(self, url: str, headers: Any = None) -> Any:
            policy.check(url)
            return super().fetch(url, headers)

    return _PolicyFetcher(timeout=5, allowed_protocols={"file", "data"}, allow_redirects=False)


def html_to_pdf(
    html_text: str,
    out: Path | str,
    *,
    base_dir: Path | str | None = None,
    stylesheets: Sequence[Path | str] | None = None,
    metadata: Mapping[str, str] | None = None,
    policy: FetchPolicy | None = None,
    attachments: Sequence[PdfAttachment] = (),
    pdf_variant: str | None = None,
) -> Path:
    """Lay ``html_text`` out with WeasyPrint and write the PDF to ``out`` atomically.

    Relative URLs resolve against ``base_dir`` (default :func:`templates_dir`), the only folder
    the renderer reads files from; ``stylesheets`` default to its ``print.css``. ``metadata``
    overrides the document metadata WeasyPrint takes from the HTML <title>/<meta> elements:
    keys ``title``, ``author``, ``description``, ``keywords`` (comma-separated), ``created``
    and ``modified`` (W3C dates, e.g. ``2026-11-28``). ``policy`` records what was fetched and
    refused (a fresh one is made otherwise). ``attachments`` are embedded as PDF file
    attachments, dated ``created`` (so the same inputs give the same bytes); ``pdf_variant`` is
    a WeasyPrint PDF variant such as ``pdf/a-3b`` (PDF/A-3 allows embedded files). The same
    HTML, metadata and attachments give a byte-identical PDF. Returns ``out``.
    """
    from weasyprint import CSS, HTML, Attachment

    out = Path(out)
    root = Path(base_dir) if base_dir is not None else templates_dir()
    sheets = [Path(s) for s in stylesheets] if stylesheets is not None else [root / PRINT_CSS]
    policy = policy or FetchPolicy(root)
    fetcher = make_url_fetcher(policy)
    base_url = root.resolve().as_uri() + "/"
    try:
        css = [CSS(filename=str(s), base_url=base_url, url_fetcher=fetcher) for s in sheets]
        document = HTML(string=html_text, base_url=base_url, url_fetcher=fetcher).render(
            stylesheets=css
        )
        for key, value in (metadata or {}).items():
            if not value:
                continue
            if key == "author":
                document.metadata.authors = [value]
            elif key == "keywords":
                document.metadata.keywords = [k.strip() for k in value.split(",") if k.strip()]
            elif key in ("title", "description", "created", "modified"):
                setattr(document.metadata, key, value)
            else:
                raise ValueError(f"unknown PDF metadata key '{key}'")
        document.metadata.generator = f"dnssec-governance-toolkit {__version__}"
        stamp = _attachment_time((metadata or {}).get("created", ""))
        embedded = [
            Attachment(
                file_obj=io.BytesIO(a.data),
                name=a.name,
                description=a.description,
                created=stamp,
                modified=stamp,
                relationship="Data" if pdf_variant else "Unspecified",
            )
            for a in attachments
        ]
        options: dict[str, Any] = {"attachments": embedded} if embedded else {}
        if pdf_variant:
            options["pdf_variant"] = pdf_variant
        _write_atomically(out, lambda fh: document.write_pdf(fh, **options))
    except ReportError:
        raise
    except OSError as exc:  # a full disk or read-only folder is not WeasyPrint's failure
        if exc.errno in WRITE_ERRNOS:
            raise WriteError(out, exc) from exc
        raise ReportError(
            f"WeasyPrint could not render {out.name}: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise ReportError(
            f"WeasyPrint could not render {out.name}: {type(exc).__name__}: {exc}"
        ) from exc
    return out


@dataclass(frozen=True)
class PdfAttachment:
    """A file to embed in a PDF: its name in the PDF, its bytes and a one-line description."""

    name: str
    data: bytes
    description: str = ""


def _attachment_time(created: str) -> datetime:
    """The date stamped on embedded files: the report's ``created`` date (UTC midnight), or the
    epoch when there is none, never the wall clock (the PDF must be reproducible)."""
    try:
        return datetime.combine(date.fromisoformat(created[:10]), datetime.min.time(), UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def _write_atomically(out: Path, write: Callable[[Any], Any]) -> None:
    """Write ``out`` through a temporary file beside it, renamed into place when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_atomic(out) as fh:
        write(fh)


# -- rendering a report: one engine for every kind of toolkit.reports.registry ---------------------


@dataclass(frozen=True)
class ReportOptions:
    """What a report is about and how it is labelled (see :func:`render_report`); each kind
    of report takes the options its :class:`~toolkit.reports.registry.ReportKind` names.

    ``period`` (e.g. ``2026Q4``) and ``as_of`` (ISO date) default to the run's quarter and
    date; ``classification`` defaults to the report's own (INTERNAL for the board report,
    CONFIDENTIAL for the audit report); ``framework`` (audit report) names the control
    framework to report against; ``inline_zone_limit`` (audit report) is the number of zones
    past which per-zone detail goes to PDF attachments instead of tables; ``zone`` (zone
    report, runbook) names the zone; ``portfolio`` (policy statement, runbook) is the portfolio
    folder (default: the one the run was collected from); ``history_runs`` (dashboard) is how
    many recent runs its latency trend covers. With ``keep_intermediate`` the executed notebook
    and the HTML are kept beside the PDF (``<out>.ipynb``, ``<out>.html``). A failing notebook
    is kept at ``failed_notebook`` (default ``<out>.failed.ipynb``).
    """

    run: str = "latest"
    organisation: str = DEFAULT_ORGANISATION
    period: str = ""
    as_of: str = ""
    classification: str = ""
    framework: str = ""
    inline_zone_limit: int = DEFAULT_INLINE_ZONE_LIMIT
    zone: str = ""
    portfolio: Path | str | None = None
    history_runs: int = DEFAULT_HISTORY_RUNS
    keep_intermediate: bool = False
    failed_notebook: Path | None = None


@dataclass
class RenderedReport:
    """A rendered report: the file, the run it covers, its metadata (title, report id, ...),
    the files embedded in it, and seconds per stage (papermill, nbconvert, weasyprint)."""

    path: Path
    kind: str
    run_id: str
    metadata: dict[str, str]
    attachments: list[PdfAttachment]
    timings: dict[str, float]


def render_report(
    kind: str,
    workspace: Path | str | None,
    out: Path | str,
    options: ReportOptions | None = None,
    *,
    policy: FetchPolicy | None = None,
) -> RenderedReport:
    """Render the report ``kind`` (a name of :data:`toolkit.reports.registry.REPORTS`) to
    ``out``: the one engine of every report.

    The run of ``workspace`` is pinned first (``options.run``: ``latest``, an id or a unique
    prefix), so the report covers exactly that run; a report made from a portfolio (the policy
    statement) reads ``options.portfolio``, else the folder the run was collected from. The
    kind's notebook runs with its options as parameters (data, never code), nbconvert turns it
    into HTML with the kind's template and the table of contents is filled in; WeasyPrint then
    writes the PDF atomically with the files the notebook listed for embedding, or the HTML page
    is checked to be self-contained (:func:`external_references`) and written atomically.
    ``policy`` (optional) records the URLs WeasyPrint asked for.

    Raises :class:`NotebookError` when a cell fails (the executed notebook is kept, see
    :class:`ReportOptions`) and :class:`ReportError` otherwise; either way nothing is written
    at ``out``.
    """
    spec = report_kind(kind)
    options = options or ReportOptions()
    out = Path(out).expanduser().resolve()
    _check_as_of(options.as_of)
    if spec.takes("framework") and options.framework:
        check_framework(options.framework)
    for name in spec.required:
        if not getattr(options, name):
            flag = name.replace("_", "-")
            raise ReportError(f"the {spec.noun} needs a {name.replace('_', ' ')} (--{flag})")
    parameters, run_id = _parameters(spec, workspace, options)
    failed = options.failed_notebook or out.with_suffix(".failed.ipynb")
    if spec.output == "html":
        return _notebook_to_page(
            spec,
            parameters,
            out,
            run_id=run_id,
            failed=failed,
            keep_intermediate=options.keep_intermediate,
        )
    root = templates_dir()
    return _notebook_to_pdf(
        spec.name,
        spec.notebook,
        spec.template,
        parameters,
        out,
        run_id=run_id,
        stylesheets=[root / name for name in spec.stylesheets],
        failed=failed,
        keep_intermediate=options.keep_intermediate,
        policy=policy,
        attachments=spec.attachments,
        pdf_variant=spec.pdf_variant,
    )


def _parameters(
    spec: ReportKind, workspace: Path | str | None, options: ReportOptions
) -> tuple[dict[str, Any], str]:
    """The notebook parameters of a report of kind ``spec`` (plain data, in the order the
    notebook declares them) and the id of the run it covers ("" for a portfolio document)."""
    from toolkit.store.runs import Store

    store = run_id = None
    if spec.source == "run" or not options.portfolio:
        if workspace is None:
            raise ReportError(f"the {spec.noun} needs a workspace (or a portfolio)")
        store = Store(Path(workspace).expanduser().resolve())
        try:  # pin the run: the report covers exactly the run resolved now
            run_id = store.resolve(options.run)
        except StoreError as exc:
            raise ReportError(f"cannot make a {spec.noun} of run '{options.run}': {exc}") from exc
    values = {name: getattr(options, name) for name in spec.parameters}
    if spec.zone_in_run and store is not None and run_id is not None:
        # the zone must be one of the run's, before a kernel starts
        values["zone"] = find_zone(store.load(run_id)["zones"], options.zone)
    if spec.source == "portfolio" or spec.takes("portfolio"):
        folder = options.portfolio
        if not folder:
            assert store is not None and run_id is not None
            folder = run_portfolio(store, run_id)
        folder = Path(folder).expanduser().resolve()
        needed = "policy.yaml" if spec.source == "portfolio" else "inventory.csv"
        if not (folder / needed).is_file():
            raise ReportError(f"{folder}: no {needed} to make a {spec.noun} of")
        values["portfolio"] = str(folder)
    if spec.takes("classification"):
        values["classification"] = options.classification or spec.classification
    if spec.takes("history_runs"):
        values["history_runs"] = int(options.history_runs)
    parameters: dict[str, Any] = {}
    if spec.source == "run":
        assert store is not None and run_id is not None
        parameters = {"workspace": str(store.workspace), "run": run_id}
    parameters.update(values)
    if spec.source == "portfolio":
        parameters = {"portfolio": parameters.pop("portfolio"), **parameters}
    return parameters, (run_id or "") if spec.source == "run" else ""


def run_portfolio(store: Any, run_id: str) -> Path:
    """The portfolio folder the stored run ``run_id`` of ``store`` was collected from (as its
    manifest records it); raises ReportError when the run names none."""
    try:
        manifest = store.load(run_id, verify=False).manifest
    except StoreError as exc:
        raise ReportError(f"cannot read run '{run_id}': {exc}") from exc
    folder = (manifest.get("parameters") or {}).get("portfolio")
    if not folder:
        raise ReportError(f"run {run_id} names no portfolio: pass the portfolio folder")
    return Path(folder)


def _notebook_to_pdf(
    kind: str,
    notebook: str,
    template: str,
    parameters: dict[str, Any],
    out: Path,
    *,
    run_id: str,
    stylesheets: Sequence[Path],
    failed: Path,
    keep_intermediate: bool,
    policy: FetchPolicy | None,
    attachments: bool = False,
    pdf_variant: str | None = None,
) -> RenderedReport:
    """The one pipeline of every PDF: papermill runs ``notebook`` with ``parameters`` (a failing
    cell keeps the executed notebook at ``failed``), nbconvert renders it with ``template`` and
    the table of contents is filled in, WeasyPrint writes ``out`` atomically with the files the
    notebook listed for embedding (when ``attachments``)."""
    with tempfile.TemporaryDirectory(prefix=f"{kind}-report-") as tmp:
        if attachments:
            parameters["attachments_dir"] = str(Path(tmp) / "attachments")
        t0 = time.perf_counter()
        executed = execute_notebook(notebooks_dir() / notebook, tmp, parameters, keep_failed=failed)
        t1 = time.perf_counter()
        body = fill_toc(notebook_to_html(executed, template_name=template, report_kind=kind))
        meta = report_metadata(_read_notebook(executed))
        embedded = read_attachments(Path(tmp) / "attachments") if attachments else []
        t2 = time.perf_counter()
        if keep_intermediate:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".ipynb").write_bytes(executed.read_bytes())
            out.with_suffix(".html").write_text(body, encoding="utf-8")
    html_to_pdf(
        body,
        out,
        stylesheets=stylesheets,
        metadata={k: meta[k] for k in _PDF_META_KEYS if meta.get(k)},
        policy=policy,
        attachments=embedded,
        pdf_variant=pdf_variant,
    )
    t3 = time.perf_counter()
    failed.unlink(missing_ok=True)  # a stale notebook of an earlier failure would mislead
    timings = {"papermill": t1 - t0, "nbconvert": t2 - t1, "weasyprint": t3 - t2}
    log.info(
        "%s report %s: papermill %.2fs, nbconvert %.2fs, weasyprint %.2fs",
        kind,
        out.name,
        *timings.values(),
    )
    return RenderedReport(out, kind, run_id, meta, embedded, timings)


def _notebook_to_page(
    spec: ReportKind,
    parameters: dict[str, Any],
    out: Path,
    *,
    run_id: str,
    failed: Path,
    keep_intermediate: bool,
) -> RenderedReport:
    """papermill -> nbconvert -> one self-contained HTML page (the dashboard), refused unless
    :func:`external_references` finds nothing a browser would load; written atomically."""
    with tempfile.TemporaryDirectory(prefix=f"{spec.name}-") as tmp:
        t0 = time.perf_counter()
        executed = execute_notebook(
            notebooks_dir() / spec.notebook, tmp, parameters, keep_failed=failed
        )
        t1 = time.perf_counter()
        page = notebook_to_html(executed, template_name=spec.template)
        meta = report_metadata(_read_notebook(executed))
        if keep_intermediate:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".ipynb").write_bytes(executed.read_bytes())
    problems = external_references(page)
    if problems:
        raise ReportError(
            f"the {spec.noun} is not self-contained: " + "; ".join(sorted(set(problems))[:10])
        )
    _write_atomically(out, lambda fh: fh.write(page.encode("utf-8")))
    t2 = time.perf_counter()
    failed.unlink(missing_ok=True)
    timings = {"papermill": t1 - t0, "nbconvert": t2 - t1}
    log.info("%s %s: papermill %.2fs, nbconvert %.2fs", spec.name, out.name, *timings.values())
    return RenderedReport(out, spec.name, run_id, meta, [], timings)


def _check_as_of(as_of: str) -> None:
    if as_of:
        try:
            date.fromisoformat(as_of)
        except ValueError as exc:
            raise ReportError(f"as_of must be an ISO date (YYYY-MM-DD), got {as_of!r}") from exc


# -- one face per kind (the engine's callers before the registry) ---------------------------------


def render_board_report(
    workspace: Path | str,
    out: Path | str,
    *,
    run: str = "latest",
    organisation: str = DEFAULT_ORGANISATION,
    period: str = "",
    as_of: str = "",
    classification: str = "",
    keep_intermediate: bool = False,
    policy: FetchPolicy | None = None,
) -> Path:
    """Render the board report of ``run`` of ``workspace`` to the PDF ``out``; return ``out``.

    ``period`` (e.g. ``2026Q4``) and ``as_of`` (ISO date) default to the run's quarter and
    date, ``classification`` to the report's own (:mod:`toolkit.reports.registry`; the
    defaults of every ``render_*`` come from there). With ``keep_intermediate`` the executed
    notebook and the HTML are kept beside the PDF (``<out>.ipynb``, ``<out>.html``).
    ``policy`` (optional) records the URLs WeasyPrint asked for. Raises :class:`ReportError`
    (see :func:`render_report`).
    """
    options = ReportOptions(
        run=run,
        organisation=organisation,
        period=period,
        as_of=as_of,
        classification=classification,
        keep_intermediate=keep_intermediate,
    )
    return render_report("board", workspace, out, options, policy=policy).path


def render_audit_report(
    workspace: Path | str,
    out: Path | str,
    *,
    run: str = "latest",
    organisation: str = DEFAULT_ORGANISATION,
    period: str = "",
    as_of: str = "",
    classification: str = "",
    framework: str = "",
    inline_zone_limit: int = DEFAULT_INLINE_ZONE_LIMIT,
    keep_intermediate: bool = False,
    policy: FetchPolicy | None = None,
) -> Path:
    """Render the audit report of ``run`` of ``workspace`` to the PDF ``out``; return ``out``.

    Scope and method, findings (control by control for ``framework`` when a governance
    assessment is available, check by check otherwise), governance records, DS publication
    proofs with the raw records, a per-zone annex, and the run's frames embedded as CSV
    attachments (PDF/A-3). Past ``inline_zone_limit`` zones, per-zone detail is left to the
    attachments. Other arguments as for :func:`render_board_report`. Raises
    :class:`ReportError` (see :func:`render_report`).
    """
    options = ReportOptions(
        run=run,
        organisation=organisation,
        period=period,
        as_of=as_of,
        classification=classification,
        framework=framework,
        inline_zone_limit=inline_zone_limit,
        keep_intermediate=keep_intermediate,
    )
    return render_report("audit", workspace, out, options, policy=policy).path


def render_zone_report(
    workspace: Path | str,
    out: Path | str,
    *,
    zone: str,
    run: str = "latest",
    organisation: str = DEFAULT_ORGANISATION,
    period: str = "",
    as_of: str = "",
    classification: str = "",
    keep_intermediate: bool = False,
    policy: FetchPolicy | None = None,
) -> Path:
    """Render the report of one ``zone`` of ``run`` of ``workspace`` to the PDF ``out``; return
    ``out``.

    A chain-of-trust diagram (parent DS -> DNSKEY -> RRSIG over the apex RRsets, faults marked),
    the key timeline over the history, the zone's findings and its status per run. ``zone`` is
    matched case-insensitively, with or without the final dot, as A-label or U-label. Other
    arguments as for :func:`render_board_report`. Raises :class:`ReportError` for a zone the
    run does not hold (before starting a kernel) and as :func:`render_report` does.
    """
    options = ReportOptions(
        run=run,
        organisation=organisation,
        period=period,
        as_of=as_of,
        classification=classification,
        zone=zone,
        keep_intermediate=keep_intermediate,
    )
    return render_report("zone", workspace, out, options, policy=policy).path


def render_dashboard(
    workspace: Path | str,
    out: Path | str,
    *,
    run: str = "latest",
    organisation: str = DEFAULT_ORGANISATION,
    as_of: str = "",
    classification: str = "",
    history_runs: int = DEFAULT_HISTORY_RUNS,
    keep_intermediate: bool = False,
) -> RenderedReport:
    """Render the health dashboard of ``run`` of ``workspace`` to the HTML file ``out``.

    Validation coverage, status by resolver family, resolver latency (with its trend over the
    last ``history_runs`` runs), the signature-expiry horizon and the open alerts, in one
    self-contained page: inline stylesheet, inline SVG charts, no script, and a
    Content-Security-Policy that lets the browser load nothing. The page is checked with
    :func:`external_references` before it is written (atomically). Returns the
    :class:`RenderedReport` (its ``path`` is ``out``; timings papermill and nbconvert).

    Raises :class:`NotebookError` when a cell fails (the executed notebook is kept at
    ``<out>.failed.ipynb``) and :class:`ReportError` otherwise (unknown run, a page that is not
    self-contained); either way nothing is written at ``out``.
    """
    options = ReportOptions(
        run=run,
        organisation=organisation,
        as_of=as_of,
        classification=classification,
        history_runs=history_runs,
        keep_intermediate=keep_intermediate,
    )
    return render_report("dashboard", workspace, out, options)


def render_policy_statement(
    portfolio_dir: Path | str,
    out: Path | str,
    *,
    organisation: str = DEFAULT_ORGANISATION,
    as_of: str = "",
    classification: str = "",
    keep_intermediate: bool = False,
    policy: FetchPolicy | None = None,
) -> RenderedReport:
    """Render the DNSSEC Policy and Practice Statement of the portfolio ``portfolio_dir`` (its
    ``policy.yaml``) to the PDF ``out``, following the outline of RFC 6841: introduction,
    publication, operational requirements, facility/management controls, technical security
    controls (key generation, lifetimes, signature validity, algorithms, DS and TTLs,
    NSEC/NSEC3, rollover methods), audit, and every value of the file in an annex. Every value
    comes from policy.yaml; a value the file does not give is stated as "not defined in
    policy.yaml" (with the toolkit's default it then applies). ``as_of`` (ISO date) defaults to
    the file's ``last_review``, else its modification date.

    Raises :class:`ReportError` (an invalid policy.yaml surfaces as a :class:`NotebookError`
    naming the problem); nothing is written at ``out`` on failure.
    """
    options = ReportOptions(
        portfolio=portfolio_dir,
        organisation=organisation,
        as_of=as_of,
        classification=classification,
        keep_intermediate=keep_intermediate,
    )
    return render_report("policy", None, out, options, policy=policy)


def render_runbook(
    workspace: Path | str,
    out: Path | str,
    *,
    zone: str,
    portfolio: Path | str | None = None,
    run: str = "latest",
    organisation: str = DEFAULT_ORGANISATION,
    as_of: str = "",
    classification: str = "",
    keep_intermediate: bool = False,
    policy: FetchPolicy | None = None,
) -> RenderedReport:
    """Render the incident runbook of ``zone`` to the PDF ``out``: numbered procedures for a
    suspected DS mispublication, a failed rollover and validation failures, filled with the
    zone's registrar contact and escalation path (``registrars.csv``), the roles of
    ``policy.yaml``, its last known-good DS and DNSKEY sets (:func:`toolkit.history.
    last_known_good` over the workspace's runs) in zone-file syntax, and the exact
    verification commands. ``portfolio`` defaults to the one ``run`` was collected from.

    Raises :class:`ReportError` (unknown run or zone, no portfolio); nothing is written at
    ``out`` on failure.
    """
    options = ReportOptions(
        run=run,
        zone=zone,
        portfolio=portfolio,
        organisation=organisation,
        as_of=as_of,
        classification=classification,
        keep_intermediate=keep_intermediate,
    )
    return render_report("runbook", workspace, out, options, policy=policy)


# -- the dashboard's page must load nothing --------------------------------------------------------


class _ExternalRefs(HTMLParser):
    """Collects what in an HTML page would make a browser load something or run code."""

    _URL_ATTRS = ("src", "href", "action", "formaction", "srcset", "poster", "data", "background")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "iframe", "object", "embed", "base", "frame"):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            v = (value or "").strip()
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            elif name in self._URL_ATTRS and v and not v.startswith(("#", "data:")):
                self.problems.append(f"{name}={v[:80]!r} on <{tag}>")
            elif name == "style" and "url(" in v.replace(" ", "").lower():
                self.problems.append(f"url() in the style of <{tag}>")
            elif name == "http-equiv" and v.lower() == "refresh":
                self.problems.append("meta refresh")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and ("url(" in data.lower() or "@import" in data.lower()):
            self.problems.append("url() or @import in a <style> element")


def external_references(html_text: str) -> list[str]:
    """What in ``html_text`` would make a browser fetch something or run code: script, link,
    frame or object elements, event handlers, URLs other than ``#fragment`` and ``data:``,
    ``url()``/``@import`` in styles. Empty for a self-contained page."""
    scanner = _ExternalRefs()
    scanner.feed(html_text)
    scanner.close()
    return scanner.problems


def check_framework(framework: str) -> None:
    """Raise ReportError unless ``framework`` is one the toolkit has a mapping for (the ids
    of ``toolkit.assessment.frameworks``; any lower-case id when that module is absent)."""
    try:
        from toolkit.assessment.frameworks import FRAMEWORK_IDS
    except ImportError:  # pragma: no cover - the frameworks ship with the toolkit
        FRAMEWORK_IDS = ()
    if FRAMEWORK_IDS and framework not in FRAMEWORK_IDS:
        raise ReportError(f"unknown framework {framework!r} (known: {', '.join(FRAMEWORK_IDS)})")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", framework):
        raise ReportError(f"framework {framework!r}: expected a lower-case id")


_ATTACHMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def read_attachments(folder: Path) -> list[PdfAttachment]:
    """The files a notebook listed in ``folder/attachments.json`` (a list of objects with
    ``name``, ``description`` and ``sha256``), in that order, each checked against its SHA-256.

    An absent folder means no attachments. Raises ReportError on an unsafe or duplicate name, a
    missing file or a hash that does not match.
    """
    index = folder / ATTACHMENTS_INDEX
    if not index.is_file():
        return []
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{index}: unreadable attachment list: {exc}") from exc
    out: list[PdfAttachment] = []
    seen: set[str] = set()
    for entry in entries:
        name = str(entry.get("name", ""))
        if not _ATTACHMENT_NAME.match(name) or name == ATTACHMENTS_INDEX or name in seen:
            raise ReportError(f"{index}: unusable attachment name {name!r}")
        seen.add(name)
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise ReportError(f"attachment {name} listed but not written: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise ReportError(f"attachment {name} does not match the SHA-256 the report quotes")
        out.append(PdfAttachment(name, data, str(entry.get("description", ""))))
    return out


_PDF_META_KEYS = ("title", "author", "description", "keywords", "created", "modified")


def _read_notebook(path: Path) -> Any:
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        raise ReportError(f"{path}: not a readable notebook: {exc}") from exc
