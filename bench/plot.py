"""A line chart as SVG, written by hand (no plotting library): time per instance against the
number of instances, log-scaled on both axes."""

import math

COLORS = {"mesh": "#1f77b4", "terraform": "#d62728"}
DASHES = {"plan": "", "apply_empty": "6,3", "apply_noop": "2,3"}
LABELS = {"plan": "plan (up to date)", "apply_empty": "apply from empty",
          "apply_noop": "no-op apply"}

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 220, 40, 60


def log_ticks(low, high):
    """Powers of ten covering [low, high]."""
    first = math.floor(math.log10(low))
    last = math.ceil(math.log10(high))
    return [10.0 ** e for e in range(first, last + 1)]


def scale(value, low, high, start, end):
    t = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return start + t * (end - start)


def tick_label(v, unit=""):
    if v >= 1000:
        return f"{v / 1000:g}k{unit}"
    return f"{v:g}{unit}"


def chart(series, title):
    """`series`: list of (tool, step, [(n, microseconds per instance)]). Returns SVG text."""
    points = [p for _, _, pts in series for p in pts]
    xs = [n for n, _ in points]
    ys = [y for _, y in points]
    x_ticks = sorted(set(xs))
    y_ticks = log_ticks(min(ys), max(ys))
    x_low, x_high = min(x_ticks) / 1.25, max(x_ticks) * 1.25
    y_low, y_high = y_ticks[0], y_ticks[-1]
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{title}</text>']
    for y in y_ticks:
        py = scale(y, y_low, y_high, plot_bottom, TOP)
        out.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{plot_right}" y2="{py:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py + 4:.1f}" text-anchor="end">'
                   f'{format_us(y)}</text>')
    for x in x_ticks:
        px = scale(x, x_low, x_high, LEFT, plot_right)
        out.append(f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{plot_bottom}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{px:.1f}" y="{plot_bottom + 18}" text-anchor="middle">'
                   f'{tick_label(x)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_right - LEFT}" '
               f'height="{plot_bottom - TOP}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{(LEFT + plot_right) / 2}" y="{HEIGHT - 18}" text-anchor="middle">'
               'resource instances (N)</text>')
    out.append(f'<text transform="translate(18,{(TOP + plot_bottom) / 2}) rotate(-90)" '
               'text-anchor="middle">wall time per instance (log scale)</text>')
    for i, (tool, step, pts) in enumerate(series):
        coords = [(scale(n, x_low, x_high, LEFT, plot_right),
                   scale(y, y_low, y_high, plot_bottom, TOP)) for n, y in sorted(pts)]
        color, dash = COLORS[tool], DASHES[step]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" '
                   f'stroke-dasharray="{dash}"/>')
        for x, y in coords:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        ly = TOP + 10 + i * 20
        out.append(f'<line x1="{plot_right + 14}" y1="{ly}" x2="{plot_right + 44}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{plot_right + 50}" y="{ly + 4}">{tool} {LABELS[step]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def format_us(us):
    if us >= 1_000_000:
        return f"{us / 1_000_000:g} s"
    if us >= 1000:
        return f"{us / 1000:g} ms"
    return f"{us:g} µs"
