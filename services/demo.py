"""Demo data for a one-machine run: `flask --app wsgi seed-demo`. Idempotent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services import accounts, faq, interview_types
from services.db import db
from services.models import AvailabilityRule, Role


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    role: str
    name: str
    timezone: str
    expertise: tuple[str, ...] = ()
    # The types a coach runs (None: every active type).
    interview_types: tuple[str, ...] | None = None


DEMO_USERS = (
    DemoUser("staff@example.com", "staff-demo-pass", Role.STAFF, "Sam Staff", "America/New_York"),
    DemoUser(
        "coach.ada@example.com",
        "coach-demo-pass",
        Role.COACH,
        "Ada Coach",
        "Europe/Berlin",
        ("ml", "python", "mlops", "system-design"),
        ("technical-ml", "ml-system-design", "coding"),
    ),
    DemoUser(
        "coach.grace@example.com",
        "coach-demo-pass",
        Role.COACH,
        "Grace Coach",
        "America/Los_Angeles",
        ("python", "algorithms", "behavioural", "sql"),
        ("behavioural", "technical-ml", "coding"),
    ),
    DemoUser(
        "learner.lin@example.com",
        "learner-demo-pass",
        Role.LEARNER,
        "Lin Learner",
        "America/New_York",
    ),
    DemoUser(
        "learner.omar@example.com",
        "learner-demo-pass",
        Role.LEARNER,
        "Omar Learner",
        "Europe/London",
    ),
)

# Weekdays 09:00-17:00 in the coach's own time zone.
_DEMO_HOURS = [(day, dt.time(9), dt.time(17)) for day in range(5)]


def seed_demo() -> list[DemoUser]:
    """Load the FAQ, the interview types and the demo users with availability."""
    faq.load_seed()
    interview_types.ensure_defaults()
    for demo in DEMO_USERS:
        user = accounts.find_by_email(demo.email)
        if user is None:
            user = accounts.create_user(
                email=demo.email,
                password=demo.password,
                role=demo.role,
                name=demo.name,
                timezone=demo.timezone,
                expertise=list(demo.expertise),
            )
            if demo.role == Role.COACH:
                if demo.interview_types is not None:
                    interview_types.set_coach_types(user.id, demo.interview_types)
                for weekday, start, end in _DEMO_HOURS:
                    db.session.add(
                        AvailabilityRule(
                            coach_id=user.id, weekday=weekday, start_time=start, end_time=end
                        )
                    )
    db.session.flush()
    return list(DEMO_USERS)
