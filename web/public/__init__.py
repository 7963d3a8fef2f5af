from flask import Flask

from web.public.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
