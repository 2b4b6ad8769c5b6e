"""Stage 7, the reports: the rendering pipeline papermill -> nbconvert -> WeasyPrint and its
``render_*`` entry points (:mod:`.render`), the escaped HTML fragments the notebooks display
(:mod:`.html`), and what each report shows: board, audit, zone, dashboard, policy statement,
runbook, and the asset-register export."""
