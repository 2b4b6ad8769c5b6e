"""``python -m toolkit.governance``: print the record files' documentation."""

from toolkit.governance import main

main()
