"""The call policy: which class, then which service, a gerai calls next.

Pure functions, so the rules can be read and tested on their own:

* **Priority ratio.**  While both priority (elderly, disabled, pregnant,
  child) and regular tickets wait for a gerai, it calls ``priority`` priority
  tickets, then ``regular`` regular ones, and repeats; the cycle restarts
  whenever only one class waits, so a priority citizen who arrives at an
  otherwise quiet moment is called first.  Nobody starves: at most
  ``regular`` regular calls pass a waiting priority citizen, and at most
  ``priority`` priority calls pass a waiting regular one.
* **Oldest first across services, weighted.**  Within the chosen class the
  gerai takes the head of the queue whose head has waited longest, each
  wait multiplied by that service's weight (default 1).  A lighter service
  still ages, so it is never starved either.  Ties go to the earlier issue.
* **Listed order** (a gerai with ``order = "listed"``): the first service in
  the gerai's list that has a ticket of the chosen class waiting, e.g. a gerai
  that helps a second service only when its own has nobody waiting.
* Within one service and class, tickets are always called in issue order.
"""

from __future__ import annotations


def choose_class(
    priority_waiting: bool, regular_waiting: bool, pos: int, n_priority: int, n_regular: int
) -> tuple[bool, int]:
    """Return (call a priority ticket?, the gerai's next cycle position).

    ``pos`` counts the calls made in the current cycle of ``n_priority +
    n_regular`` calls while both classes waited.
    """
    if not (priority_waiting and regular_waiting):
        return priority_waiting, 0
    cycle = n_priority + n_regular
    pos %= cycle
    use_priority = pos < n_priority
    return use_priority, (pos + 1) % cycle


def choose_listed(head_services: set[str], listed: list[str]) -> str:
    """The first service of ``listed`` that has a head ticket."""
    for service in listed:
        if service in head_services:
            return service
    raise ValueError("no service has a ticket waiting")


def choose_service(
    head_issued_at: dict[str, float],
    head_order: dict[str, int],
    weights: dict[str, float],
    now: float,
) -> str:
    """The service whose head ticket has the largest weighted wait.

    ``head_issued_at`` and ``head_order`` hold, for each service with a
    ticket of the chosen class waiting, its head ticket's issue time and
    issue order.
    """
    if not head_issued_at:
        raise ValueError("no service has a ticket waiting")

    def key(service: str) -> tuple[float, int]:
        waited = max(0.0, now - head_issued_at[service])
        return (waited * weights.get(service, 1.0), -head_order[service])

    return max(head_issued_at, key=key)
