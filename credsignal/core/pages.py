"""HTML pages of credsignal (the validation report, the readout, the alert mail): jinja2 templates sharing one base
template and one stylesheet, rendered into a single self-contained file.

Templates live in credsignal/core/templates/: `base.html.j2` (page frame, header, footer; the stylesheet
`credsignal.css` is inlined into a <style> element) and one template per page that extends it, naming its
`page_class` (the <body> class that scopes the stylesheet's rules for that page alone). A page loads
nothing (no CDN, no script, no web font), so it reads the same offline, from a mail attachment or a lake folder.

    from credsignal.core.pages import render
    html = render("validation_report.html.j2", title="...", ...)

Charts are inline SVG built here (`sparkline`), usable in any template as the `sparkline` filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from markupsafe import Markup, escape

STYLESHEET = "credsignal.css"
SEVERITY_COLOURS = {"failure": "#b42318", "warning": "#b54708", "ok": "#067647"}


@lru_cache(maxsize=1)
def environment():
    """The jinja2 environment over credsignal/core/templates/, HTML autoescaped, undefined names an error."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("credsignal.core", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sparkline"] = sparkline
    env.filters["number"] = number
    return env


def render(template: str, **context) -> str:
    """A page of credsignal/core/templates/ rendered with `context`."""
    return environment().get_template(template).render(**context)


def number(value, digits: int = 3) -> str:
    """A figure for a page: thousands separators for counts, `digits` significant digits otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def sparkline(points: Sequence[tuple[float | None, str]], *, width: int = 168, height: int = 36,
              log_scale: bool = False, threshold: float | None = None, label: str = "") -> Markup:
    """A small inline SVG line chart of (value, severity) points, oldest first; None values leave a gap.

    Points that warned or failed are drawn as dots in their severity's colour, the newest point always. On a
    log scale (p-values, which span orders of magnitude) values are clamped to 1e-12. `threshold` draws a dashed
    line (for example SRM's blocking p of 0.001)."""
    pad = 4
    transform = (lambda v: math.log10(max(v, 1e-12))) if log_scale else (lambda v: v)
    ys = [transform(v) for v, _ in points if v is not None]
    if threshold is not None:
        ys_with_threshold = ys + [transform(threshold)]
    else:
        ys_with_threshold = ys
    title = f"<title>{escape(label)}</title>" if label else ""
    if not ys:
        return Markup(f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
                      f'{title}<text x="{pad}" y="{height / 2 + 4}" class="spark-empty">no numeric values</text></svg>')
    low, high = min(ys_with_threshold), max(ys_with_threshold)
    span = high - low or 1.0
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        y = height - pad - (transform(value) - low) / span * (height - 2 * pad)
        if high == low:
            y = height / 2
        return round(pad + index * step, 1), round(y, 1)

    segments, current = [], []
    for index, (value, _) in enumerate(points):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(xy(index, value))
    if current:
        segments.append(current)
    parts = [f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             title]
    if threshold is not None:
        _, ty = xy(0, threshold)
        parts.append(f'<line class="spark-threshold" x1="{pad}" x2="{width - pad}" y1="{ty}" y2="{ty}"/>')
    for segment in segments:
        if len(segment) == 1:
            continue
        coordinates = " ".join(f"{x},{y}" for x, y in segment)
        parts.append(f'<polyline class="spark-line" points="{coordinates}"/>')
    last = max(i for i, (v, _) in enumerate(points) if v is not None)
    for index, (value, severity) in enumerate(points):
        if value is None or (severity == "ok" and index != last):
            continue
        x, y = xy(index, value)
        colour = SEVERITY_COLOURS.get(severity, "#475467")
        parts.append(f'<circle cx="{x}" cy="{y}" r="{3 if index == last else 2.5}" fill="{colour}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
