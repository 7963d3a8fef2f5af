import pytest

import config


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load({"APP_ENV": "production"})


def test_production_refuses_debug_mode():
    with pytest.raises(config.ConfigError, match="Debug"):
        config.load({"APP_ENV": "production", "SECRET_KEY": "x" * 40, "FLASK_DEBUG": "1"})


def test_defaults_work_on_one_machine():
    settings = config.load({"SECRET_KEY": "k"})

    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["MAX_UPLOAD_MB"] == 5
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_cookies_are_secure():
    settings = config.load({"APP_ENV": "production", "SECRET_KEY": "k" * 40})

    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True


def test_celery_is_configured_to_lose_no_work():
    settings = config.celery_settings(config.load({"SECRET_KEY": "k"}))

    assert settings["task_acks_late"] is True
    assert settings["task_reject_on_worker_lost"] is True
    assert settings["worker_prefetch_multiplier"] == 1
    assert settings["accept_content"] == ["json"]
    # Redelivery must not happen while a task may still legitimately be running.
    assert settings["broker_transport_options"]["visibility_timeout"] > settings["task_time_limit"]
    assert {q.name for q in settings["task_queues"]} == {
        "relay",
        "default",
        "notifications",
        "heavy",
    }
    # The relay (the recovery path) never waits behind a backlog of notifications.
    assert settings["task_routes"]["outbox.relay"]["queue"] == "relay"


def test_storage_is_the_folder_unless_an_s3_url_is_given():
    cfg = config.load({"SECRET_KEY": "x"})
    assert cfg["STORAGE_URL"] == "" and cfg["UPLOAD_DIR"]
    cfg = config.load({"SECRET_KEY": "x", "STORAGE_URL": "s3://career-files/uploads"})
    assert cfg["STORAGE_URL"] == "s3://career-files/uploads"
    from services.storage import parse_url

    assert parse_url(cfg["STORAGE_URL"]).prefix == "uploads"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"STORAGE_URL": "/srv/uploads"}, "s3://bucket/prefix"),
        ({"STORAGE_URL": "s3://Bad_Bucket/x"}, "bucket name"),
        ({"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_storage_and_log_settings_that_cannot_work_are_refused(env, words):
    with pytest.raises(config.ConfigError, match=words):
        config.load({"SECRET_KEY": "x", **env})
