"""An API answer held against the served OpenAPI document: the schema the document gives for that
path, method and status, with every ``$ref`` resolved in the document, validated as JSON Schema
2020-12 (what OpenAPI 3.1 schemas are)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def faults(
    client: Any, method: str, path: str, status: int, body: Any, *, media: str = "application/json"
) -> list[str]:
    """What in ``body`` the document does not describe (an empty list when it conforms).
    ``path`` is the document's template, such as ``/api/v1/bookings/{booking_id}``."""
    document = client.get("/api/v1/openapi.json").json
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = {**answer["content"][media]["schema"], "components": document["components"]}
    validator = Draft202012Validator(schema)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(body)
    )
