"""The REST machinery on both databases: auth (token, session + CSRF), errors, paging, transactions.

It is exercised through the departments resource and a small resource defined here over the task
table, so these tests do not depend on how the card and sales services evolve.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import web.api
from crm_core.crud import ListQuery, Page
from crm_core.errors import Conflict, NotFound
from crm_core.models import ApiToken, Task
from crm_core.query import fetch_page
from crm_core.rights import Action, Entity, Principal
from crm_core.tokens import revoke_token
from crm_core.users import set_active

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    responsible_id: int | None


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    responsible_id: int | None = None


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None


class TaskResource:
    """A minimal Resource: tasks as activities, rights checked on the responsible user."""

    entity: ClassVar[Entity] = Entity.ACTIVITY
    path: ClassVar[str] = "test-tasks"
    schema_out = TaskOut
    schema_create = TaskCreate
    schema_update = TaskUpdate
    filterable: ClassVar = {"title": str, "responsible_id": int}
    sortable: ClassVar = ("title", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[TaskOut]:
        stmt = select(Task).where(principal.visible(self.entity, Action.READ, Task.responsible_id))
        rows, total = await fetch_page(
            session, stmt, Task, query, filterable=self.filterable, sortable=self.sortable
        )
        return Page([TaskOut.model_validate(r) for r in rows], total, query.offset, query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> TaskOut:
        return TaskOut.model_validate(await self._row(session, principal, id, Action.READ))

    async def create(self, session: AsyncSession, principal: Principal, data: TaskCreate) -> TaskOut:
        responsible = data.responsible_id if data.responsible_id is not None else principal.user_id
        principal.require(self.entity, Action.ADD, responsible)
        task = Task(title=data.title, responsible_id=responsible)
        session.add(task)
        await session.flush()
        if data.title == "conflict after insert":
            raise Conflict("refused after the row was written")
        return TaskOut.model_validate(task)

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: TaskUpdate) -> TaskOut:
        task = await self._row(session, principal, id, Action.UPDATE)
        if "title" in data.model_fields_set and data.title is not None:
            task.title = data.title
        await session.flush()
        return TaskOut.model_validate(task)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        await session.delete(await self._row(session, principal, id, Action.DELETE))

    async def _row(self, session: AsyncSession, principal: Principal, id: int, action: Action) -> Task:
        task = await session.get(Task, id)
        if task is None:
            raise NotFound("task", id)
        principal.require(self.entity, action, task.responsible_id)
        return task


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings, monkeypatch):
    """The real app with the test resource added to the real ones."""
    real = web.api.all_resources
    monkeypatch.setattr(
        web.api,
        "all_resources",
        lambda region="RU", own_numbers=(): (*real(region, own_numbers), TaskResource()),
    )
    return await build_api(aiohttp_client, settings, sessionmaker)


async def _tasks(api, *titles: tuple[str, str]) -> dict[str, int]:
    """Create tasks as their owners (title, login) through the API; title -> id."""
    ids = {}
    for title, login in titles:
        status, body = await api.call("POST", "/api/v1/test-tasks", login, json={"title": title})
        assert 201 == status, body
        ids[title] = body["id"]
    return ids


class TestAuthentication:
    async def test_no_credentials_is_401(self, api):
        """
        Without a token or session the API answers 401 in its JSON error shape, with a challenge.
        """
        response = await api.client.get("/api/v1/departments")

        assert 401 == response.status
        assert 'Bearer realm="cti"' == response.headers["WWW-Authenticate"]
        assert {"error_id", "message", "details"} == set(await response.json())
        assert "unauthenticated" == (await response.json())["error_id"]

    async def test_bearer_token_works(self, api):
        """
        A valid bearer token identifies its user.
        """
        status, body = await api.call("GET", "/api/v1/departments", "ivan", params={"sort": "name"})

        assert 200 == status
        assert ["Sales", "Support"] == [d["name"] for d in body["items"]]

    async def test_revoked_token_is_401(self, api):
        """
        Once revoked, a token is refused with 401 on the very next request.
        """
        assert 200 == (await api.call("GET", "/api/v1/departments", "ivan"))[0]
        async with api.sessionmaker() as session:
            token_id = await session.scalar(select(ApiToken.id).where(ApiToken.user_id == api.ids["ivan"]))
            await revoke_token(session, token_id)
            await session.commit()

        status, body = await api.call("GET", "/api/v1/departments", "ivan")

        assert (401, "unauthenticated") == (status, body["error_id"])

    @pytest.mark.parametrize("header", ["Basic aXZhbjpwdw==", "Bearer", "Bearer cti_not-a-token"])
    async def test_bad_authorization_header_is_401_without_falling_back(self, api, header):
        """
        A malformed or unknown Authorization is refused even when a valid session cookie is present.
        """
        headers = {**api.browser("ivan"), "Authorization": header}

        status, body = await api.call("GET", "/api/v1/departments", headers=headers)

        assert (401, "unauthenticated") == (status, body["error_id"])

    async def test_session_reads_without_csrf_but_writes_need_it(self, api):
        """
        A browser session may read freely; a write without the X-CSRF-Token header is a 403.
        """
        read = await api.call("GET", "/api/v1/test-tasks", headers=api.browser("ivan", csrf=False))
        refused = await api.call(
            "POST", "/api/v1/test-tasks", headers=api.browser("ivan", csrf=False), json={"title": "x"}
        )
        accepted = await api.call(
            "POST", "/api/v1/test-tasks", headers=api.browser("ivan"), json={"title": "x"}
        )

        assert 200 == read[0]
        assert (403, "csrf-failed") == (refused[0], refused[1]["error_id"])
        assert 201 == accepted[0]

    async def test_token_writes_need_no_csrf(self, api):
        """
        A bearer token is never sent by a browser on its own, so writes with it need no CSRF header.
        """
        status, _ = await api.call("POST", "/api/v1/test-tasks", "ivan", json={"title": "by token"})

        assert 201 == status

    async def test_disabled_user_token_is_401(self, api):
        """
        Disabling a user makes their token fail at once.
        """
        async with api.sessionmaker() as session:
            await set_active(session, "olga", False)
            await session.commit()

        assert 401 == (await api.call("GET", "/api/v1/departments", "olga"))[0]


class TestRights:
    async def test_forbidden_get_and_absent_from_list(self, api):
        """
        An agent (own update, department read) cannot read another department's task: 403 and unlisted.
        """
        ids = await _tasks(api, ("ivan task", "ivan"), ("olga task", "olga"), ("petr task", "petr"))

        status, body = await api.call("GET", f"/api/v1/test-tasks/{ids['petr task']}", "ivan")
        _, page = await api.call("GET", "/api/v1/test-tasks", "ivan", params={"sort": "title"})

        assert (403, "forbidden") == (status, body["error_id"])
        assert {"entity": "activity", "action": "read"} == body["details"]
        assert (["ivan task", "olga task"], 2) == ([t["title"] for t in page["items"]], page["total"])

    async def test_update_and_delete_follow_the_rights(self, api):
        """
        An agent changes their own task, not a teammate's, and deletes none; a supervisor may delete.
        """
        ids = await _tasks(api, ("ivan task", "ivan"), ("olga task", "olga"))

        own = await api.call(
            "PATCH", f"/api/v1/test-tasks/{ids['ivan task']}", "ivan", json={"title": "mine"}
        )
        other = await api.call("PATCH", f"/api/v1/test-tasks/{ids['olga task']}", "ivan", json={"title": "x"})
        agent_delete = await api.call("DELETE", f"/api/v1/test-tasks/{ids['ivan task']}", "ivan")
        boss_delete = await api.call("DELETE", f"/api/v1/test-tasks/{ids['ivan task']}", "boss")

        assert (200, "mine") == (own[0], own[1]["title"])
        assert 403 == other[0]
        assert 403 == agent_delete[0]
        assert (204, None) == boss_delete
        assert 404 == (await api.call("GET", f"/api/v1/test-tasks/{ids['ivan task']}", "boss"))[0]

    async def test_cannot_create_for_someone_else(self, api):
        """
        An agent may add tasks of their own only.
        """
        status, body = await api.call(
            "POST", "/api/v1/test-tasks", "ivan", json={"title": "t", "responsible_id": api.ids["olga"]}
        )

        assert (403, "forbidden") == (status, body["error_id"])


class TestListQuery:
    async def test_filter_sort_and_paging_from_the_query_string(self, api):
        """
        ``title__contains``, ``sort=-title``, ``offset`` and ``limit`` all reach the list.
        """
        await _tasks(api, ("call back A", "ivan"), ("call back B", "ivan"), ("other", "ivan"))

        status, page = await api.call(
            "GET",
            "/api/v1/test-tasks",
            "ivan",
            params={"title__contains": "CALL", "sort": "-title", "offset": "1", "limit": "1"},
        )

        assert 200 == status
        assert (["call back A"], 2, 1, 1) == (
            [t["title"] for t in page["items"]],
            page["total"],
            page["offset"],
            page["limit"],
        )

    @pytest.mark.parametrize(
        ("params", "error_id", "message"),
        [
            ({"colour": "red"}, "invalid-query", "colour: cannot filter on 'colour'"),
            ({"title__near": "x"}, "invalid-query", "unknown operator 'near'"),
            ({"responsible_id": "me"}, "invalid-query", "'me' is not a whole number"),
            ({"sort": "secret"}, "invalid-query", "cannot sort on 'secret'"),
            ({"limit": "100000"}, "invalid-query", "limit: 100000 is not between 1 and 500"),
            ({"offset": "x"}, "invalid-query", "offset: 'x' is not a whole number"),
        ],
    )
    async def test_bad_queries_are_422_naming_the_problem(self, api, params, error_id, message):
        """
        A bad filter, operator, value, sort field or page size is a 422 that says which.
        """
        status, body = await api.call("GET", "/api/v1/test-tasks", "ivan", params=params)

        assert (422, error_id) == (status, body["error_id"])
        assert message in body["message"]

    async def test_a_filter_given_twice_is_refused(self, api):
        """
        The same filter twice is ambiguous and refused.
        """
        status, body = await api.call("GET", "/api/v1/test-tasks?title=a&title=b", "ivan")

        assert (422, "title: give each filter once") == (status, body["message"])


class TestBodiesAndErrors:
    async def test_validation_errors_name_the_fields(self, api):
        """
        A body the schema refuses is a 422 listing each bad field.
        """
        status, body = await api.call("POST", "/api/v1/test-tasks", "ivan", json={"title": 5, "extra": 1})

        assert (422, "validation-failed") == (status, body["error_id"])
        assert {("title",), ("extra",)} == {tuple(e["loc"]) for e in body["details"]["errors"]}

    @pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b""])
    async def test_body_must_be_a_json_object(self, api, data):
        """
        Bad JSON, or JSON that is not an object, is a 400 saying so.
        """
        status, body = await api.call(
            "POST", "/api/v1/test-tasks", "ivan", data=data, headers={"Content-Type": "application/json"}
        )

        assert (400, "bad-json") == (status, body["error_id"])

    async def test_created_has_location(self, api):
        """
        A create answers 201 with the new record and where to find it.
        """
        response = await api.client.post(
            "/api/v1/test-tasks", headers=api.bearer("ivan"), json={"title": "t"}
        )
        body = await response.json()

        assert 201 == response.status
        assert f"/api/v1/test-tasks/{body['id']}" == response.headers["Location"]

    async def test_failed_write_changes_nothing(self, api):
        """
        A service failing after it wrote rolls the whole request back: the row is gone.
        """
        status, body = await api.call(
            "POST", "/api/v1/test-tasks", "ivan", json={"title": "conflict after insert"}
        )
        async with api.sessionmaker() as session:
            left = await session.scalar(select(func.count()).select_from(Task))

        assert (409, "conflict") == (status, body["error_id"])
        assert 0 == left

    @pytest.mark.parametrize("path", ["/api/v1/test-tasks/999", "/api/v1/test-tasks/abc"])
    async def test_unknown_record_is_404(self, api, path):
        """
        A record that does not exist (or an id that cannot exist) is a JSON 404.
        """
        status, body = await api.call("GET", path, "ivan")

        assert (404, "not-found") == (status, body["error_id"])

    async def test_unknown_endpoint_and_wrong_method(self, api):
        """
        Unknown API paths are a JSON 404; a method a path does not take is a JSON 405 with Allow.
        """
        unknown = await api.call("GET", "/api/v1/spaceships", "ivan")
        response = await api.client.put("/api/v1/test-tasks", headers=api.bearer("ivan"), json={})

        assert (404, "no-such-endpoint") == (unknown[0], unknown[1]["error_id"])
        assert 405 == response.status
        assert "GET, POST" == response.headers["Allow"]
        assert "method-not-allowed" == (await response.json())["error_id"]


class TestDepartmentsApi:
    async def test_admin_builds_the_tree_agents_only_read(self, api):
        """
        An admin creates and moves departments; an agent's write is a 403 ``admin-only``.
        """
        created = await api.call(
            "POST",
            "/api/v1/departments",
            "root",
            json={"name": "Moscow", "parent_id": api.departments["Sales"]},
        )
        refused = await api.call("POST", "/api/v1/departments", "ivan", json={"name": "Mine"})
        cycle = await api.call(
            "PATCH",
            f"/api/v1/departments/{api.departments['Sales']}",
            "root",
            json={"parent_id": created[1]["id"]},
        )

        assert (201, api.departments["Sales"]) == (created[0], created[1]["parent_id"])
        assert (403, "admin-only") == (refused[0], refused[1]["error_id"])
        assert (422, "invalid") == (cycle[0], cycle[1]["error_id"])
        assert "parent_id" == cycle[1]["details"]["field"]

    async def test_delete_in_use_is_409(self, api):
        """
        Deleting a department people belong to is a 409 saying why.
        """
        status, body = await api.call("DELETE", f"/api/v1/departments/{api.departments['Sales']}", "root")

        assert (409, "in-use") == (status, body["error_id"])
        assert "users belong to it" in body["message"]


class TestOpenApi:
    async def test_document_describes_every_resource(self, api):
        """
        The public OpenAPI 3.1 document has list/create and get/update/delete for every resource.
        """
        response = await api.client.get("/api/v1/openapi.json")
        document = await response.json()

        assert 200 == response.status
        assert "3.1.0" == document["openapi"]
        for resource in web.api.all_resources():
            path = f"/api/v1/{resource.path}"
            assert {"get", "post"} == set(document["paths"][path])
            assert {"get", "patch", "delete"} <= set(document["paths"][f"{path}/{{id}}"])

    async def test_document_is_valid_openapi_3_1(self, api):
        """
        The served document passes the OpenAPI 3.1 specification's validator.
        """
        document = await (await api.client.get("/api/v1/openapi.json")).json()

        assert None is validate(document)

    async def test_schemas_and_list_parameters_come_from_the_resources(self, api):
        """
        Bodies reference the resources' pydantic schemas; each filter and operator is a parameter.
        """
        document = await (await api.client.get("/api/v1/openapi.json")).json()
        listing = document["paths"]["/api/v1/test-tasks"]["get"]
        names = {p["name"] for p in listing["parameters"]}
        create = document["paths"]["/api/v1/test-tasks"]["post"]["requestBody"]["content"]["application/json"]

        assert {"sort", "offset", "limit", "title", "title__contains", "responsible_id__gte"} <= names
        assert "title__gte" not in names
        assert {"$ref": "#/components/schemas/TaskCreate"} == create["schema"]
        assert {"title", "responsible_id"} == set(
            document["components"]["schemas"]["TaskCreate"]["properties"]
        )
        assert {"bearerToken", "session"} == set(document["components"]["securitySchemes"])

    async def test_index_lists_the_resources(self, api):
        """
        ``/api/v1`` names the resources and the document.
        """
        status, body = await api.call("GET", "/api/v1")

        assert 200 == status
        assert "/api/v1/openapi.json" == body["openapi"]
        assert {"departments", "access-roles", "test-tasks"} <= set(body["resources"])
