"""The Celery app: `celery -A workers worker` and `celery -A workers beat` find it as ``app``."""

from workers.app import create_celery

app = create_celery()
celery = app

__all__ = ["app", "celery"]
