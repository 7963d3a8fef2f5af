"""Pages for coaches: availability, sessions and reviews."""

from flask import Blueprint, Flask

bp = Blueprint("coach", __name__, url_prefix="/coach")

from web.coach import reviews, sessions  # noqa: E402, F401  (they add routes to bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
