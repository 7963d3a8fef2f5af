"""Who may act: the one check of a staff-only action, for every service."""

from __future__ import annotations

from services.errors import Forbidden
from services.models import Role, User


def require_staff(user: User, message: str = "Only staff use the console.") -> None:
    """Raise Forbidden unless ``user`` is staff (``message`` says what was refused)."""
    if user.role != Role.STAFF:
        raise Forbidden(message)
