"""The staff console."""

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")

from web.staff import console  # noqa: E402, F401  (adds routes to bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
