"""DNSSEC governance audit and reporting toolkit.

The pipeline: portfolio inputs -> collect (DNS probing + own validation) -> store (immutable
runs) -> assess -> notebooks -> PDF reports. Every stage hands pandas DataFrames to the next;
their schemas live in :mod:`toolkit.schemas`.
"""

__version__ = "0.1.0"

import warnings as _warnings

# cryptography >= 51 warns, once per process, when dnspython imports its DSA module (DSA is
# deprecated there). The toolkit never signs or validates with DSA (RFC 9904: MUST NOT), and
# the warning would land on the CLI's stderr and in the reports' notebook output (where it
# pushed the audit report's cover to page 2 on a fresh install). Hide that one message only.
_warnings.filterwarnings("ignore", message="DSA is deprecated", category=Warning)
