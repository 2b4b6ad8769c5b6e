"""DNSSEC governance audit and reporting toolkit.

The pipeline: portfolio inputs -> collect (DNS probing + own validation) -> store (immutable
runs) -> assess -> notebooks -> PDF reports. Every stage hands pandas DataFrames to the next;
their schemas live in :mod:`toolkit.schemas`.
"""

__version__ = "0.1.0"
