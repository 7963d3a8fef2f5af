"""Rebalance: an optimal re-assignment of every offered-but-not-accepted résumé staff did not pin.

A min-cost flow (networkx ``min_cost_flow``, network simplex): source -> each offered résumé
(one unit) -> each of its best few eligible coaches (its current coach always among them) -> the
coach's slots -> sink. Costs, integers: skill fit (``(MAX_BAND - band) * fit_weight``), a small
cost for moving at all (so ties keep the résumé where it is), and a convex cost per slot
(the k-th offer of a coach costs more as their load in per cent rises), which evens load. Capacity
per coach: their review capacity minus the reviews they already accepted (never less than what
they hold now, so the current state is always feasible). Eligibility is the routing policy's:
active, not on time off, not excluded from this résumé (declined, expired, conflict).

Two promises staff can rely on:
- a résumé staff assigned by hand (its offer is pinned) never moves, by a plan or when one is
  applied later;
- a plan never leaves the load less even than now. Evenness is measured on each active coach's
  open load (offers and reviews) as a share of their capacity: the gap between the busiest and
  the least busy coach, and the variance; neither may grow. A flow that would trade evenness for
  skill fit is recomputed with less weight on fit, down to none; when no flow improves anything,
  the plan moves nothing ("The load is already as even as it can be").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import networkx as nx
from sqlalchemy import func, select

from services import audit
from services.access import require_staff
from services.db import db, utcnow
from services.errors import Conflict, NotFound
from services.models import (
    Assignment,
    AssignmentStatus,
    RebalancePlan,
    Resume,
    User,
)
from services.resumes import routing
from services.resumes.views import current_version, live_assignment
from services.validation import is_id

TOP_COACHES = 3
FIT_WEIGHT = 400
# Tried in turn: the first flow that leaves the load no less even is the plan.
FIT_WEIGHTS = (FIT_WEIGHT, FIT_WEIGHT // 2, FIT_WEIGHT // 4, FIT_WEIGHT // 8, 0)
MOVE_COST = 60
LOAD_WEIGHT = 1000
ALREADY_EVEN = "The load is already as even as it can be."


class PlanStale(Conflict):
    code = "plan_stale"


@dataclass(frozen=True)
class Slot:
    coach_id: int
    band: int


@dataclass(frozen=True)
class Evenness:
    """How even a load is: the gap between the largest and smallest share of capacity, and the
    variance of the shares (exact fractions, so "no worse" is never a rounding accident)."""

    gap: Fraction
    variance: Fraction

    def no_worse_than(self, other: Evenness) -> bool:
        return self.gap <= other.gap and self.variance <= other.variance

    @property
    def deviation_points(self) -> float:
        """The standard deviation of the shares, in points of capacity (for reading only)."""
        return round(100 * math.sqrt(self.variance), 1)

    def better_than(self, other: Evenness) -> bool:
        return self.no_worse_than(other) and (
            self.gap < other.gap or self.variance < other.variance
        )


def evenness(load: Mapping[int, int], capacity: Mapping[int, int]) -> Evenness:
    """The evenness of ``load`` (open offers and reviews per coach) over the coaches of
    ``capacity`` that have any."""
    shares = [Fraction(load.get(c, 0), cap) for c, cap in capacity.items() if cap > 0]
    if not shares:
        return Evenness(Fraction(0), Fraction(0))
    mean = sum(shares, Fraction(0)) / len(shares)
    variance = sum(((s - mean) ** 2 for s in shares), Fraction(0)) / len(shares)
    return Evenness(max(shares) - min(shares), variance)


def _points(value: Fraction) -> float:
    return round(float(100 * value), 1)


def _load_cost(used_after: int, capacity: int) -> int:
    # Convex in the load: the marginal cost of the k-th unit is proportional to (k / capacity)^2.
    share = used_after / max(capacity, 1)
    return int(LOAD_WEIGHT * share * share)


def _flow(
    options: dict[int, list[Slot]],
    current: dict[int, Slot],
    rooms: dict[int, tuple[int, int, int]],
    fit_weight: int,
) -> list[dict[str, Any]]:
    """The moves of the min-cost flow for one weight on skill fit. ``rooms``: per coach, (review
    capacity, reviews accepted, slots for offers)."""
    graph = nx.DiGraph()
    graph.add_node("source", demand=-len(options))
    graph.add_node("sink", demand=len(options))
    for coach_id, (capacity, base, room) in rooms.items():
        for k in range(1, room + 1):
            node = ("slot", coach_id, k)
            graph.add_edge(
                ("coach", coach_id), node, capacity=1, weight=_load_cost(base + k, capacity)
            )
            graph.add_edge(node, "sink", capacity=1, weight=0)
    for resume_id, slots in options.items():
        graph.add_edge("source", ("resume", resume_id), capacity=1, weight=0)
        for slot in slots:
            cost = (routing.MAX_BAND - slot.band) * fit_weight
            if slot.coach_id != current[resume_id].coach_id:
                cost += MOVE_COST
            graph.add_edge(("resume", resume_id), ("coach", slot.coach_id), capacity=1, weight=cost)
    flow = nx.min_cost_flow(graph) if options else {}
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
    return moves


def _after(counts: Mapping[int, int], moves: list[dict[str, Any]]) -> dict[int, int]:
    after = dict(counts)
    for m in moves:
        after[m["from_id"]] = after.get(m["from_id"], 0) - 1
        after[m["to_id"]] = after.get(m["to_id"], 0) + 1
    return after


def propose(staff: User, *, top: int = TOP_COACHES) -> RebalancePlan:
    """Compute and store a proposal: never a pinned résumé, never a less even load (with no moves
    when nothing would improve). Raises Forbidden."""
    require_staff(staff)
    now = utcnow()
    offered = list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.status == AssignmentStatus.OFFERED)
            .order_by(Assignment.id)
        )
    )
    pinned = [a for a in offered if a.pinned_at is not None]
    movable = [a for a in offered if a.pinned_at is None]
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
    # Pinned offers stay where they are: they take their coach's room like accepted reviews.
    for a in pinned:
        accepted[a.coach_id] = accepted.get(a.coach_id, 0) + 1
    held: dict[int, int] = {}
    options: dict[int, list[Slot]] = {}
    current: dict[int, Slot] = {}
    for a in movable:
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

    rooms: dict[int, tuple[int, int, int]] = {}
    for coach_id in {s.coach_id for slots in options.values() for s in slots}:
        coach = coaches.get(coach_id)
        capacity = coach.review_capacity if coach else 0
        base = accepted.get(coach_id, 0)
        rooms[coach_id] = (capacity, base, max(capacity - base, held.get(coach_id, 0)))

    capacities = {c.id: c.review_capacity for c in coaches.values()}
    even_before = evenness(counts, capacities)
    fit_before = sum(s.band for s in current.values())
    moves: list[dict[str, Any]] = []
    for fit_weight in FIT_WEIGHTS:
        candidate = _flow(options, current, rooms, fit_weight)
        even = evenness(_after(counts, candidate), capacities)
        fit = fit_before + sum(m["to_band"] - m["from_band"] for m in candidate)
        if even.no_worse_than(even_before) and (even.better_than(even_before) or fit > fit_before):
            moves = candidate
            break
    after = _after(counts, moves)
    even_after = evenness(after, capacities)
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
    plan = RebalancePlan(
        created_at=now,
        created_by_id=staff.id,
        status="proposed",
        moves=moves,
        summary={
            "offered": len(offered),
            "pinned": len(pinned),
            "fit_before": fit_before,
            "fit_after": fit_after,
            # the gap between the busiest and the least busy coach, in points of capacity
            "spread_before_pct": _points(even_before.gap),
            "spread_after_pct": _points(even_after.gap),
            # the standard deviation of the shares, in points
            "deviation_before_pct": even_before.deviation_points,
            "deviation_after_pct": even_after.deviation_points,
            "load": load,
        },
    )
    db.session.add(plan)
    db.session.flush()
    return plan


@dataclass(frozen=True)
class MoveView:
    """One move of a plan as staff read it: whose résumé, for which role, from whom to whom."""

    resume_id: int
    learner: str
    target_role: str
    from_name: str
    to_name: str
    from_band: int | None
    to_band: int | None
    applied: bool | None


def describe(plans: list[RebalancePlan]) -> dict[int, list[MoveView]]:
    """Each plan's moves with names (two queries for any number of plans)."""
    resume_ids = {m["resume_id"] for p in plans for m in p.moves}
    user_ids = {m[k] for p in plans for m in p.moves for k in ("from_id", "to_id")}
    rows = (
        db.session.execute(
            select(Resume.id, Resume.target_role, Resume.learner_id).where(
                Resume.id.in_(resume_ids)
            )
        ).all()
        if resume_ids
        else []
    )
    user_ids |= {int(r.learner_id) for r in rows}
    names = (
        {
            int(i): str(n)
            for i, n in db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    resumes = {int(r.id): (names.get(int(r.learner_id), "?"), str(r.target_role)) for r in rows}
    return {
        p.id: [
            MoveView(
                resume_id=m["resume_id"],
                learner=resumes.get(m["resume_id"], ("?", "?"))[0],
                target_role=resumes.get(m["resume_id"], ("?", "?"))[1],
                from_name=names.get(m["from_id"], f"coach {m['from_id']}"),
                to_name=names.get(m["to_id"], f"coach {m['to_id']}"),
                from_band=m.get("from_band"),
                to_band=m.get("to_band"),
                applied=m.get("applied"),
            )
            for m in p.moves
        ]
        for p in plans
    }


def recent(viewer: User, limit: int = 5) -> list[RebalancePlan]:
    """The latest plans, newest first. Raises Forbidden."""
    require_staff(viewer)
    return list(
        db.session.scalars(select(RebalancePlan).order_by(RebalancePlan.id.desc()).limit(limit))
    )


def get_plan(plan_id: int) -> RebalancePlan:
    plan = db.session.get(RebalancePlan, plan_id) if is_id(plan_id) else None
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
        if live.pinned_at is not None:
            continue  # staff pinned it by hand since the plan was made
        target = db.session.get(User, m[dst])
        if target is None or not target.active:
            continue
        routing.assign_manually(staff, m["resume_id"], m[dst], why)
        done.append({"resume_id": m["resume_id"], "from_id": m[src], "to_id": m[dst]})
    return done
