"""Email deliveries for staff: the failed ones (and any other status), and sending one again."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from services import notifications
from services.errors import DomainError
from services.models import DeliveryStatus
from web.roles import role_required
from web.staff import bp
from web.staff.console import page_or_first
from web.transactions import writing

STATUSES = [
    s.value
    for s in (
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
        DeliveryStatus.SENDING,
        DeliveryStatus.SENT,
    )
]


def _status_arg() -> str | None:
    status = request.values.get("status", DeliveryStatus.FAILED)
    return status if status in STATUSES else None  # anything else: all


@bp.route("/deliveries")
@role_required("staff")
def deliveries() -> str:
    status = _status_arg()
    page, first_page = page_or_first(
        lambda cursor: notifications.list_deliveries(current_user, status=status, cursor=cursor)
    )
    return render_template(
        "staff/deliveries.html",
        page=page,
        status=status,
        statuses=STATUSES,
        first_page=first_page,
        failed_total=notifications.count_failed(),
    )


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@role_required("staff")
def retry_delivery(delivery_id: int) -> Response:
    back = redirect(url_for("staff.deliveries", status=_status_arg() or "all"))
    try:
        with writing():
            delivery = notifications.retry_delivery(current_user, delivery_id)
    except DomainError as exc:
        flash(exc.detail, "error")
        return back
    flash(f"The email to {delivery.to_address} is queued to be sent again.", "success")
    return back
