"""One lookup's time budget, shared by every source and every network operation."""

import time
from dataclasses import dataclass
from typing import Annotated, TypedDict

from ..option import Option

__all__ = ["Budget", "BudgetOptions"]

DEFAULT_TIMEOUT = 10.0


class BudgetOptions(TypedDict, total=False):
    """The lookup's time budget.

    Option modules never use ``from __future__ import annotations``: the annotations
    carry the :class:`~mailsettings.option.Option` read at run time.
    """

    timeout: Annotated[
        float,
        Option(
            DEFAULT_TIMEOUT,
            "time budget of each lookup, every source included (default 10)",
            metavar="SECONDS",
        ),
    ]
    """One budget in seconds for the whole lookup, every source included (default 10)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """A time budget: ``seconds`` in all, ending at the monotonic time ``deadline``.

    >>> budget = Budget.start(5.0)
    >>> 0 < budget.remaining() <= 5.0, budget.expired()
    (True, False)
    """

    seconds: float
    deadline: float

    @classmethod
    def start(cls, seconds: float) -> "Budget":
        """A budget of ``seconds`` starting now."""
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (zero or negative once the budget ran out)."""
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        """Whether the budget ran out."""
        return self.deadline <= time.monotonic()

    def bound(self, timeout: float | None = None) -> float:
        """The time one operation may take: ``timeout``, but never past the deadline."""
        left = max(self.deadline - time.monotonic(), 0.0)
        return left if timeout is None or timeout <= 0 else min(timeout, left)
