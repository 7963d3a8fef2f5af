"""Rebalance: an optimal re-assignment of every offered-but-not-accepted résumé.

A min-cost flow (networkx ``min_cost_flow``, network simplex): source -> each offered résumé
(one unit) -> each of its best few eligible coaches (its current coach always among them) -> the
coach's slots -> sink. Costs, integers: skill fit (``(MAX_BAND - band) * FIT_WEIGHT``), a small
cost for moving at all (so ties keep the résumé where it is), and a convex cost per slot
(the k-th offer of a coach costs more as their load in per cent rises), which evens load. Capacity
per coach: their review capacity minus the reviews they already accepted (never less than what
they hold now, so the current state is always feasible). Eligibility is the routing policy's:
active, not on time off, not excluded from this résumé (declined, expired, conflict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
from sqlalchemy import func, select

from services import audit, routing
from services.access import require_staff
from services.db import MAX_ID, db, utcnow
from services.errors import Conflict, NotFound
from services.models import (
    Assignment,
    AssignmentStatus,
    RebalancePlan,
    Resume,
    User,
)
from services.resumes import current_version, live_assignment

TOP_COACHES = 3
FIT_WEIGHT = 400
MOVE_COST = 60
LOAD_WEIGHT = 1000


class PlanStale(Conflict):
    code = "plan_stale"


@dataclass(frozen=True)
class Slot:
    coach_id: int
    band: int


def _load_cost(used_after: int, capacity: int) -> int:
    # Convex in the load: the marginal cost of the k-th unit is proportional to (k / capacity)^2.
    share = used_after / max(capacity, 1)
    return int(LOAD_WEIGHT * share * share)


def propose(staff: User, *, top: int = TOP_COACHES) -> RebalancePlan:
    """Compute and store a proposal. Raises Forbidden."""
    require_staff(staff)
    now = utcnow()
    offered = list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.status == AssignmentStatus.OFFERED)
            .order_by(Assignment.id)
        )
    )
    counts = routing.open_counts()
    accepted: dict[int, int] = {
        int(coach_id): int(n)
        for coach_id, n in db.session.execute(
            select(Assignment.coach_id, func.count(Assignment.id))
            .where(Assignment.status == AssignmentStatus.ACCEPTED)
            .group_by(Assignment.coach_id)
        )
    }
    coaches = {
        c.id: c
        for c in db.session.scalars(select(User).where(User.role == "coach", User.active.is_(True)))
    }
    held: dict[int, int] = {}
    options: dict[int, list[Slot]] = {}
    current: dict[int, Slot] = {}
    for a in offered:
        resume = db.session.get(Resume, a.resume_id)
        assert resume is not None
        tags = routing.resume_tags(resume, current_version(resume))
        candidates = routing.candidates_for(resume, now)
        # "full" is not an exclusion here: the whole load is being re-planned.
        eligible = [c for c in candidates if c.excluded in (None, "full")]
        ranked = sorted(eligible, key=lambda c: (-c.band(tags), c.open / max(c.capacity, 1), c.id))
        best = [Slot(c.id, c.band(tags)) for c in ranked if c.capacity > 0][:top]
        mine = next((c for c in candidates if c.id == a.coach_id), None)
        here = Slot(a.coach_id, mine.band(tags) if mine else 0)
        current[a.resume_id] = here
        if all(s.coach_id != a.coach_id for s in best):
            best.append(here)
        options[a.resume_id] = best
        held[a.coach_id] = held.get(a.coach_id, 0) + 1

    graph = nx.DiGraph()
    graph.add_node("source", demand=-len(offered))
    graph.add_node("sink", demand=len(offered))
    involved = {s.coach_id for slots in options.values() for s in slots}
    for coach_id in involved:
        coach = coaches.get(coach_id)
        capacity = coach.review_capacity if coach else 0
        base = accepted.get(coach_id, 0)
        room = max(capacity - base, held.get(coach_id, 0))
        for k in range(1, room + 1):
            node = ("slot", coach_id, k)
            graph.add_edge(
                ("coach", coach_id), node, capacity=1, weight=_load_cost(base + k, capacity)
            )
            graph.add_edge(node, "sink", capacity=1, weight=0)
    for resume_id, slots in options.items():
        graph.add_edge("source", ("resume", resume_id), capacity=1, weight=0)
        for slot in slots:
            cost = (routing.MAX_BAND - slot.band) * FIT_WEIGHT
            if slot.coach_id != current[resume_id].coach_id:
                cost += MOVE_COST
            graph.add_edge(("resume", resume_id), ("coach", slot.coach_id), capacity=1, weight=cost)
    flow = nx.min_cost_flow(graph) if offered else {}

    moves: list[dict[str, Any]] = []
    for resume_id, slots in options.items():
        out = flow[("resume", resume_id)]
        target = next(s for s in slots if out.get(("coach", s.coach_id), 0) == 1)
        here = current[resume_id]
        if target.coach_id != here.coach_id:
            moves.append(
                {
                    "resume_id": resume_id,
                    "from_id": here.coach_id,
                    "to_id": target.coach_id,
                    "from_band": here.band,
                    "to_band": target.band,
                }
            )
    after = dict(counts)
    for m in moves:
        after[m["from_id"]] = after.get(m["from_id"], 0) - 1
        after[m["to_id"]] = after.get(m["to_id"], 0) + 1
    fit_before = sum(s.band for s in current.values())
    fit_after = fit_before + sum(m["to_band"] - m["from_band"] for m in moves)
    load: list[dict[str, Any]] = [
        {
            "coach_id": c.id,
            "name": c.name,
            "capacity": c.review_capacity,
            "before": counts.get(c.id, 0),
            "after": after.get(c.id, 0),
        }
        for c in sorted(coaches.values(), key=lambda c: c.name)
    ]

    def spread(key: str) -> float:
        shares = [row[key] / row["capacity"] for row in load if row["capacity"]]
        return round(100 * (max(shares) - min(shares)), 1) if shares else 0.0

    plan = RebalancePlan(
        created_at=now,
        created_by_id=staff.id,
        status="proposed",
        moves=moves,
        summary={
            "offered": len(offered),
            "fit_before": fit_before,
            "fit_after": fit_after,
            "spread_before_pct": spread("before"),
            "spread_after_pct": spread("after"),
            "load": load,
        },
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def get_plan(plan_id: int) -> RebalancePlan:
    plan = db.session.get(RebalancePlan, plan_id) if 0 < plan_id <= MAX_ID else None
    if plan is None:
        raise NotFound("There is no such rebalance plan.")
    return plan


def apply(staff: User, plan_id: int) -> list[dict[str, Any]]:
    """Apply a proposal: each move whose résumé is still offered to its "from" coach is
    reassigned (a manual routing decision each). Returns the moves made.
    Raises Forbidden, NotFound, PlanStale."""
    require_staff(staff)
    plan = get_plan(plan_id)
    if plan.status != "proposed":
        raise PlanStale(f"This plan was {plan.status} already.")
    done = _move(staff, plan, plan.moves, "from_id", "to_id", f"rebalance plan {plan.id}")
    plan.status = "applied"
    plan.applied_at = utcnow()
    plan.applied_by_id = staff.id
    plan.moves = [
        {**m, "applied": any(d["resume_id"] == m["resume_id"] for d in done)} for m in plan.moves
    ]
    db.session.flush()
    audit.record(staff, "rebalance.apply", "rebalance", plan.id, "", moves=done)
    return done


def undo(staff: User, plan_id: int) -> list[dict[str, Any]]:
    """Put back each applied move whose résumé is still offered to where the plan sent it.
    Raises Forbidden, NotFound, PlanStale."""
    require_staff(staff)
    plan = get_plan(plan_id)
    if plan.status != "applied":
        raise PlanStale("Only an applied plan can be undone.")
    applied = [m for m in plan.moves if m.get("applied")]
    done = _move(staff, plan, applied, "to_id", "from_id", f"undo rebalance plan {plan.id}")
    plan.status = "undone"
    plan.undone_at = utcnow()
    plan.undone_by_id = staff.id
    db.session.flush()
    audit.record(staff, "rebalance.undo", "rebalance", plan.id, "", moves=done)
    return done


def _move(
    staff: User, plan: RebalancePlan, moves: list[dict[str, Any]], src: str, dst: str, why: str
) -> list[dict[str, Any]]:
    routing.take_lock()
    done = []
    for m in moves:
        live = live_assignment(m["resume_id"])
        if live is None or live.status != AssignmentStatus.OFFERED or live.coach_id != m[src]:
            continue  # accepted, declined or moved since: leave it
        target = db.session.get(User, m[dst])
        if target is None or not target.active:
            continue
        routing.assign_manually(staff, m["resume_id"], m[dst], why)
        done.append({"resume_id": m["resume_id"], "from_id": m[src], "to_id": m[dst]})
    return done
