"""The staff console."""

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")

from web.staff import (  # noqa: E402, F401  (add routes to bp)
    coaches,
    console,
    content,
    deliveries,
    hours,
    intake,
    policy,
    rebalance,
    requests,
    resumes,
    sessions,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
