from flask import Flask

from web.auth import notifications  # noqa: F401  (adds the notification centre to bp)
from web.auth.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
