"""The résumé wing's settings, read from the app's config."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Settings:
    upload_dir: str
    max_upload_bytes: int
    accept_window: dt.timedelta
    due_in: dt.timedelta
    parse_timeout: float
    parse_memory_mb: int
    correction_window: dt.timedelta

    @classmethod
    def current(cls) -> Settings:
        cfg = current_app.config
        return cls(
            upload_dir=str(cfg["UPLOAD_DIR"]),
            max_upload_bytes=int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024,
            accept_window=dt.timedelta(hours=float(cfg.get("RESUME_ACCEPT_HOURS", 24))),
            due_in=dt.timedelta(hours=float(cfg.get("RESUME_DUE_HOURS", 72))),
            parse_timeout=float(cfg.get("RESUME_PARSE_TIMEOUT_SECONDS", 30)),
            parse_memory_mb=int(cfg.get("RESUME_PARSE_MEMORY_MB", 512)),
            correction_window=dt.timedelta(hours=float(cfg.get("REVIEW_CORRECTION_HOURS", 24))),
        )
