"""web.funnel_svg.render_funnel: the funnel report as SVG, a pure function checked on its output."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from crm_core.models import StatusSemantic
from crm_core.sales.schemas import FunnelReport, FunnelStage
from web.funnel_svg import FunnelLabels, render_funnel

SVG = "{http://www.w3.org/2000/svg}"
LABELS = FunnelLabels(title="Funnel", empty="Nothing to show")


def stage(code: str, count: int, semantic: StatusSemantic = StatusSemantic.PROCESS, **extra) -> FunnelStage:
    return FunnelStage(
        stage_id=hash(code) % 1000,
        code=code,
        name=extra.pop("name", code.title()),
        semantic=semantic,
        count=count,
        amounts=extra.pop("amounts", {}),
        conversion=extra.pop("conversion", None),
        step_conversion=None,
    )


def report(*stages: FunnelStage, variant: str = "conversion") -> FunnelReport:
    return FunnelReport(
        pipeline_id=1,
        variant=variant,
        start=None,
        end=None,
        responsible_ids=None,
        deals=max((s.count for s in stages), default=0),
        stages=list(stages),
    )


def parse(svg: str) -> ET.Element:
    """Our own output, parsed to prove it well-formed (no untrusted XML here)."""
    return ET.fromstring(svg)  # noqa: S314


def bars(svg: str) -> dict[str, float]:
    root = parse(svg)
    return {
        group.get("data-stage"): float(group.find(f"{SVG}rect").get("width"))
        for group in root.iter(f"{SVG}g")
    }


class TestRenderFunnel:
    def test_bar_widths_are_proportional_to_the_counts(self):
        """The largest stage fills the plot; a stage with half its deals gets half the width."""
        svg = render_funnel(
            report(stage("NEW", 10), stage("OFFER", 5), stage("WON", 0, StatusSemantic.SUCCESS)), LABELS
        )
        widths = bars(svg)

        assert 0.5 == widths["OFFER"] / widths["NEW"]
        assert 0.0 == widths["WON"]

    def test_it_is_well_formed_svg_with_its_accessible_title(self):
        """A parseable SVG document, role img, titled by the caller's words, marked with its variant."""
        root = parse(render_funnel(report(stage("NEW", 1), variant="passed"), LABELS))

        assert ("img", "passed") == (root.get("role"), root.get("data-variant"))
        assert "Funnel" == root.find(f"{SVG}title").text
        assert root.get("aria-labelledby") == root.find(f"{SVG}title").get("id")

    def test_counts_conversions_and_sums_are_written_out(self):
        """The row says the count, the conversion in the caller's format and the sums per currency."""
        labels = FunnelLabels(title="t", empty="e", conversion=lambda p: f"{p} pct")
        svg = render_funnel(
            report(
                stage("NEW", 4, conversion=Decimal("100.0"), amounts={"RUB": Decimal("10.00")}),
                stage("OFFER", 1, conversion=Decimal("25.0"), amounts={"USD": Decimal(2), "EUR": Decimal(3)}),
            ),
            labels,
            money=lambda value: f"{value:.2f}",
        )

        assert "4 · 100.0 pct" in svg
        assert "1 · 25.0 pct" in svg
        assert ">10.00 RUB<" in svg
        assert ">3.00 EUR; 2.00 USD<" in svg

    def test_stage_names_are_escaped(self):
        """A stage named with markup is text, never markup."""
        svg = render_funnel(report(stage("NEW", 1, name="<script>alert(1)</script>")), LABELS)

        assert "<script>" not in svg
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
        parse(svg)

    def test_an_empty_report_says_so(self):
        """No deal at all: the caller's message and zero-width bars, no division by zero."""
        svg = render_funnel(report(stage("NEW", 0), stage("LOSE", 0, StatusSemantic.FAILURE)), LABELS)

        assert "Nothing to show" in svg
        assert {"NEW": 0.0, "LOSE": 0.0} == bars(svg)

    def test_colours_follow_the_meaning_of_the_stage(self):
        """In progress, won and lost stages are drawn apart (and named in their class)."""
        svg = render_funnel(
            report(
                stage("NEW", 3),
                stage("WON", 1, StatusSemantic.SUCCESS),
                stage("LOSE", 1, StatusSemantic.FAILURE),
            ),
            LABELS,
        )
        fills = dict(re.findall(r'data-stage="(\w+)".*?fill="(#[0-9a-f]+)"', svg))

        assert 3 == len(set(fills.values()))
        assert 'class="stage failure"' in svg
