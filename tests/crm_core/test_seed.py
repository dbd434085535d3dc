"""apply_seed: checked in full before writing, every problem named by its place; re-runnable."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.errors import SeedError
from crm_core.models import Company, Contact, ExcludedNumber, Lead, Phone, User
from crm_core.seed import apply_seed
from crm_core.users import authenticate

from .factories import SEED, count

TABLES = (User, Company, Contact, Lead, Phone, ExcludedNumber)


async def counts(session) -> list[int]:
    return [await count(session, model) for model in TABLES]


class TestApplySeed:
    async def test_writes_every_section(self, session):
        """
        The sample seed gives users, an own number, a company, a contact of it and leads, with phones.
        """
        await apply_seed(session, SEED)
        await session.commit()

        assert [3, 1, 1, 2, 4, 1] == await counts(session)
        contact = await session.scalar(select(Contact))
        company = await session.scalar(select(Company))
        phone = await session.scalar(select(Phone).where(Phone.owner_type == "contact"))
        assert company.id == contact.company_id
        assert ("8 (916) 123-45-67", "+79161234567") == (phone.raw, phone.e164)
        assert "own number" == (await session.scalar(select(ExcludedNumber))).reason
        ivanov = await session.scalar(select(User).where(User.login == "ivanov"))
        assert ("101", "agent", None) == (ivanov.extension, ivanov.role, ivanov.password_hash)

    async def test_applying_twice_adds_nothing(self, session):
        """
        Rows already there (same login, number, title, name in company) are left alone.
        """
        await apply_seed(session, SEED)
        before = await counts(session)

        await apply_seed(session, SEED)

        assert before == await counts(session)

    async def test_password_lets_the_user_log_in(self, session):
        """
        A seeded password is stored hashed and works at login.
        """
        await apply_seed(
            session, {"users": [{"login": "boss", "name": "Boss", "password": "pw", "role": "admin"}]}
        )

        assert "admin" == (await authenticate(session, "boss", "pw")).role

    async def test_integer_extension_is_text(self, session):
        """
        YAML reads an unquoted 101 as a number; it is kept as the extension "101".
        """
        await apply_seed(session, {"users": [{"login": "a", "name": "A", "extension": 101}]})

        assert "101" == await session.scalar(select(User.extension))


class TestSeedValidation:
    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            (
                {"contacts": [{"name": "Anna", "company": "X"}]},
                "contacts[0].company: no company titled 'X' in the seed",
            ),
            ({"users": [{"login": "a", "name": "A", "pasword": "x"}]}, "users[0].pasword: unknown key"),
            ({"users": [{"name": "A"}]}, "users[0].login: required"),
            ({"customers": []}, "customers: unknown section"),
            ({"leads": {"title": "x"}}, "leads: must be a list (got dict)"),
            ({"leads": ["Website"]}, "leads[0]: must be a mapping (got str)"),
            ({"own_numbers": ["+7 123"]}, "own_numbers[0]: not a phone number: '+7 123'"),
            (
                {"companies": [{"title": "A", "phones": ["+74951112233", "call me"]}]},
                "companies[0].phones[1]: not a phone number: 'call me'",
            ),
            ({"leads": [{"title": "L", "status": "WON"}]}, "leads[0].status: 'WON' is not one of NEW"),
            ({"users": [{"login": "a", "name": "A", "role": "boss"}]}, "users[0].role: 'boss' is not one of"),
            (
                {
                    "users": [
                        {"login": "a", "name": "A", "extension": "101"},
                        {"login": "b", "name": "B", "extension": "101"},
                    ]
                },
                "users[1].extension: '101' is already used by users[0]",
            ),
            (
                {"leads": [{"title": "L", "responsible": "ghost"}]},
                "leads[0].responsible: no user with login 'ghost'",
            ),
            ({"companies": [{"title": ""}]}, "companies[0].title: must be non-empty text"),
            ([], "seed: must be a mapping of sections"),
        ],
    )
    async def test_problem_is_named_by_its_place(self, session, data, problem):
        """
        Each kind of mistake is reported with the section, index and key where it is.
        """
        with pytest.raises(SeedError) as caught:
            await apply_seed(session, data)

        assert problem in str(caught.value)

    async def test_nothing_is_written_when_anything_is_wrong(self, session):
        """
        One bad contact at the end stops the whole seed before a single row is written.
        """
        data = {**SEED, "contacts": [*SEED["contacts"], {"name": "Bad", "company": "Nowhere Inc"}]}

        with pytest.raises(SeedError):
            await apply_seed(session, data)

        assert [0, 0, 0, 0, 0, 0] == await counts(session)

    async def test_every_problem_is_reported_at_once(self, session):
        """
        All problems come in one error, one line each.
        """
        data = {"users": [{"name": "A"}], "leads": [{"title": "L", "colour": "red"}]}

        with pytest.raises(SeedError) as caught:
            await apply_seed(session, data)

        assert ["users[0].login: required", "leads[0].colour: unknown key"] == caught.value.problems

    async def test_extension_of_another_existing_user_is_refused(self, session):
        """
        A seed user may not take an extension an existing, different user already has.
        """
        await apply_seed(session, {"users": [{"login": "ivanov", "name": "Ivan", "extension": "101"}]})

        with pytest.raises(SeedError, match=r"users\[0\].extension: '101' already belongs to user 'ivanov'"):
            await apply_seed(session, {"users": [{"login": "petrov", "name": "Petr", "extension": "101"}]})
