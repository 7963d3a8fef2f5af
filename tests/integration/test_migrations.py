from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

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
