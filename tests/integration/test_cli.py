from sqlalchemy import func, select

from services.models import AvailabilityRule, FaqEntry, InterviewType, User


def test_users_create_makes_a_user_and_prints_its_id(app, db_session):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "Coach@Example.com",
            "--password",
            "long password",
            "--role",
            "coach",
            "--name",
            "Cleo",
            "--timezone",
            "Europe/Berlin",
            "--expertise",
            "ml, Python",
        ]
    )

    assert result.exit_code == 0, result.output
    user = db_session.get(User, int(result.output.strip()))
    assert (user.email, user.role, user.name, user.timezone) == (
        "coach@example.com",
        "coach",
        "Cleo",
        "Europe/Berlin",
    )
    assert user.expertise == ["ml", "python"]


def test_users_create_refuses_bad_input_and_changes_nothing(app, db_session):
    before = db_session.scalar(select(func.count(User.id)))

    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "not-an-email",
            "--password",
            "short",
            "--role",
            "staff",
            "--timezone",
            "Nowhere/Land",
        ]
    )

    assert result.exit_code == 1
    assert "email" in result.output and "password" in result.output
    assert db_session.scalar(select(func.count(User.id))) == before


def test_seed_demo_loads_everything_and_is_idempotent(app, db_session):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    counts = [
        db_session.scalar(select(func.count(model.id)))
        for model in (User, FaqEntry, InterviewType, AvailabilityRule)
    ]
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == second.exit_code == 0
    assert "staff@example.com" in first.output and "learner" in first.output
    assert counts == [
        db_session.scalar(select(func.count(model.id)))
        for model in (User, FaqEntry, InterviewType, AvailabilityRule)
    ]
    roles = db_session.scalars(select(User.role)).all()
    assert roles.count("staff") >= 1 and roles.count("coach") >= 2 and roles.count("learner") >= 2
    assert counts[1] == 6
    assert set(db_session.scalars(select(InterviewType.slug))) >= {
        "behavioral",
        "technical-ml",
        "ml-system-design",
        "coding",
    }
