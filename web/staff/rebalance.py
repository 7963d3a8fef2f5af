"""Staff: propose, apply and undo a rebalance of the offered résumés."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from services import rebalance
from services.db import db
from services.errors import DomainError
from services.models import RebalancePlan, User
from web.roles import role_required
from web.staff import bp


@bp.route("/rebalance")
@role_required("staff")
def rebalance_page() -> str:
    plans = list(
        db.session.scalars(select(RebalancePlan).order_by(RebalancePlan.id.desc()).limit(5))
    )
    ids = {m[k] for p in plans for m in p.moves for k in ("from_id", "to_id")}
    names = (
        {u.id: u.name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    return render_template("staff/rebalance.html", plans=plans, names=names)


@bp.route("/rebalance", methods=["POST"])
@role_required("staff")
def rebalance_propose() -> Response:
    plan = rebalance.propose(current_user)
    db.session.commit()
    flash(f"Proposal {plan.id}: {len(plan.moves)} moves.", "success")
    return redirect(url_for("staff.rebalance_page"))


@bp.route("/rebalance/<int:plan_id>/<any(apply, undo):verb>", methods=["POST"])
@role_required("staff")
def rebalance_act(plan_id: int, verb: str) -> Response:
    try:
        done = (rebalance.apply if verb == "apply" else rebalance.undo)(current_user, plan_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.detail, "error")
        return redirect(url_for("staff.rebalance_page"))
    db.session.commit()
    flash(f"Plan {plan_id}: {len(done)} résumés moved ({verb}).", "success")
    return redirect(url_for("staff.rebalance_page"))
