"""Commands: `flask --app wsgi users create ...`, `flask --app wsgi seed-demo` and
`flask --app wsgi storage migrate --to s3://bucket/prefix`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from services import accounts, demo
from services import storage as file_storage
from services.booking import interview_types
from services.errors import ValidationFailed
from services.storage import StorageUnavailable
from services.storage import migrate as storage_migrate
from web.transactions import writing

users = AppGroup("users", help="Manage user accounts.")


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["learner", "coach", "staff"]))
@click.option("--name", default=None)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--expertise", default="", help="Comma-separated tags, for coaches: ml,python")
@click.option(
    "--interview-types",
    "type_slugs",
    default=None,
    help="Comma-separated slugs, for coaches: the types they run (default: every active type).",
)
@click.option("--capacity", default=5, show_default=True, help="Open reviews a coach can hold.")
def create_user(
    email: str,
    password: str,
    role: str,
    name: str | None,
    timezone: str,
    expertise: str,
    type_slugs: str | None,
    capacity: int,
) -> None:
    """Make a user and print its id."""
    slugs = None if type_slugs is None else [s for s in type_slugs.split(",") if s.strip()]
    try:
        if slugs is not None and role != "coach":
            raise ValidationFailed.field("interview_types", "Only coaches run interview types.")
        if slugs == []:
            raise ValidationFailed.field(
                "interview_types", "Name one or more types, e.g. coding,behavioral."
            )
        with writing():
            user = accounts.create_user(
                email=email,
                password=password,
                role=role,
                name=name,
                timezone=timezone,
                expertise=[tag for tag in expertise.split(",") if tag.strip()],
                review_capacity=capacity,
            )
            if slugs is not None:
                interview_types.set_coach_types(user.id, slugs)
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            click.echo(f"error: {field}: {' '.join(messages)}", err=True)
        raise SystemExit(1) from exc
    click.echo(user.id)


@click.command("seed-demo")
def seed_demo() -> None:
    """Load the FAQ, interview types and demo users with availability (idempotent)."""
    with writing():
        demo_users = demo.seed_demo()
    click.echo("Demo data loaded. Sign in with:")
    for user in demo_users:
        click.echo(f"  {user.role:<8} {user.email:<28} {user.password}")


storage = AppGroup("storage", help="Manage stored files (uploads).")


@storage.command("migrate")
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The object store to copy to: s3://bucket/prefix (its endpoint and keys: the S3_* "
    "settings).",
)
def migrate_storage(target_url: str) -> None:
    """Copy every file from the local folder (UPLOAD_DIR) to an object store, verifying each by
    its SHA-256 read back from the store. Safe to run again; then set STORAGE_URL to it."""
    try:
        target = file_storage.from_config({**current_app.config, "STORAGE_URL": target_url})
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    source = file_storage.from_config({**current_app.config, "STORAGE_URL": ""})
    click.echo(f"Copying {source.url} to {target.url} ...")
    try:
        report = storage_migrate.migrate(
            source, target, say=lambda line: click.echo(line, err=True)
        )
    except StorageUnavailable as exc:
        click.echo(f"error: {target.url}: {exc.detail}", err=True)
        raise SystemExit(1) from exc
    click.echo(
        f"{len(report.copied)} copied, {len(report.already_there)} already there, each verified "
        f"by its hash; {len(report.damaged)} damaged, {len(report.failed)} failed, "
        f"{len(report.missing)} named by a row but missing."
    )
    if not report.ok:
        raise SystemExit(1)
    click.echo(f"Done. Set STORAGE_URL={target_url} on every web and worker host.")


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(seed_demo)
    app.cli.add_command(storage)
