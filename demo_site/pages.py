"""The demo's HTML: tiny, no templates engine, no CDN."""

from __future__ import annotations

from html import escape

PRODUCTS = {
    1: ("Walnut desk", "A desk in oiled walnut."),
    2: ("Linen lamp", "A lamp with a linen shade."),
    3: ("Tea set", "Four cups and a pot."),
}
POSTS = {
    "privacy-by-default": "Privacy by default",
    "anonymous-statistics": "What anonymous statistics mean",
}

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafaf7}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem}
nav a{margin-right:1rem}
footer{font-size:.85rem;color:#555}
"""


def page(title: str, body: str, extra_head: str = "") -> str:
    """A whole HTML page around ``body``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · beaconguard demo</title><style>{STYLE}</style>{extra_head}</head>
<body><header><nav><a href="/">Home</a><a href="/products/1">Products</a>
<a href="/blog/privacy-by-default">Blog</a><a href="/search">Search</a></nav></header>
<main><h1>{escape(title)}</h1>{body}</main>
<footer>This demo keeps no identifier: see <code>var/access.log</code>.</footer>
</body></html>"""


def home() -> str:
    items = "".join(
        f'<li><a href="/products/{pid}">{escape(name)}</a></li>'
        for pid, (name, _) in PRODUCTS.items()
    )
    posts = "".join(
        f'<li><a href="/blog/{slug}">{escape(title)}</a></li>' for slug, title in POSTS.items()
    )
    return page("A small shop", f"<h2>Products</h2><ul>{items}</ul><h2>Blog</h2><ul>{posts}</ul>")


def product(pid: int) -> str | None:
    if pid not in PRODUCTS:
        return None
    name, text = PRODUCTS[pid]
    return page(name, f"<p>{escape(text)}</p>")


def post(slug: str) -> str | None:
    if slug not in POSTS:
        return None
    return page(POSTS[slug], "<p>Visits here become counters, never profiles.</p>")


def search(query: str) -> str:
    hits = [name for name, _ in PRODUCTS.values() if query and query.lower() in name.lower()]
    results = "".join(f"<li>{escape(h)}</li>" for h in hits)
    form = (
        '<form action="/search" method="get"><label for="q">Search</label> '
        f'<input id="q" name="q" value="{escape(query)}"> <button>Go</button></form>'
    )
    return page("Search", form + (f"<ul>{results}</ul>" if query else ""))
