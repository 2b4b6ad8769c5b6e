"""``python -m toolkit.inputs.governance``: print the record files' documentation."""

from toolkit.inputs.governance import main

main()
