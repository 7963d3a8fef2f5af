"""The booking wing's settings: the rules staff may tune, read from the app's config
(``BOOKING_*``) in this one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context


@dataclass(frozen=True)
class Policy:
    max_upcoming_per_type: int = 2
    max_reschedules: int = 2
    no_show_limit: int = 3
    no_show_window_days: int = 60
    suspension_days: int = 14
    hold_minutes: int = 30
    meeting_base_url: str = "https://meet.jit.si"
    slot_step_minutes: int = 30  # the grid of start times, from the Unix epoch
    default_daily_cap: int = 6  # sessions a coach takes a day unless they set their own
    feed_stale_hours: int = 24  # a coach's calendar not read for this long is stale
    stale_feeds_block: bool = True  # whether a stale calendar's last busy times still block


def policy() -> Policy:
    config: Any = current_app.config if has_app_context() else {}
    default = Policy()
    return Policy(
        max_upcoming_per_type=int(
            config.get("BOOKING_MAX_UPCOMING_PER_TYPE", default.max_upcoming_per_type)
        ),
        max_reschedules=int(config.get("BOOKING_MAX_RESCHEDULES", default.max_reschedules)),
        no_show_limit=int(config.get("BOOKING_NO_SHOW_LIMIT", default.no_show_limit)),
        no_show_window_days=int(
            config.get("BOOKING_NO_SHOW_WINDOW_DAYS", default.no_show_window_days)
        ),
        suspension_days=int(config.get("BOOKING_SUSPENSION_DAYS", default.suspension_days)),
        hold_minutes=int(config.get("BOOKING_WAITLIST_HOLD_MINUTES", default.hold_minutes)),
        meeting_base_url=str(
            config.get("BOOKING_MEETING_BASE_URL", default.meeting_base_url)
        ).rstrip("/"),
        slot_step_minutes=int(config.get("BOOKING_SLOT_STEP_MINUTES", default.slot_step_minutes)),
        default_daily_cap=int(config.get("BOOKING_COACH_DAILY_CAP", default.default_daily_cap)),
        feed_stale_hours=int(config.get("CALENDAR_FEED_STALE_HOURS", default.feed_stale_hours)),
        stale_feeds_block=bool(config.get("CALENDAR_FEED_STALE_BLOCKS", default.stale_feeds_block)),
    )
