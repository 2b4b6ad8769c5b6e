"""Stage 1, the organisation's inputs: the inventory, the policies and their settings, the
portfolio that joins them, and the governance records. Read with clear errors; imports nothing
above the base layer (errors, schemas, vocabulary)."""
