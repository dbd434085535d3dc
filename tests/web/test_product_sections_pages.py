"""Product sections on the pages, on both databases: the product form shows the section's custom
fields and the service's refusals next to them; the sections page adds, renames, moves and deletes
sections and edits their fields; only who may update products reaches it."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.models import Product, ProductSection
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import ProductCreate, SectionCreate, SectionField
from crm_core.sales.sections import SectionsResource
from web import keys
from web.auth import SESSION_COOKIE

from .api_fixtures import _blank_engine, _engine, _sessionmaker  # noqa: F401 (fixtures)
from .chromium import DevTools
from .test_sales_pages import _api, page, post  # noqa: F401 (fixtures)

LENGTH = SectionField(code="length_m", name="Length, m", type="number", required=True)
SHIELDED = SectionField(code="shielded", name="Shielded", type="boolean")


@pytest.fixture(name="sections")
async def _sections(api):
    """Cables (length in metres required, shielded optional) holding Patch cords; Adapters apart."""
    async with api.sessionmaker() as session:
        root = await load_principal(session, api.ids["root"])
        resource = SectionsResource()
        cables = await resource.create(session, root, SectionCreate(name="Cables", fields=[LENGTH, SHIELDED]))
        cords = await resource.create(session, root, SectionCreate(name="Patch cords", parent_id=cables.id))
        adapters = await resource.create(session, root, SectionCreate(name="Adapters"))
        await session.commit()
    return {"cables": cables.id, "cords": cords.id, "adapters": adapters.id}


async def products_named(api, name: str) -> list[Product]:
    async with api.sessionmaker() as session:
        return list(await session.scalars(select(Product).where(Product.name == name)))


async def section(api, section_id: int) -> ProductSection | None:
    async with api.sessionmaker() as session:
        return await session.get(ProductSection, section_id)


def cable(sections, **fields: str) -> dict[str, str]:
    """The product form as a browser posts it with the Cables section chosen and shown."""
    cables = str(sections["cables"])
    return {
        "name": "Cat6 cable",
        "price": "10",
        "active": "1",
        "section_id": cables,
        "fields_of": cables,
        **fields,
    }


class TestProductForm:
    async def test_the_form_offers_the_tree_and_the_sections_fields(self, api, sections):
        """
        ``?section=`` preselects Cables: the select lists the tree (Patch cords indented under
        Cables, "No section" first) and the fields are a required number and a checkbox.
        """
        status, html = await page(api, f"/crm/products/new?section={sections['cables']}", "root")

        assert 200 == status
        options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', html)
        assert [
            ("", "No section"),
            (str(sections["adapters"]), "Adapters"),
            (str(sections["cables"]), "Cables"),
            (str(sections["cords"]), "— Patch cords"),
        ] == options
        assert f'<option value="{sections["cables"]}" selected>' in html
        assert re.search(r'<input type="number" name="prop-length_m" value="" step="any" required>', html)
        assert '<input type="checkbox" name="prop-shielded" value="1">' in html
        assert f'name="fields_of" value="{sections["cables"]}"' in html

    async def test_a_product_saved_with_the_field_shows_it(self, api, sections):
        """
        2,5 metres and shielded: stored as the number 2.5 and true; the edit form shows them and
        the products list names the section.
        """
        response = await post(
            api, "/crm/products", "root", cable(sections, **{"prop-length_m": "2,5", "prop-shielded": "1"})
        )

        assert 303 == response.status, await response.text()
        [made] = await products_named(api, "Cat6 cable")
        assert (sections["cables"], {"length_m": 2.5, "shielded": True}) == (made.section_id, made.properties)
        _, form = await page(api, f"/crm/products/{made.id}/edit", "root")
        assert 'name="prop-length_m" value="2.5"' in form
        assert '<input type="checkbox" name="prop-shielded" value="1" checked>' in form
        _, listing = await page(api, "/crm/products", "root")
        row = re.search(rf'<tr data-product="{made.id}".*?</tr>', listing, re.S).group(0)
        assert '<td class="section">Cables</td>' in row

    @pytest.mark.parametrize(
        ("typed", "problem"),
        [("long", "Length, m must be a number"), ("", "Length, m is required in this section")],
    )
    async def test_a_bad_value_is_refused_next_to_its_field(self, api, sections, typed, problem):
        """
        The service refuses: 422, the problem next to the field naming it, what was typed kept,
        and no product saved.
        """
        response = await post(api, "/crm/products", "root", cable(sections, **{"prop-length_m": typed}))
        html = await response.text()

        assert 422 == response.status
        assert f'<span class="field-error" id="prop-length_m-error">{problem}</span>' in html
        assert f'name="prop-length_m" value="{typed}"' in html
        assert 'name="name" value="Cat6 cable"' in html
        assert [] == await products_named(api, "Cat6 cable")

    async def test_the_refusal_speaks_russian(self, api, sections):
        """
        A Russian browser reads the problem in Russian, with the field's own name.
        """
        headers = {**api.browser("root"), "Accept-Language": "ru"}
        response = await api.client.post(
            "/crm/products", data=cable(sections, **{"prop-length_m": "long"}), headers=headers
        )

        assert 422 == response.status
        assert "Length, m — должно быть числом" in await response.text()

    async def test_a_section_changed_without_the_script_shows_its_fields_first(self, api, sections):
        """
        A product outside any section moved to Cables by a form that showed no fields (no script):
        the form again with Cables' fields and the service's problem; nothing saved until then.
        """
        async with api.sessionmaker() as session:
            root = await load_principal(session, api.ids["root"])
            plain = await ProductsResource().create(session, root, ProductCreate(name="Cat6 cable"))
            await session.commit()

        response = await post(
            api, f"/crm/products/{plain.id}/edit", "root", cable(sections, fields_of="", unit="m")
        )
        html = await response.text()

        assert 422 == response.status
        assert "Fill in the fields of the section you chose, then save again." in html
        assert 'id="prop-length_m-error">Length, m is required in this section<' in html
        assert 'name="unit" value="m"' in html
        [kept] = await products_named(api, "Cat6 cable")
        assert (None, "pcs") == (kept.section_id, kept.unit)

        response = await post(
            api, f"/crm/products/{plain.id}/edit", "root", cable(sections, **{"prop-length_m": "3"})
        )
        assert 303 == response.status, await response.text()
        [moved] = await products_named(api, "Cat6 cable")
        assert (sections["cables"], {"length_m": 3, "shielded": False}) == (
            moved.section_id,
            moved.properties,
        )

    async def test_no_section_drops_the_fields(self, api, sections):
        """
        "No section": the product leaves Cables and its custom values go with it.
        """
        saved = await post(api, "/crm/products", "root", cable(sections, **{"prop-length_m": "1"}))
        assert 303 == saved.status
        [made] = await products_named(api, "Cat6 cable")

        response = await post(
            api, f"/crm/products/{made.id}/edit", "root", cable(sections, section_id="", fields_of="")
        )

        assert 303 == response.status, await response.text()
        [left] = await products_named(api, "Cat6 cable")
        assert (None, {}) == (left.section_id, left.properties)


class TestProductFormInChromium:
    async def test_choosing_a_section_shows_its_fields_and_saves_them(self, api, sections, browser: DevTools):
        """
        product_form.js: choosing Cables reads it from the API and shows its fields (the number
        required); filled in, the form saves at once with the value.
        """
        async with api.sessionmaker() as session:
            root = await load_principal(session, api.ids["root"])
            plain = await ProductsResource().create(session, root, ProductCreate(name="Cat6 cable"))
            await session.commit()
        base = str(api.client.make_url("")).rstrip("/")
        cookie, _data = api.app[keys.SESSIONS].issue(api.ids["root"], hours=1)
        await browser.send("Network.enable")
        await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
        await browser.send("Page.navigate", url=f"{base}/crm/products/{plain.id}/edit")
        await browser.until(
            "document.readyState === 'complete' && !!document.querySelector('form.product-form')"
        )
        hidden = await browser.js("document.querySelector('.section-fields').hidden")

        await browser.js(
            f"""(s => {{ s.value = '{sections["cables"]}'; s.dispatchEvent(new Event('change')); }})
            (document.querySelector('select[name=section_id]'))"""
        )
        await browser.until(
            f"document.querySelector('input[name=fields_of]').value === '{sections['cables']}'"
        )
        shown = await browser.js(
            """[...document.querySelectorAll('.section-inputs input')]
               .map(i => [i.name, i.type, i.required])"""
        )
        await browser.js(
            """document.querySelector('input[name="prop-length_m"]').value = '4';
               document.querySelector('form.product-form').requestSubmit();"""
        )
        await browser.until("location.pathname === '/crm/products' && document.readyState === 'complete'")

        assert hidden is True
        assert [["prop-length_m", "number", True], ["prop-shielded", "checkbox", False]] == shown
        [saved] = await products_named(api, "Cat6 cable")
        assert (sections["cables"], {"length_m": 4, "shielded": False}) == (
            saved.section_id,
            saved.properties,
        )


class TestSectionsPage:
    async def test_the_tree_with_product_counts(self, api, sections):
        """
        Patch cords sits one level under Cables; Cables counts its one product.
        """
        await post(api, "/crm/products", "root", cable(sections, **{"prop-length_m": "1"}))

        status, html = await page(api, "/crm/products/sections", "root")

        assert 200 == status
        rows = re.findall(
            r'<tr data-section="(\d+)" data-depth="(\d+)".*?class="num products-count">(\d+)<', html, re.S
        )
        assert [
            (str(sections["adapters"]), "0", "0"),
            (str(sections["cables"]), "0", "1"),
            (str(sections["cords"]), "1", "0"),
        ] == rows
        _, products = await page(api, "/crm/products", "root")
        assert 'href="/crm/products/sections"' in products

    async def test_add_rename_move_delete(self, api, sections):
        """
        A section added inside Adapters, renamed, moved under Cables, then deleted.
        """
        added = await post(
            api, "/crm/products/sections", "root", {"name": "USB", "parent_id": str(sections["adapters"])}
        )
        assert 303 == added.status, await added.text()
        usb = int(re.search(r"/crm/products/sections/(\d+)\?done=added", added.headers["Location"]).group(1))
        assert (sections["adapters"], "USB") == ((made := await section(api, usb)).parent_id, made.name)
        _, shown = await page(api, added.headers["Location"], "root")
        assert "The section is added." in shown

        renamed = await post(
            api,
            f"/crm/products/sections/{usb}",
            "root",
            {"name": "USB-C", "parent_id": str(sections["cables"])},
        )
        assert 303 == renamed.status, await renamed.text()
        assert (sections["cables"], "USB-C") == ((moved := await section(api, usb)).parent_id, moved.name)

        deleted = await post(api, f"/crm/products/sections/{usb}/delete", "root", {})
        assert 303 == deleted.status
        assert "/crm/products/sections?done=deleted" == deleted.headers["Location"]
        assert await section(api, usb) is None

    async def test_a_section_with_products_is_not_deleted(self, api, sections):
        """
        The service's rule, said plainly on the page (409); the section stays.
        """
        adapter = {"name": "USB hub", "section_id": str(sections["adapters"]), "fields_of": ""}
        assert 303 == (await post(api, "/crm/products", "root", adapter)).status

        response = await post(api, f"/crm/products/sections/{sections['adapters']}/delete", "root", {})
        html = await response.text()

        assert 409 == response.status
        assert (
            '<p class="error" role="alert">The section Adapters still has 1 product: '
            "move it to another section first.</p>"
        ) in html
        assert await section(api, sections["adapters"]) is not None

    async def test_a_section_with_sub_sections_is_not_deleted(self, api, sections):
        """
        Cables holds Patch cords: 409 and the reason.
        """
        response = await post(api, f"/crm/products/sections/{sections['cables']}/delete", "root", {})

        assert 409 == response.status
        assert (
            "The section Cables still has sub-sections: move or delete them first." in await response.text()
        )
        assert await section(api, sections["cables"]) is not None

    async def test_a_section_cannot_move_inside_its_own_child(self, api, sections):
        """
        The page does not offer it; posted anyway, the service refuses and nothing moves.
        """
        _, html = await page(api, f"/crm/products/sections/{sections['cables']}", "root")
        save_form = re.search(r'<form[^>]*class="edit save-section".*?</form>', html, re.S).group(0)
        assert f'value="{sections["cords"]}"' not in save_form

        response = await post(
            api,
            f"/crm/products/sections/{sections['cables']}",
            "root",
            {"name": "Cables", "parent_id": str(sections["cords"])},
        )

        assert 422 == response.status
        assert "A section cannot be moved inside itself or one of its sub-sections." in await response.text()
        assert (await section(api, sections["cables"])).parent_id is None

    async def test_fields_are_added_checked_and_removed(self, api, sections):
        """
        A date field added to Adapters; a code with capitals and a code used twice are refused
        with the rule; the field removed again.
        """
        path = f"/crm/products/sections/{sections['adapters']}"
        added = await post(
            api,
            f"{path}/fields",
            "root",
            {"code": "made_on", "field_name": "Made on", "type": "date", "required": "1"},
        )
        assert 303 == added.status, await added.text()
        assert [{"code": "made_on", "name": "Made on", "type": "date", "required": True}] == (
            await section(api, sections["adapters"])
        ).fields

        capitals = await post(api, f"{path}/fields", "root", {"code": "Size", "field_name": "Size"})
        assert 422 == capitals.status
        assert "Code: a small Latin letter first" in await capitals.text()
        twice = await post(api, f"{path}/fields", "root", {"code": "made_on", "field_name": "Again"})
        assert 422 == twice.status
        assert "The code made_on is already a field of this section." in await twice.text()
        assert 1 == len((await section(api, sections["adapters"])).fields)

        removed = await post(api, f"{path}/fields/made_on/delete", "root", {})
        assert 303 == removed.status
        assert [] == (await section(api, sections["adapters"])).fields

    async def test_an_agent_may_not_change_sections(self, api, sections):
        """
        Ivan may read the catalogue but not update it: the page and its posts are 403, nothing
        is added, and the products page offers no link to it.
        """
        status, _ = await page(api, "/crm/products/sections", "ivan")
        assert 403 == status
        status, _ = await page(api, f"/crm/products/sections/{sections['cables']}", "ivan")
        assert 403 == status
        response = await post(api, "/crm/products/sections", "ivan", {"name": "Mine"})
        assert 403 == response.status
        response = await post(api, f"/crm/products/sections/{sections['adapters']}/delete", "ivan", {})
        assert 403 == response.status

        async with api.sessionmaker() as session:
            names = set(await session.scalars(select(ProductSection.name)))
        assert {"Cables", "Patch cords", "Adapters"} == names
        _, products = await page(api, "/crm/products", "ivan")
        assert "/crm/products/sections" not in products
