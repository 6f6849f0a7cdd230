"""The order workflow (居民下单、社区派单、党员接单): which transition runs from which states to
which, and who may perform it. `db.orders.transition` performs a row of this table as a
conditional UPDATE; the parties a viewer is of an order come from SQL (`order_parties`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from db.orders import Party


@dataclass(frozen=True)
class Transition:
    event: str  # the timeline action it appends
    sources: tuple[str, ...]  # the states it may start from
    target: str
    who: frozenset[Party]
    # whether it (re)sets the assignment: dispatch sets it, return clears it
    assigns: bool = False

    @property
    def by_assignee(self) -> bool:
        """Whether the order must still be assigned as it was read (the assignee's own moves)."""
        return Party.ASSIGNEE in self.who


# The one place the order workflow is defined. Every transition runs as a conditional
# UPDATE ... WHERE status = ANY(sources): of two racing clients exactly one matches.
TRANSITIONS: Final[dict[str, Transition]] = {
    "dispatchOrder": Transition(
        "DISPATCHED", ("SUBMITTED", "DISPATCHED"), "DISPATCHED", frozenset({Party.STAFF}), assigns=True
    ),
    "acceptOrder": Transition("ACCEPTED", ("DISPATCHED",), "ACCEPTED", frozenset({Party.ASSIGNEE})),
    "returnOrder": Transition(
        "RETURNED", ("DISPATCHED", "ACCEPTED"), "SUBMITTED", frozenset({Party.ASSIGNEE}), assigns=True
    ),
    "completeOrder": Transition("COMPLETED", ("ACCEPTED",), "COMPLETED", frozenset({Party.ASSIGNEE})),
    "rateOrder": Transition("RATED", ("COMPLETED",), "CLOSED", frozenset({Party.HOUSEHOLD})),
    "cancelOrder": Transition(
        "CANCELLED", ("SUBMITTED", "DISPATCHED"), "CANCELLED", frozenset({Party.HOUSEHOLD, Party.STAFF})
    ),
}
