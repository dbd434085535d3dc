"""The product catalogue: sections with custom fields, products, external ids, rights."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crm_core.crud import ListQuery
from crm_core.errors import NotFound
from crm_core.rights import SYSTEM, Forbidden
from crm_core.sales.errors import BadValue, InUse
from crm_core.sales.products import ExternalIdTaken, ProductsResource
from crm_core.sales.schemas import (
    ProductCreate,
    ProductUpdate,
    SectionCreate,
    SectionField,
    SectionUpdate,
)
from crm_core.sales.sections import SectionsResource

sections, products = SectionsResource(), ProductsResource()

CABLE_FIELDS = [
    SectionField(code="length_m", name="Length, m", type="number", required=True),
    SectionField(code="colour", name="Colour"),
    SectionField(code="outdoor", name="Outdoor", type="boolean"),
    SectionField(code="certified_on", name="Certified on", type="date"),
]


@pytest.fixture(name="cables")
async def _cables(session):
    return await sections.create(session, SYSTEM, SectionCreate(name="Cables", fields=CABLE_FIELDS))


class TestCustomFields:
    async def test_product_carries_its_sections_fields(self, session, cables):
        """
        A product in a section stores values of that section's custom fields.
        """
        product = await products.create(
            session,
            SYSTEM,
            ProductCreate(
                name="UTP cat.6",
                section_id=cables.id,
                unit="m",
                price=D("35.5000"),
                vat_rate=D(20),
                properties={
                    "length_m": 305,
                    "colour": "grey",
                    "outdoor": False,
                    "certified_on": "2026-05-01",
                },
            ),
        )

        assert {"length_m": 305, "colour": "grey", "outdoor": False, "certified_on": "2026-05-01"} == (
            product.properties
        )
        assert (D("35.5000"), "m", D("20.0000"), True) == (
            product.price,
            product.unit,
            product.vat_rate,
            product.vat_included,
        )

    @pytest.mark.parametrize(
        ("properties", "message"),
        [
            ({}, r"properties\.length_m: Length, m is required"),
            ({"length_m": "long"}, r"properties\.length_m: Length, m must be a number"),
            ({"length_m": 1, "outdoor": "yes"}, r"properties\.outdoor: Outdoor must be true or false"),
            ({"length_m": 1, "certified_on": "01.05.2026"}, r"must be a date"),
            ({"length_m": 1, "weight": 3}, r"properties\.weight: not a custom field of section 'Cables'"),
        ],
    )
    async def test_values_are_checked(self, session, cables, properties, message):
        """
        Missing required fields, wrong types and unknown fields are refused, naming the field.
        """
        with pytest.raises(BadValue, match=message):
            await products.create(
                session, SYSTEM, ProductCreate(name="X", section_id=cables.id, properties=properties)
            )

    async def test_moving_to_another_section_checks_its_fields(self, session, cables):
        """
        A product moved out of its section must drop that section's values.
        """
        product = await products.create(
            session, SYSTEM, ProductCreate(name="UTP", section_id=cables.id, properties={"length_m": 305})
        )
        services = await sections.create(session, SYSTEM, SectionCreate(name="Services"))

        with pytest.raises(BadValue, match="not a custom field of section 'Services'"):
            await products.update(session, SYSTEM, product.id, ProductUpdate(section_id=services.id))
        moved = await products.update(
            session, SYSTEM, product.id, ProductUpdate(section_id=services.id, properties={})
        )
        assert (services.id, {}) == (moved.section_id, moved.properties)

    async def test_field_codes_are_unique(self, session):
        """
        A section cannot define the same field code twice.
        """
        twice = [SectionField(code="a", name="A"), SectionField(code="a", name="B")]

        with pytest.raises(BadValue, match=r"fields\[1\]\.code"):
            await sections.create(session, SYSTEM, SectionCreate(name="S", fields=twice))


class TestSectionTree:
    async def test_no_cycles(self, session, cables):
        """
        A section cannot be moved under itself or under one of its children.
        """
        child = await sections.create(session, SYSTEM, SectionCreate(name="Copper", parent_id=cables.id))

        with pytest.raises(BadValue, match="inside itself"):
            await sections.update(session, SYSTEM, cables.id, SectionUpdate(parent_id=child.id))

    async def test_delete_refused_while_in_use(self, session, cables):
        """
        A section with sub-sections or products is not deleted; an empty one is.
        """
        child = await sections.create(session, SYSTEM, SectionCreate(name="Copper", parent_id=cables.id))
        await products.create(session, SYSTEM, ProductCreate(name="UTP", section_id=child.id))

        with pytest.raises(InUse, match="sub-sections"):
            await sections.delete(session, SYSTEM, cables.id)
        with pytest.raises(InUse, match="products"):
            await sections.delete(session, SYSTEM, child.id)


class TestProducts:
    async def test_external_id_is_unique(self, session):
        """
        Two products cannot share the external id an accounting system matches them on.
        """
        first = await products.create(session, SYSTEM, ProductCreate(name="A", external_id="1C-0001"))

        with pytest.raises(ExternalIdTaken) as caught:
            await products.create(session, SYSTEM, ProductCreate(name="B", external_id="1C-0001"))
        assert {"external_id": "1C-0001", "product_id": first.id} == caught.value.details()

    async def test_list_filters_active_and_price(self, session):
        """
        The list filters on the active flag and on price ranges, exactly.
        """
        for name, price, active in (("A", "10.0000", True), ("B", "10.0001", True), ("C", "99", False)):
            await products.create(session, SYSTEM, ProductCreate(name=name, price=D(price), active=active))

        page = await products.list(
            session, SYSTEM, ListQuery(filters={"active": "true", "price__gt": "10"}, sort=("name",))
        )

        assert ["B"] == [p.name for p in page.items]

    async def test_missing_section(self, session):
        """
        A section id that does not exist is reported.
        """
        with pytest.raises(NotFound, match="product section"):
            await products.create(session, SYSTEM, ProductCreate(name="A", section_id=4242))


class TestRights:
    async def test_everyone_reads_only_admins_change(self, session, people):
        """
        Agents and supervisors read the shared catalogue; only the all-level product right changes it.
        """
        product = await products.create(session, people.admin, ProductCreate(name="A"))

        for who in (people.ivanov, people.boss):
            assert "A" == (await products.get(session, who, product.id)).name
            with pytest.raises(Forbidden):
                await products.create(session, who, ProductCreate(name="B"))
            with pytest.raises(Forbidden):
                await products.update(session, who, product.id, ProductUpdate(price=D(1)))
            with pytest.raises(Forbidden):
                await sections.create(session, who, SectionCreate(name="S"))
