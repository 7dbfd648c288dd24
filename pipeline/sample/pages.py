"""Page chrome: the same article rendered as different web sites would serve it.

The chrome (mega-menus, cookie banners, sidebars, share bars, footers, scripts) is what the HTML
stage must remove; several site layouts with different markup keep that honest.
"""
from __future__ import annotations

import html
import random

from pipeline.sample.articles import Article, ArticlePart

SITES = [
    {"host": "docs.pyref.org", "name": "PyRef Docs", "style": "semantic"},
    {"host": "devnotes.example.com", "name": "DevNotes", "style": "divs"},
    {"host": "www.codewiki.net", "name": "CodeWiki", "style": "table"},
    {"host": "learn.scilib.io", "name": "SciLib Learn", "style": "semantic"},
]
NAV = ["Home", "Tutorials", "API Reference", "Guides", "Blog", "Community", "Downloads", "About",
       "Contact", "Careers", "Pricing", "Release Notes", "FAQ", "Forum", "Newsletter"]


def _e(s: str) -> str:
    return html.escape(s, quote=True)


def render_blocks(blocks: tuple[ArticlePart, ...] | list[ArticlePart]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h":
            out.append(f"<h2>{_e(b.text)}</h2>")
        elif b.kind == "pre":
            out.append(f"<pre><code>{_e(b.text)}</code></pre>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in b.text.split("\n")) + "</ul>")
        else:
            out.append(f"<p>{_e(b.text)}</p>")
    return "\n".join(out)


def _links(rng: random.Random, n: int, prefix: str) -> str:
    items = rng.sample(NAV, k=min(n, len(NAV)))
    return "".join(f'<li><a href="/{prefix}/{i.lower().replace(" ", "-")}">{i}</a></li>' for i in items)


def render_page(article_title: str, body_html: str, url: str, site: dict, rng: random.Random,
                related: list[str]) -> str:
    """A full page: head with scripts/styles, header and menu, banner, main, sidebar, footer."""
    rel = "".join(f'<li><a href="/api/{_e(r)}.html">{_e(r)}</a></li>' for r in related)
    cookie = ('<div class="cookie-banner" id="cookie-consent"><p>We use cookies to improve your '
              'experience. By continuing to browse you agree to our <a href="/privacy">privacy '
              'policy</a>.</p><button>Accept all</button><button>Reject</button></div>')
    share = ('<div class="share-bar"><a href="/share/twitter">Tweet</a> <a href="/share/fb">Share'
             '</a> <a href="/share/mail">Email</a></div>')
    year = 2015 + rng.randrange(10)
    head = (f"<head><meta charset=\"utf-8\"><title>{_e(article_title)} — {site['name']}</title>"
            f'<link rel="canonical" href="{_e(url)}">'
            f'<meta name="description" content="Reference documentation for {_e(article_title)}.">'
            "<style>body{font-family:sans-serif}.nav li{display:inline}</style>"
            "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
            "</script></head>")
    footer_links = _links(rng, 6, "site")
    if site["style"] == "semantic":
        return (f'<!DOCTYPE html><html lang="en">{head}<body>{cookie}'
                f'<header class="site-header"><a class="logo" href="/">{site["name"]}</a>'
                f'<nav class="main-nav"><ul>{_links(rng, 9, "menu")}</ul></nav></header>'
                f'<div class="breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/api">API</a></div>'
                f'<main><article><h1>{_e(article_title)}</h1>{share}\n{body_html}\n</article></main>'
                f'<aside class="sidebar"><h3>Related</h3><ul>{rel}</ul></aside>'
                f'<footer><ul>{footer_links}</ul><p>&copy; {year} {site["name"]}. All rights '
                f'reserved.</p></footer><script src="/static/app.js"></script></body></html>')
    if site["style"] == "divs":
        return (f'<html lang="en">{head}<body><div id="top-bar"><div class="menu">'
                f'<ul class="mega-menu">{_links(rng, 12, "m")}</ul></div></div>{cookie}'
                f'<div id="wrapper"><div id="left-col" class="sidebar-nav"><ul>{rel}</ul></div>'
                f'<div id="content" class="post-content"><h1>{_e(article_title)}</h1>\n{body_html}\n'
                f'{share}<div class="comments"><p>0 comments. Log in to comment.</p></div></div></div>'
                f'<div id="footer" class="footer"><ul>{footer_links}</ul>'
                f'<p>Copyright {year} {site["name"]}</p></div></body></html>')
    return (f'<html>{head}<body><table width="100%"><tr><td colspan="2" class="header">'
            f'<b>{site["name"]}</b> | {_links(rng, 6, "t").replace("<li>", "").replace("</li>", " | ")}'
            f'</td></tr><tr><td class="nav" valign="top"><ul>{rel}</ul></td><td class="body">'
            f'<h1>{_e(article_title)}</h1>\n{body_html}\n</td></tr><tr><td colspan="2" class="footer">'
            f'<ul>{footer_links}</ul>&copy; {year}</td></tr></table></body></html>')


def article_url(site: dict, art: Article) -> str:
    return f"https://{site['host']}/api/{art.module.replace('.', '/')}/{art.title}.html"
