"""Stage 8, the evidence: the audit's evidence pack (:mod:`.pack`) — the run's signed frames,
the audit PDF, zone files and the workspace key, in one hashed, verifiable folder."""
