"""The OpenAPI 3.1 document of the REST API, built from the resources themselves.

Request and response bodies are the resources' pydantic schemas (OpenAPI 3.1 speaks JSON Schema, so
they go in as pydantic writes them); the list parameters come from each resource's ``filterable``
and ``sortable``, one parameter per field and operator that applies to it. Nothing is written by
hand per resource, so the document cannot drift from what the server accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crm_core.crud import MAX_LIMIT, OPERATORS, Resource
from crm_core.query import operators_for

if TYPE_CHECKING:
    from .actions import ActionRoute

__all__ = ["add_actions", "openapi_document"]

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": "#/components/responses/Error"}
_OPERATOR_TEXT = {
    "eq": "equals",
    "ne": "differs from (empty values included)",
    "lt": "is less than",
    "lte": "is at most",
    "gt": "is greater than",
    "gte": "is at least",
    "contains": "contains, ignoring case",
    "in": "is one of (comma-separated)",
    "isnull": "is empty (true) or not (false)",
}


def _value_schema(kind: type) -> dict[str, Any]:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return {"type": "string", "enum": [str(member.value) for member in kind]}
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer"}
    if kind is float:
        return {"type": "number"}
    if kind is Decimal:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    if kind is datetime:
        return {"type": "string", "format": "date-time"}
    if kind is date:
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _filter_parameters(filterable: Mapping[str, type]) -> list[dict[str, Any]]:
    parameters = []
    for field, kind in filterable.items():
        for op in operators_for(kind):
            if op == "isnull":
                schema: dict[str, Any] = {"type": "boolean"}
            elif op == "in":
                schema = {"type": "string", "description": "comma-separated values"}
            else:
                schema = _value_schema(kind)
            parameters.append(
                {
                    "name": field if op == "eq" else f"{field}__{op}",
                    "in": "query",
                    "required": False,
                    "description": f"{field} {_OPERATOR_TEXT[op]}",
                    "schema": schema,
                }
            )
    return parameters


def _list_parameters(resource: Resource[Any]) -> list[dict[str, Any]]:
    sortable = list(resource.sortable)
    sort: dict[str, Any] = {
        "name": "sort",
        "in": "query",
        "required": False,
        "description": (
            "Comma-separated fields, '-' first for descending; ties are broken by id. Sortable: "
            + (", ".join(sortable) or "none")
        ),
        "schema": {"type": "string"},
    }
    if sortable:
        sort["example"] = f"-{sortable[0]}"
    return [
        sort,
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        },
        *_filter_parameters(resource.filterable),
    ]


def _body(ref: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ERROR for status in (401, 403, *statuses)}


def _operations(resource: Resource[Any], refs: Mapping[tuple[type, str], dict[str, Any]]) -> dict[str, Any]:
    name = resource.path.replace("-", "_")
    out = refs[(resource.schema_out, "serialization")]
    create = refs[(resource.schema_create, "validation")]
    update = refs[(resource.schema_update, "validation")]
    page = {
        "type": "object",
        "required": ["items", "total", "offset", "limit"],
        "properties": {
            "items": {"type": "array", "items": out},
            "total": {"type": "integer", "description": "rows matching the filters, all pages"},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
    }
    id_parameter = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    tags = [resource.path]
    collection = {
        "get": {
            "operationId": f"list_{name}",
            "tags": tags,
            "summary": f"List {resource.path} the caller may read",
            "parameters": _list_parameters(resource),
            "responses": {"200": _ok("One page", page), **_errors(422)},
        },
        "post": {
            "operationId": f"create_{name}",
            "tags": tags,
            "summary": f"Create one of {resource.path}",
            "requestBody": _body(create),
            "responses": {"201": _ok("Created", out), **_errors(409, 422)},
        },
    }
    item = {
        "parameters": [id_parameter],
        "get": {
            "operationId": f"get_{name}",
            "tags": tags,
            "responses": {"200": _ok("Found", out), **_errors(404)},
        },
        "patch": {
            "operationId": f"update_{name}",
            "tags": tags,
            "summary": "Change the fields sent, leave the others",
            "requestBody": _body(update),
            "responses": {"200": _ok("Changed", out), **_errors(404, 409, 422)},
        },
        "delete": {
            "operationId": f"delete_{name}",
            "tags": tags,
            "responses": {"204": {"description": "Deleted"}, **_errors(404, 409)},
        },
    }
    return {"collection": collection, "item": item}


def openapi_document(resources: Sequence[Resource[Any]], *, prefix: str) -> dict[str, Any]:
    """The whole document for *resources*, served under *prefix*."""
    wanted: list[tuple[type[BaseModel], Any]] = []
    for resource in resources:
        for key in (
            (resource.schema_out, "serialization"),
            (resource.schema_create, "validation"),
            (resource.schema_update, "validation"),
        ):
            if key not in wanted:
                wanted.append(key)
    refs, top = models_json_schema(wanted, ref_template=_REF) if wanted else ({}, {})
    paths: dict[str, Any] = {}
    for resource in resources:
        operations = _operations(resource, refs)
        paths[f"{prefix}/{resource.path}"] = operations["collection"]
        paths[f"{prefix}/{resource.path}/{{id}}"] = operations["item"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CTI server CRM API",
            "version": "1",
            "description": (
                "Every list takes filters written field__operator=value ("
                + ", ".join(OPERATORS)
                + "; a bare field means eq), sort, offset and limit. Every error is a JSON object "
                "with error_id (stable), message and details. Rights are the caller's: a record "
                "they may not read is a 403, and lists leave it out."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": {**top.get("$defs", {}), "Error": _ERROR_SCHEMA},
            "responses": {
                "Error": {
                    "description": (
                        "401 not identified, 403 not allowed (or CSRF), 404 not found, "
                        "409 conflict, 422 invalid"
                    ),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `cti users token LOGIN`",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "cti_session",
                    "description": "The browser's login; writes also need the X-CSRF-Token header",
                },
            },
        },
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One query parameter per field of an action's query model, described as pydantic sees it."""
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        info = model.model_fields[name]
        if info.description:
            parameter["description"] = info.description
        parameters.append(parameter)
    return parameters


