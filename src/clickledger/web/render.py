"""Jinja2 rendering for the web pages: autoescaped templates, filters and the SVG chart.

Autoescape is on for every template and no template marks data ``|safe``:
sub-ids, user agents, referrers and player ids are attacker-controlled.  The
chart is computed here as numbers only (coordinates, heights) and drawn by the
template as inline SVG, so it needs no script and no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).parent / "templates" / "web"
STATIC_DIR = Path(__file__).parent / "static"
CHART_WIDTH = 720
CHART_HEIGHT = 220
CHART_PAD = 28

env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def money_text(amounts: Mapping[str, str] | None) -> str:
    """``{"EUR": "12.50", "USD": "3.00"}`` → ``EUR 12.50 · USD 3.00`` (``0`` when empty)."""
    if not amounts:
        return "0"
    return " · ".join(f"{cur} {value}" for cur, value in sorted(amounts.items()))


def short_id(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:8] if len(text) == 36 else text


env.filters["money"] = money_text
env.filters["short"] = short_id


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    width: int
    clicks_y: int
    clicks_h: int
    ftd_y: int
    ftd_h: int
    label: str
    clicks: int
    registrations: int
    ftds: int
    show_label: bool


def chart(series: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Bars of clicks with registrations and FTDs overlaid, as SVG coordinates."""
    count = max(1, len(series))
    inner_w = CHART_WIDTH - 2 * CHART_PAD
    inner_h = CHART_HEIGHT - 2 * CHART_PAD
    top = max([int(p["clicks"]) for p in series] + [int(p["registrations"]) for p in series]
              + [1])
    step = inner_w // count
    every = max(1, count // 12)
    bars = []
    for index, point in enumerate(series):
        clicks = int(point["clicks"])
        conversions = int(point["registrations"])
        clicks_h = clicks * inner_h // top
        conv_h = conversions * inner_h // top
        bars.append(Bar(
            x=CHART_PAD + index * step, width=max(1, step - 2),
            clicks_y=CHART_PAD + inner_h - clicks_h, clicks_h=clicks_h,
            ftd_y=CHART_PAD + inner_h - conv_h, ftd_h=conv_h, label=str(point["label"]),
            clicks=clicks, registrations=conversions, ftds=int(point["ftds"]),
            show_label=index % every == 0,
        ))
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD, "top": top,
            "base_y": CHART_PAD + inner_h, "bars": bars}


def render(name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)


def decimal_text(value: Decimal) -> str:
    return format(value, "f")
