"""Stage 10, the command line: ``dnssec-audit`` (:mod:`.main`), the checked types of its option
values (:mod:`.argtypes`) and the one-command demo (:mod:`.demo`)."""
