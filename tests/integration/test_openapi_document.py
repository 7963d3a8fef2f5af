"""The served OpenAPI document is one a machine can use: valid OpenAPI 3.1, every request and
response schema naming its keys, and only keywords that mean something for a schema's type."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from services import rubric
from services.models.resumes import CRITERIA

KEYWORDS = {
    "string": {"minLength", "maxLength", "pattern", "format"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "array": {"items", "minItems", "maxItems", "uniqueItems", "prefixItems", "contains"},
    "object": {
        "properties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "patternProperties",
    },
}
TYPED = set().union(*KEYWORDS.values()) - {"format"}  # integers take a format too
# Free-form by nature, and said so in their descriptions: the problem's `errors` are keyed by the
# request's own field names; a routing decision's components and an audit entry's detail differ
# from one action to the next.
FREE_FORM = {("Problem", "errors"), ("RoutingDecision", "components"), ("AuditEntry", "detail")}


def _document(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def _faults(schema: Any, where: tuple[str, ...]) -> list[str]:
    if not isinstance(schema, dict) or ("$ref" in schema and len(schema) == 1):
        return []
    faults = []
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    if types:
        allowed = set().union(*(KEYWORDS.get(t, set()) for t in types))
        faults += [f"{'.'.join(where)}: {k} on {types}" for k in schema if k in TYPED - allowed]
    if "object" in types and where[-2:] not in FREE_FORM and where[-1:] != ("body",):
        named = "properties" in schema and schema.get("additionalProperties") is False
        keys = schema.get("propertyNames", {})
        if not named and "enum" not in keys and "pattern" not in keys:
            faults.append(f"{'.'.join(where)}: an object that does not name its keys")
    for name, inner in schema.get("properties", {}).items():
        faults += _faults(inner, (*where, name))
    for key in ("items", "additionalProperties"):
        faults += _faults(schema.get(key), (*where, key))
    for key in ("anyOf", "oneOf", "allOf"):
        for i, inner in enumerate(schema.get(key, [])):
            faults += _faults(inner, (*where, f"{key}[{i}]"))
    return faults


def test_the_served_document_is_valid_openapi(client):
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in OpenAPIV31SpecValidator(_document(client)).iter_errors()
    ]
    assert errors == []


def test_every_schema_names_its_keys_and_uses_only_keywords_of_its_type(client):
    document = _document(client)
    faults = []
    for name, schema in document["components"]["schemas"].items():
        faults += _faults(schema, (name,))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own (path) parameters, a list
                continue
            for parameter in operation.get("parameters", []):
                faults += _faults(parameter["schema"], (method, path, parameter["name"]))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                faults += _faults(media["schema"], (method, path, "body"))
    assert faults == []


def test_a_client_can_read_the_review_criteria_and_the_upload_fields(client):
    schemas = _document(client)["components"]["schemas"]
    scores = schemas["ResumeReviewInput"]["properties"]["scores"]
    assert scores["$ref"] == "#/components/schemas/ReviewScores"
    assert scores["minProperties"] == 1
    criteria = schemas["ReviewScores"]
    assert tuple(criteria["properties"]) == CRITERIA
    assert criteria["additionalProperties"] is False
    for name, p in criteria["properties"].items():
        assert {k: v for k, v in p.items() if k != "description"} == {
            "type": "integer",
            "minimum": 1,
            "maximum": 5,
        }
        # The rubric's anchors, as the coach's page shows them (services/rubric.py).
        assert all(text in p["description"] for text in rubric.BY_ID[name].anchors.values())
    review_path = _document(client)["paths"]["/api/v1/resumes/{resume_id}/review"]
    assert {"post", "put"} <= set(review_path)  # send, and correct within the window
    assert "correction_closed" in review_path["put"]["responses"]["409"]["description"]
    sent = schemas["ResumeReview"]["properties"]
    assert {"corrected_at", "correctable_until"} <= set(sent)
    upload = _document(client)["paths"]["/api/v1/resumes"]["post"]
    assert "parameters" not in upload
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    form = schemas[body["$ref"].rsplit("/", 1)[1]]
    assert set(form["properties"]) == {
        "file",
        "target_role",
        "notes",
        "job_description",
        "job_file",
    }
    assert set(form["required"]) == {"file", "target_role"}


def _strings(schema: Any, schemas: dict[str, Any], where: str, seen: frozenset[str]) -> list[str]:
    """Every string a schema takes, with where it is, following $refs (each once)."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return _strings(schemas[name], schemas, where, seen | {name})
    found = []
    declared = schema.get("type")
    if declared == "string" or (isinstance(declared, list) and "string" in declared):
        found.append((where, schema))
    for name, inner in schema.get("properties", {}).items():
        if not inner.get("readOnly"):
            found += _strings(inner, schemas, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        found += _strings(schema.get(key), schemas, f"{where}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for inner in schema.get(key, []):
            found += _strings(inner, schemas, where, seen)
    return found


def test_every_string_a_client_sends_says_what_it_may_hold(client):
    """An enum, a format or a pattern: free text is `^[^\\u0000]*$` (PostgreSQL stores no NUL),
    so a client, and a fuzzer, can tell the text the API refuses from the text it takes."""
    document = _document(client)
    schemas = document["components"]["schemas"]
    vague = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            sent = [(p["name"], p["schema"]) for p in operation.get("parameters", [])]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                sent.append(("body", media["schema"]))
            for name, schema in sent:
                for where, string in _strings(schema, schemas, name, frozenset()):
                    said = [string, *string.get("anyOf", [])]
                    if not any({"enum", "format", "pattern"} & set(s) for s in said):
                        vague.append(f"{method} {path} {where}")
                    elif "pattern" in string and "format" not in string:
                        assert "\x00" not in string["pattern"]
    assert vague == []


def test_every_json_body_documents_its_refusals(client):
    """Not JSON: 415; not valid JSON: 400; a missing required body or a bad field: 422."""
    faults = []
    for path, operations in _document(client)["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                missing = {"400", "415", "422"} - set(operation["responses"])
                faults += [f"{method} {path}: {status}" for status in sorted(missing)]
    assert faults == []
