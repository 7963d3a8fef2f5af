"""The baseline: bare Flask on the same gunicorn settings, one primary-key read per request.

gunicorn benchmarks.bare_app:app     (DATABASE_URL must point at a migrated database)
"""

from __future__ import annotations

import os

from flask import Flask, abort
from sqlalchemy import create_engine, text

import config

app = Flask(__name__)
engine = create_engine(
    config.normalise_database_url(os.environ["DATABASE_URL"]), pool_pre_ping=True
)


@app.get("/pk/<int:user_id>")
def read_by_primary_key(user_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            text('SELECT id, name, email FROM "user" WHERE id = :id'), {"id": user_id}
        ).first()
    if row is None:
        abort(404)
    return {"id": row.id, "name": row.name, "email": row.email}
