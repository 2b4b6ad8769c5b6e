"""A portfolio: the directory holding ``inventory.csv`` and, optionally, ``policy.yaml``.

``inventory.csv`` is required. ``policy.yaml`` is optional: without it the portfolio has no
signing policies and :meth:`Portfolio.policy_for` returns None for every zone. A missing
policy file means "not evidenced", never "fine"; the reports must say so.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.errors import InputError, Problem
from toolkit.inputs.inventory import load_inventory, normalize_zone
from toolkit.inputs.policy import PolicySet, SigningPolicy, load_policies

INVENTORY_FILE = "inventory.csv"
POLICY_FILE = "policy.yaml"


@dataclass(frozen=True, eq=False)
class Portfolio:
    """The validated inputs of one portfolio.

    ``inventory`` conforms to :data:`toolkit.schemas.INVENTORY`; ``policies`` is empty when the
    directory has no ``policy.yaml`` (see :attr:`has_policy_file`).
    """

    inventory: pd.DataFrame
    policies: PolicySet
    directory: Path

    @property
    def inventory_path(self) -> Path:
        """Path of the portfolio's ``inventory.csv``."""
        return self.directory / INVENTORY_FILE

    @property
    def policy_path(self) -> Path:
        """Path of the portfolio's ``policy.yaml`` (which may not exist)."""
        return self.directory / POLICY_FILE

    @property
    def has_policy_file(self) -> bool:
        """Whether signing policies were given (``policy.yaml`` existed when loaded)."""
        return len(self.policies) > 0

    def policy_for(self, zone: str) -> SigningPolicy | None:
        """The signing policy that applies to inventory zone ``zone``.

        ``zone`` may be given in any case, with a trailing dot, or in Unicode form. The zone's
        ``policy`` column names the policy; an empty one means the default policy. Returns
        None when the portfolio has no policy.yaml, or when the zone names no policy and there
        is no ``default_policy``: the policy is then not evidenced.

        Raises:
            KeyError: ``zone`` is not in the inventory (or is not a valid domain name).
        """
        try:
            name, _ = normalize_zone(zone)
        except ValueError:
            raise KeyError(f"{zone!r} is not a valid zone name") from None
        match = self.inventory.loc[self.inventory["zone"] == name, "policy"]
        if match.empty:
            raise KeyError(f"zone {name!r} is not in the inventory")
        policy = match.iloc[0]
        return self.policies.get(None if pd.isna(policy) else str(policy))


def load_portfolio(directory: str | Path, check_ids: Collection[str] | None = None) -> Portfolio:
    """Load and cross-check the portfolio in ``directory``; ``check_ids`` (the check
    catalogue's ids), when given, is what the policy's maturity gates must name (see
    :func:`toolkit.inputs.policy.load_policies`).

    Reads ``inventory.csv`` with :func:`toolkit.inputs.inventory.load_inventory` (its frame's schema
    is :data:`toolkit.schemas.INVENTORY`) and ``policy.yaml``, when present, with
    :func:`toolkit.inputs.policy.load_policies`. When ``policy.yaml`` is present, every non-empty
    ``policy`` value of the inventory must name one of its policies. When it is absent the
    :class:`~toolkit.inputs.policy.PolicySet` is empty and the inventory's policy names are not
    checked (there is nothing to check them against).

    Raises:
        InputError: the directory does not exist or is not a directory; ``inventory.csv`` is
            missing or invalid; ``policy.yaml`` is invalid; or inventory rows name policies
            that policy.yaml does not define (one error naming inventory.csv and, per row, the
            line and the column ``policy``).
    """
    directory = Path(directory)
    if not directory.exists():
        raise InputError(directory, "portfolio directory not found")
    if not directory.is_dir():
        raise InputError(
            directory, f"not a directory; expected a directory holding {INVENTORY_FILE}"
        )
    inventory = load_inventory(directory / INVENTORY_FILE)
    policy_path = directory / POLICY_FILE
    if policy_path.exists():
        policies = load_policies(policy_path, check_ids)
        _check_policy_names(directory / INVENTORY_FILE, inventory, policies)
    else:
        policies = PolicySet()
    return Portfolio(inventory=inventory, policies=policies, directory=directory)


def _check_policy_names(path: Path, inventory: pd.DataFrame, policies: PolicySet) -> None:
    defined = ", ".join(f"'{n}'" for n in policies.names)
    problems = [
        Problem(
            int(line),
            "policy",
            f"policy '{name}' is not defined in {POLICY_FILE}; expected one of: {defined}",
        )
        for name, line in zip(inventory["policy"], inventory["source_line"], strict=True)
        if not pd.isna(name) and name not in policies
    ]
    if problems:
        raise InputError(path, problems=problems)
