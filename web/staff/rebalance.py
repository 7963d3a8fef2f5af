"""Staff: propose, apply and undo a rebalance of the offered résumés. Applying or undoing asks
first, naming every move: an in-page dialog (static/js/staff_rebalance.js), or without
JavaScript a page of its own."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from services.errors import DomainError, NotFound
from services.resumes import rebalance
from web.roles import role_required
from web.staff import bp
from web.transactions import writing


def count(n: int, one: str, many: str) -> str:
    """``count(1, "résumé", "résumés")``: "1 résumé"; "3 résumés"."""
    return f"{n} {one if n == 1 else many}"


@bp.route("/rebalance")
@role_required("staff")
def rebalance_page() -> str:
    plans = rebalance.recent(current_user)
    return render_template(
        "staff/rebalance.html",
        plans=plans,
        moves=rebalance.describe(plans),
        already_even=rebalance.ALREADY_EVEN,
    )


@bp.route("/rebalance", methods=["POST"])
@role_required("staff")
def rebalance_propose() -> Response:
    with writing():
        plan = rebalance.propose(current_user)
    if plan.moves:
        flash(
            f"Plan {plan.id} proposed: {count(len(plan.moves), 'résumé', 'résumés')} would move. "
            "Nothing changes until you apply it.",
            "success",
        )
    else:
        flash(rebalance.ALREADY_EVEN, "info")
    return redirect(url_for("staff.rebalance_page") + f"#plan-{plan.id}")


@bp.route("/rebalance/<int:plan_id>/<any(apply, undo):verb>")
@role_required("staff")
def rebalance_confirm(plan_id: int, verb: str) -> str | Response:
    """The confirmation without JavaScript: what would move, and the button that does it."""
    try:
        plan = rebalance.get_plan(plan_id)
    except NotFound:
        abort(404)
    if plan.status != ("proposed" if verb == "apply" else "applied"):
        flash(f"Plan {plan.id} is {plan.status}: there is nothing to {verb}.", "error")
        return redirect(url_for("staff.rebalance_page"))
    return render_template(
        "staff/rebalance_confirm.html",
        plan=plan,
        verb=verb,
        moves=rebalance.describe([plan])[plan.id],
    )


@bp.route("/rebalance/<int:plan_id>/<any(apply, undo):verb>", methods=["POST"])
@role_required("staff")
def rebalance_act(plan_id: int, verb: str) -> Response:
    try:
        with writing():
            planned = len(rebalance.get_plan(plan_id).moves)
            done = (rebalance.apply if verb == "apply" else rebalance.undo)(current_user, plan_id)
    except DomainError as exc:
        flash(exc.detail, "error")
        return redirect(url_for("staff.rebalance_page"))
    if verb == "undo":
        planned = sum(1 for m in rebalance.get_plan(plan_id).moves if m.get("applied"))
    moved = count(len(done), "résumé", "résumés")
    message = (
        f"Plan {plan_id} applied: {moved} moved."
        if verb == "apply"
        else f"Plan {plan_id} undone: {moved} moved back."
    )
    left = planned - len(done)
    if left:
        where = "it is" if left == 1 else "they are"
        message += (
            f" {count(left, 'résumé was', 'résumés were')} left where {where}: accepted, "
            "pinned or moved since the plan was made."
        )
    flash(message, "success")
    return redirect(url_for("staff.rebalance_page") + f"#plan-{plan_id}")
