"""Every model, one module per aggregate; importing this registers them all with the metadata."""

from services.models.accounts import ApiToken, Role, User
from services.models.booking import AvailabilityException, AvailabilityRule, InterviewType
from services.models.content import FaqEntry, Page
from services.models.notifications import Delivery, DeliveryStatus, Notification, OutboxEvent

__all__ = [
    "ApiToken",
    "AvailabilityException",
    "AvailabilityRule",
    "Delivery",
    "DeliveryStatus",
    "FaqEntry",
    "InterviewType",
    "Notification",
    "OutboxEvent",
    "Page",
    "Role",
    "User",
]
