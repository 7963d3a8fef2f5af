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
    # Importing the models registers them with the metadata; importing the domain modules registers
    # their notification handlers.
    # (accounts, booking, proposals, waitlist, staff, staff_requests and resumes.messages hold
    # handlers.)
    from services import (  # noqa: F401
        accounts,
        booking,
        models,
        proposals,
        staff,
        staff_requests,
        waitlist,
    )
    from services.resumes import messages  # noqa: F401
