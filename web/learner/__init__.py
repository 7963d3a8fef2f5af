"""Pages for learners: bookings and résumés."""

from flask import Blueprint, Flask

bp = Blueprint("learner", __name__, url_prefix="/learn")

from web.learner import bookings, requests, resumes  # noqa: E402, F401  (they add routes to bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
