"""The baselines: bare Flask on the same gunicorn settings as the app, nothing of the app's.

    gunicorn benchmarks.bare_app:app     (DATABASE_URL must point at a migrated database)

- ``GET /hello``: a constant string, the framework's own cost per request;
- ``GET /page``: an 8 KB Jinja page (a layout, a loop, escaping), what a cached page could cost;
- ``GET /pk/<id>``: one row read by primary key through Flask-SQLAlchemy (its session, the pool,
  the teardown), the least a database-backed answer costs.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, abort, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

import config
import services.db  # noqa: F401  (the app's pool checks, so the pool behaves the same)

app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
app.config.update(
    SQLALCHEMY_DATABASE_URI=config.normalise_database_url(os.environ["DATABASE_URL"]),
)
db = SQLAlchemy(app)

# What the page shows: 22 items of about 350 bytes each (8 KB in all), rendered and escaped on
# every request.
ITEMS = [
    {
        "title": f"Question {i}: what does a machine learning engineer do all day?",
        "body": "Builds, ships and maintains models in production & keeps them <honest>. " * 2,
    }
    for i in range(22)
]


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"


@app.get("/page")
def page() -> str:
    return render_template("bare_page.html", title="A bare page", items=ITEMS)


@app.get("/pk/<int:user_id>")
def read_by_primary_key(user_id: int) -> dict[str, object]:
    row = db.session.execute(
        text('SELECT id, name, email FROM "user" WHERE id = :id'), {"id": user_id}
    ).first()
    if row is None:
        abort(404)
    return {"id": row.id, "name": row.name, "email": row.email}
