"""The domain: models and the rules of accounts, FAQ, notifications and more. No HTTP, no Celery."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Bind the domain's extensions (the database) to a Flask app, web or worker."""
    from services import storage
    from services.db import db

    db.init_app(app)
    storage.init_app(app)
    # Importing the models registers them with the metadata; importing each domain's messages
    # registers its notification kinds and handlers, in this order (the order the preferences and
    # the OpenAPI document's enum of kinds list them): accounts (operations, coaches), booking,
    # résumés.
    # faq renders answers as they are saved (a flush hook).
    from services import faq, models  # noqa: F401
    from services.accounts import coaches, operations  # noqa: F401
    from services.booking import messages as booking_messages  # noqa: F401
    from services.resumes import messages as resume_messages  # noqa: F401
