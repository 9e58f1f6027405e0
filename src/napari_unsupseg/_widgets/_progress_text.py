"""What the progress bar and status line say, for runs that stop on a criterion too.

The self-training CNNs stop when their label count falls to ``min_labels`` (Kim,
Kanezaki & Tanaka 2020), usually long before ``max_iter``: a bar of iteration /
max_iter stood at 1-3% until the run ended. The bar shows whichever is further along,
the iterations or the label count's way from its first value down to the goal, and
the status line names the goal.
"""

from __future__ import annotations

from .._progress import Progress


def fraction(event: Progress, first_labels: int | None) -> float:
    """How far the run is, in [0, 1]."""
    done = min(event.iteration, event.total) / event.total if event.total else 0.0
    goal, now = event.goal, event.n_labels
    if goal and now is not None and first_labels is not None and first_labels > goal:
        done = max(done, (first_labels - now) / (first_labels - goal))
    return min(max(done, 0.0), 1.0)


def describe(event: Progress) -> str:
    parts = [event.stage] if event.stage else []
    if event.total:
        parts.append(f"iteration {event.iteration} / {event.total}")
    if event.n_labels is not None:
        goal = f", stops at {event.goal}" if event.goal else ""
        parts.append(f"{event.n_labels} labels{goal}")
    if event.loss is not None:
        parts.append(f"loss {event.loss:.3g}")
    return " · ".join(parts)
