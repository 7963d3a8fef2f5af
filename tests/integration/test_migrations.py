import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from services.db import db


def test_the_migrated_schema_matches_the_models(database_url):
    """`flask db upgrade` from empty to head builds exactly what the models describe."""
    import services.models  # noqa: F401

    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    engine.dispose()

    assert diff == []


def _upgrade(url: str, revision: str, command: str = "upgrade") -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", command, revision],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0010_keeps_every_coach_bookable_for_what_their_expertise_allowed(backend):
    """Coaches whose tags met every type run every type; the others run exactly what their tags
    allowed; a coach's other settings survive."""
    from tests.conftest import create_database, drop_database

    url = create_database(backend)
    engine = create_engine(url)
    try:
        _upgrade(url, "0009")
        with engine.begin() as conn:
            for slug, tags in [
                ("behavioural", "behavioural"),
                ("coding", "python,algorithms"),
                ("open", ""),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO interview_type (slug, name, description, duration_minutes,"
                        " buffer_before_minutes, buffer_after_minutes, min_notice_hours,"
                        " horizon_days, cancel_cutoff_hours, expertise, active)"
                        " VALUES (:slug, :slug, '', 45, 0, 15, 12, 30, 24, :tags, :active)"
                    ),
                    {"slug": slug, "tags": tags, "active": True},
                )
            for email, expertise in [
                ("all", '["behavioural", "python"]'),
                ("some", '["Algorithms"]'),
                ("none", '["interviews"]'),
            ]:
                conn.execute(
                    text(
                        'INSERT INTO "user" (email, name, role, timezone, password_hash, active,'
                        " session_version, expertise, review_capacity, created_at)"
                        " VALUES (:email, :email, 'coach', 'UTC', 'x', :yes, 0, :expertise, 5,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"email": email, "expertise": expertise, "yes": True},
                )
            conn.execute(
                text(
                    "INSERT INTO coach_booking_settings (coach_id, daily_session_cap)"
                    " SELECT id, 3 FROM \"user\" WHERE email = 'some'"
                )
            )
        _upgrade(url, "0010")
        with engine.connect() as conn:
            settings = dict(
                conn.execute(
                    text(
                        "SELECT u.email, s.runs_all_types FROM coach_booking_settings s"
                        ' JOIN "user" u ON u.id = s.coach_id'
                    )
                ).all()
            )
            runs = conn.execute(
                text(
                    'SELECT u.email, t.slug FROM coach_interview_type c JOIN "user" u'
                    " ON u.id = c.coach_id JOIN interview_type t ON t.id = c.interview_type_id"
                    " ORDER BY u.email, t.slug"
                )
            ).all()
            cap = conn.execute(
                text(
                    "SELECT daily_session_cap FROM coach_booking_settings"
                    " WHERE runs_all_types = :no AND daily_session_cap IS NOT NULL"
                ),
                {"no": False},
            ).scalar()
    finally:
        engine.dispose()
        drop_database(url)

    assert settings == {"some": False, "none": False}  # "all" keeps the default: every type
    # "open" has no tags: every coach could be booked for it, and still can.
    assert [tuple(r) for r in runs] == [("none", "open"), ("some", "coding"), ("some", "open")]
    assert cap == 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0016_spells_the_behavioral_type_and_tag_in_us_english_and_back(backend):
    """The type's slug, its default name and every "behavioural" tag (a type's and a coach's) are
    respelled; a name staff chose, other tags and their order stay; downgrading restores them."""
    from tests.conftest import create_database, drop_database

    url = create_database(backend)
    engine = create_engine(url)

    def read() -> tuple[list[tuple[str, str, str]], dict[str, list[str]]]:
        with engine.connect() as conn:
            types = conn.execute(
                text("SELECT slug, name, expertise FROM interview_type ORDER BY id")
            ).all()
            users = conn.execute(text('SELECT email, expertise FROM "user" ORDER BY id')).all()
        return [tuple(t) for t in types], {
            email: tags if isinstance(tags, list) else json.loads(tags) for email, tags in users
        }

    try:
        _upgrade(url, "0015")
        with engine.begin() as conn:
            for slug, name, tags in [
                ("behavioural", "Behavioural", "Behavioural, python"),
                ("story", "Behavioural stories", "behavioural"),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO interview_type (slug, name, description, duration_minutes,"
                        " buffer_before_minutes, buffer_after_minutes, min_notice_hours,"
                        " horizon_days, cancel_cutoff_hours, expertise, active)"
                        " VALUES (:slug, :name, '', 45, 0, 15, 12, 30, 24, :tags, :yes)"
                    ),
                    {"slug": slug, "name": name, "tags": tags, "yes": True},
                )
            for email, expertise in [
                ("ada", '["sql", "Behavioural", "python"]'),
                ("lin", '["python"]'),
            ]:
                conn.execute(
                    text(
                        'INSERT INTO "user" (email, name, role, timezone, password_hash, active,'
                        " session_version, expertise, review_capacity, created_at, clock)"
                        " VALUES (:email, :email, 'coach', 'UTC', 'x', :yes, 0, :expertise, 5,"
                        " CURRENT_TIMESTAMP, '24h')"
                    ),
                    {"email": email, "expertise": expertise, "yes": True},
                )
        before = read()
        _upgrade(url, "0016")
        after = read()
        _upgrade(url, "0015", command="downgrade")
        undone = read()
    finally:
        engine.dispose()
        drop_database(url)

    assert after == (
        [
            ("behavioral", "Behavioral", "behavioral, python"),
            ("story", "Behavioural stories", "behavioral"),
        ],
        {"ada": ["sql", "behavioral", "python"], "lin": ["python"]},
    )
    # Back in the old spelling (a tag comes back lower-case, as tags are compared).
    assert undone == (
        [
            ("behavioural", "Behavioural", "behavioural, python"),
            ("story", "Behavioural stories", "behavioural"),
        ],
        {"ada": ["sql", "behavioural", "python"], "lin": ["python"]},
    )
    assert before[1]["ada"] == ["sql", "Behavioural", "python"]