def _action_operation(action: ActionRoute, refs: Mapping[tuple[type, str], dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": action.operation_id,
        "tags": [action.tag],
        "summary": action.summary,
    }
    if action.query is not None:
        operation["parameters"] = _query_parameters(action.query)
    if action.body is not None:
        operation["requestBody"] = _body(refs[(action.body, "validation")])
    if action.response is None:
        success: dict[str, Any] = {"description": "Done"}
    else:
        success = _ok("Done", refs[(action.response, "serialization")])
    operation["responses"] = {str(action.status): success, **_errors(*action.errors)}
    return operation


def add_actions(document: dict[str, Any], actions: Iterable[ActionRoute], *, prefix: str) -> dict[str, Any]:
    """*document* with the actions' paths and schemas added (a new dict; *document* is unchanged).

    Schemas are shared by name with the resources'; a name meaning two different schemas is a
    programming error, refused here rather than published.
    """
    actions = list(actions)
    wanted: list[tuple[type[BaseModel], Any]] = []
    for action in actions:
        for key in ((action.body, "validation"), (action.response, "serialization")):
            if key[0] is not None and key not in wanted:
                wanted.append(key)
    refs, top = models_json_schema(wanted, ref_template=_REF) if wanted else ({}, {})
    schemas = dict(document["components"]["schemas"])
    for name, schema in top.get("$defs", {}).items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different OpenAPI schemas are both named {name!r}")
    paths = {key: dict(value) for key, value in document["paths"].items()}
    for action in actions:
        path = paths.setdefault(f"{prefix}/{action.path}", {})
        if action.path_params and "parameters" not in path:
            path["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in action.path_params.items()
            ]
        path[action.method.lower()] = _action_operation(action, refs)
    components = {**document["components"], "schemas": schemas}
    return {**document, "paths": paths, "components": components}


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_id", "message", "details"],
    "properties": {
        "error_id": {"type": "string", "examples": ["forbidden", "not-found", "validation-failed"]},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}
