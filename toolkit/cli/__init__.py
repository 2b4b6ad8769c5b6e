"""Stage 10, the command line: ``dnssec-audit``'s parser and entry point (:mod:`.main`), its
commands, each calling the library and printing (:mod:`.commands`), the checked types of its
option values (:mod:`.argtypes`) and the one-command demo (:mod:`.demo`)."""
