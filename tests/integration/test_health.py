from tests.conftest import free_port


def test_healthz_answers_whenever_the_process_serves(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_200_when_database_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_readyz_is_503_naming_redis_when_redis_is_unreachable(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "redis" in response.json["detail"]
    assert "database" not in response.json["detail"]
    assert response.json["checks"]["database"] == "ok"
