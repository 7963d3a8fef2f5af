"""Commands: `flask --app wsgi users create ...` and `flask --app wsgi seed-demo`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from services import accounts, demo
from services.booking import interview_types
from services.errors import ValidationFailed
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


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(seed_demo)
