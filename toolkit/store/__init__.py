"""Stage 3, the run store: immutable runs of typed Parquet frames with a hashed, signed and
chained manifest (:mod:`.runs`), the workspace's signing key (:mod:`.signing`) and RFC 3161
timestamps (:mod:`.timestamp`)."""
