"""A labelled extraction set written for the tests: pages with the main text a reader would want.

Each case is `(name, html, expected)`. The page chrome varies on purpose (semantic tags, div soup
with ids, table layouts, no hints at all, misleading class names, inline ads and comments inside
the article), so that no single hint decides a case. `expected` is the main text: title/headline,
body paragraphs, lists, tables and code; not menus, banners, sidebars, share bars, footers, "related
articles" lists or comment forms. Scoring is bag-of-words, so line layout in `expected` is free.
"""
from __future__ import annotations

import html as _html

E = _html.escape


def _p(paras: list[str]) -> str:
    return "\n".join(f"<p>{E(p)}</p>" for p in paras)


MENU = ("<ul>" + "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in
                         ["Home", "World", "Business", "Technology", "Science", "Sport", "Culture",
                          "Opinion", "Travel", "Video", "Podcasts", "Subscribe"]) + "</ul>")
FOOT = ('<p>&copy; 2024 Example Media Group. All rights reserved.</p><ul><li><a href="/terms">Terms of use'
        '</a></li><li><a href="/privacy">Privacy</a></li><li><a href="/cookies">Cookie settings</a></li>'
        '<li><a href="/contact">Contact us</a></li></ul>')
COOKIE = ('<div id="cookie-notice" class="consent-banner"><p>This website uses cookies to personalise '
          'content and ads and to analyse our traffic. By clicking Accept you consent to all cookies.</p>'
          '<a href="#" class="btn">Accept</a> <a href="/cookies" class="btn">Manage preferences</a></div>')
RELATED = ('<div class="related-stories"><h3>More from this section</h3><ul>'
           '<li><a href="/a1">Council approves new cycle lanes for the city centre</a></li>'
           '<li><a href="/a2">Five things we learned from the budget speech</a></li>'
           '<li><a href="/a3">Local bakery wins national award for sourdough</a></li></ul></div>')
SHARE = ('<div class="social-share"><a href="/s/fb">Facebook</a> <a href="/s/x">X</a> '
         '<a href="/s/in">LinkedIn</a> <a href="/s/mail">Email</a></div>')


def semantic(title: str, body: str, lang: str = "en", extra_head: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{E(title)}</title>'
            f'{extra_head}<script>var ads = [];</script><style>.x{{color:red}}</style></head><body>'
            f'{COOKIE}<header><div class="logo">Example</div><nav>{MENU}</nav></header>'
            f'<main><article>{body}</article></main><aside class="sidebar"><h3>Trending</h3>{RELATED}'
            f'</aside><footer>{FOOT}</footer></body></html>')


def divsoup(title: str, body: str, lang: str = "en") -> str:
    return (f'<html lang="{lang}"><head><title>{E(title)}</title></head><body><div id="page">'
            f'<div id="hdr"><div id="menu-main">{MENU}</div></div>'
            f'<div id="cols"><div id="col-left">{RELATED}</div><div id="col-main">{body}</div>'
            f'<div id="col-right"><div class="widget"><h4>Newsletter</h4><p>Sign up for our weekly '
            f'digest.</p></div></div></div><div id="ftr">{FOOT}</div></div></body></html>')


def tables(title: str, body: str) -> str:
    return (f'<html><head><title>{E(title)}</title></head><body><table width="100%"><tr><td colspan=2>'
            f'<a href="/">Home</a> | <a href="/news">News</a> | <a href="/forum">Forum</a> | '
            f'<a href="/links">Links</a></td></tr><tr><td width="20%" valign="top">'
            f'<a href="/a">Archive</a><br><a href="/b">Board</a><br><a href="/c">Chat</a><br>'
            f'<a href="/d">Downloads</a></td><td valign="top">{body}</td></tr><tr><td colspan=2>'
            f'<small>Powered by ExampleCMS. Page generated in 0.02 seconds.</small></td></tr></table>'
            f'</body></html>')


def bare(title: str, body: str, lang: str = "en") -> str:
    return f'<html lang="{lang}"><head><title>{E(title)}</title></head><body>{body}</body></html>'


CASES: list[tuple[str, str, str]] = []


def case(name: str, page: str, expected: list[str]) -> None:
    CASES.append((name, page, "\n\n".join(expected)))


# 1 news article (semantic chrome)
_t = "Harbour bridge reopens after two years of repairs"
_ps = ["The harbour bridge reopened to traffic on Monday morning after a two-year repair programme "
       "that replaced the deck, the cables and most of the original steel railings.",
       "Engineers had warned in 2021 that corrosion in the lower chords had reached a point where heavy "
       "vehicles could no longer be allowed across, and the city closed the crossing in the spring of "
       "the following year.",
       "The mayor thanked residents for their patience and said that the new structure would carry "
       "buses again from the first of next month, once the final inspections of the approach ramps "
       "have been signed off.",
       "Local businesses on both banks said trade had fallen sharply during the closure. One cafe owner "
       "told us that weekday takings had halved, and that she had kept her staff on only because the "
       "council offered a rates holiday."]
case("news_article", semantic(_t, f"<h1>{_t}</h1><p class='byline'>By Jane Smith</p>{SHARE}{_p(_ps)}"),
     [_t, "By Jane Smith"] + _ps)

# 2 blog post with inline ad and comments
_t = "What I learned from a year of growing tomatoes on a balcony"
_ps = ["When I moved into a flat with a south-facing balcony, the first thing I did was buy six large "
       "pots and a bag of compost. I had never grown anything before, and I made almost every mistake "
       "that the gardening books warn about.",
       "The most important lesson was about water. Tomatoes in pots dry out far faster than plants in the "
       "ground, and on hot days mine needed watering twice, once early in the morning and once after "
       "sunset.",
       "The second lesson was that cherry varieties are much more forgiving than the big beefsteak types. "
       "By August the small plants were giving me a bowl of fruit every other day, while the large ones "
       "had split skins and a few sad green fruits."]
_body = (f"<h1>{_t}</h1><div class='post-meta'>Posted on 3 March 2024 in <a href='/c/garden'>Garden</a></div>"
         f"{_p(_ps[:2])}<div class='ad-slot advert'><a href='/buy'>Buy compost now - 20% off</a></div>"
         f"{_p(_ps[2:])}<div id='comments' class='comments-area'><h3>2 comments</h3><p>Great post, thanks!"
         f"</p><p>I had the same problem with watering.</p><form><textarea></textarea><button>Post comment"
         f"</button></form></div>")
case("blog_post", divsoup(_t, _body), [_t, "Posted on 3 March 2024 in Garden"] + _ps)

# 3 forum thread (table layout, several posts)
_posts = [("riverbank", "My laptop fan runs at full speed even when the machine is idle. I have cleaned "
           "the vents and updated the firmware but nothing changed. Has anyone seen this before?"),
          ("k_morgan", "Check which process is using the processor. On my machine an indexing service "
           "was stuck in a loop, and the fan calmed down as soon as I disabled it."),
          ("riverbank", "That was it. The search indexer was using forty percent of one core. After "
           "rebuilding the index the fan is quiet again. Thank you for the tip!")]
_body = ("<h2>Laptop fan always at full speed</h2>" + "".join(
    f"<table class='post'><tr><td class='author'><b>{u}</b><br>Posts: 1,204</td><td class='message'>"
    f"{E(m)}</td></tr></table>" for u, m in _posts) + "<p><a href='/reply'>Reply</a> | <a "
                                                      "href='/report'>Report</a></p>")
case("forum_thread", tables("Laptop fan always at full speed - Hardware forum", _body),
     ["Laptop fan always at full speed"] + [f"{u} Posts: 1,204 | {m}" for u, m in _posts])

# 4 docs page with code
_t = "Reading configuration files"
_ps = ["The loader reads a configuration file once, when the application starts, and keeps the values "
       "in an immutable object that every part of the program can share.",
       "Keys that are not known to the schema are reported as errors instead of being ignored, because "
       "a misspelt key that silently falls back to a default is very hard to find later."]
_code = "from app.config import load\n\ncfg = load(\"settings.toml\")\nprint(cfg.database.url)"
_body = (f"<h1>{_t}</h1>{_p(_ps[:1])}<pre><code>{E(_code)}</code></pre>{_p(_ps[1:])}"
         "<div class='docs-nav'><a href='/prev'>Previous: Installation</a> <a href='/next'>Next: Logging</a></div>")
case("docs_with_code", semantic(_t, _body), [_t, _ps[0], _code, _ps[1]])

# 5 product page with spec table
_t = "Trailmaster 40 litre hiking backpack"
_d = ("A light and sturdy pack for long day hikes and short overnight trips. The back panel is made "
      "of breathable mesh, and the hip belt has two zipped pockets for snacks and a phone.")
_rows = [("Volume", "40 litres"), ("Weight", "1.1 kg"), ("Material", "Recycled nylon"), ("Colour", "Forest green")]
_body = (f"<h1>{_t}</h1><div class='price'>89.00 EUR</div><p>{E(_d)}</p><h2>Specifications</h2><table>"
         + "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in _rows) + "</table>"
         "<div class='recommendations'><h3>Customers also bought</h3><ul><li><a href='/p1'>Water bottle</a>"
         "</li><li><a href='/p2'>Rain cover</a></li><li><a href='/p3'>Trekking poles</a></li></ul></div>")
case("product_page", semantic(_t, _body), [_t, "89.00 EUR", _d, "Specifications"] + [f"{a} | {b}" for a, b in _rows])

# 6 page with a data table (no semantic tags)
_t = "Average monthly rainfall in Lisbon"
_intro = ("The table below lists the average rainfall for each month, measured at the airport weather "
          "station between 1991 and 2020. The wettest months are November and December.")
_rows = [("Month", "Rainfall (mm)", "Rainy days"), ("January", "100", "10"), ("April", "65", "9"),
         ("July", "4", "1"), ("November", "128", "11"), ("December", "127", "12")]
_body = (f"<h1>{_t}</h1><p>{E(_intro)}</p><table>" + "".join(
    "<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in _rows) + "</table>")
case("data_table", divsoup(_t, _body), [_t, _intro] + [" | ".join(r) for r in _rows])

# 7 cookie banner + mega menu, short article
_mega = "<nav class='mega-menu'>" + "".join(
    f"<div class='col'><h4>{s}</h4><ul>" + "".join(f"<li><a href='/{s}/{i}'>{s} topic {i}</a></li>" for i in range(8))
    + "</ul></div>" for s in ("Products", "Solutions", "Resources", "Company")) + "</nav>"
_t = "Our office is moving"
_ps = ["From the first of June our team will work from a new office near the central station. The old "
       "building had become too small, and the new one has better connections for people who come by train.",
       "Visitors should use the entrance on the north side of the square. The reception desk is on the "
       "second floor and is open from nine in the morning until five in the afternoon."]
case("cookie_megamenu", f"<html><head><title>{_t}</title></head><body>{COOKIE}{_mega}<div class='content'>"
     f"<h1>{_t}</h1>{_p(_ps)}</div>{FOOT}</body></html>", [_t] + _ps)

# 8 German article
_t = "Neue Radwege für die Innenstadt"
_ps = ["Der Stadtrat hat am Dienstag beschlossen, in den kommenden zwei Jahren mehr als zwanzig Kilometer "
       "neue Radwege zu bauen. Die meisten davon sollen durch die Innenstadt führen.",
       "Die Verwaltung rechnet damit, dass die Arbeiten im Herbst beginnen. Für die Anwohner wird es in "
       "dieser Zeit einige Umleitungen geben, aber die Hauptstraßen bleiben offen.",
       "Vertreter der Geschäftsleute äußerten sich vorsichtig positiv. Sie hoffen, dass mehr Kunden mit "
       "dem Fahrrad in die Stadt kommen, wenn die Wege sicher und gut beleuchtet sind."]
case("german_article", semantic(_t, f"<h1>{_t}</h1>{_p(_ps)}", lang="de"), [_t] + _ps)

# 9 French recipe
_t = "Tarte aux pommes de grand-mère"
_ing = ["6 pommes", "1 pâte brisée", "50 g de beurre", "80 g de sucre"]
_ps = ["Préchauffez le four à 180 degrés. Étalez la pâte dans un moule et piquez le fond avec une fourchette.",
       "Épluchez les pommes, coupez-les en fines lamelles et disposez-les sur la pâte. Parsemez de sucre et "
       "de petits morceaux de beurre, puis faites cuire pendant quarante minutes."]
_body = (f"<h1>{_t}</h1><h2>Ingrédients</h2><ul>" + "".join(f"<li>{E(i)}</li>" for i in _ing)
         + f"</ul><h2>Préparation</h2>{_p(_ps)}")
case("french_recipe", divsoup(_t, _body, lang="fr"), [_t, "Ingrédients"] + _ing + ["Préparation"] + _ps)

# 10 Spanish news, bare page with no hints
_t = "El museo amplía su horario en verano"
_ps = ["El museo de arte de la ciudad abrirá sus puertas hasta las diez de la noche durante los meses de "
       "julio y agosto, según anunció ayer la dirección.",
       "La medida busca atraer a los visitantes que prefieren evitar las horas de más calor. Los jueves por "
       "la tarde la entrada será gratuita para los residentes de la provincia."]
_body = (f"<div><a href='/'>Inicio</a> <a href='/cultura'>Cultura</a> <a href='/deportes'>Deportes</a> "
         f"<a href='/contacto'>Contacto</a></div><h1>{_t}</h1>{_p(_ps)}<div><a href='/aviso'>Aviso legal</a> "
         f"<a href='/privacidad'>Privacidad</a></div>")
case("spanish_bare", bare(_t, _body, lang="es"), [_t] + _ps)

# 11 FAQ page with dl
_t = "Frequently asked questions about returns"
_qa = [("How long do I have to return an item?", "You can return any item within thirty days of delivery, "
        "as long as it is unused and in its original packaging."),
       ("Who pays for the return shipping?", "Returns are free for members. Other customers pay a flat fee "
        "of four euros, which is taken from the refund."),
       ("When will I get my money back?", "We refund the payment within five working days after the "
        "parcel arrives at our warehouse.")]
_body = f"<h1>{_t}</h1><dl>" + "".join(f"<dt>{E(q)}</dt><dd>{E(a)}</dd>" for q, a in _qa) + "</dl>"
case("faq_dl", semantic(_t, _body), [_t] + [x for qa in _qa for x in qa])

# 12 wiki-like page with infobox and references
_t = "Lake Vire"
_ps = ["Lake Vire is a glacial lake in the northern highlands. It is about nine kilometres long and up to "
       "eighty metres deep, which makes it the deepest lake in the region.",
       "The lake formed at the end of the last ice age, when a moraine blocked the valley. Today it is fed "
       "by three small rivers and drains to the south through a narrow gorge.",
       "Fishing has been regulated since 1950, and the lake is known for its population of brown trout."]
_body = (f"<h1>{_t}</h1><div class='mw-body-content'><table class='infobox'><tr><th>Length</th><td>9 km</td></tr>"
         f"<tr><th>Max. depth</th><td>80 m</td></tr></table>{_p(_ps)}<div class='navbox'><a href='/l1'>Lakes of "
         f"the region</a> <a href='/l2'>Glacial lakes</a> <a href='/l3'>Rivers</a></div></div>")
case("wiki_infobox", divsoup(_t, _body), [_t, "Length | 9 km", "Max. depth | 80 m"] + _ps)

# 13 Q&A page (question + accepted answer, vote counts and sidebar)
_q = ("How can I merge two sorted lists into one sorted list without calling sort again? The lists can "
      "be large, so I would like to avoid copying them more than once.")
_a = ("Walk through both lists with two indexes and always take the smaller head element. This touches "
      "each element once, so the work is linear in the total length. The standard library also has a "
      "helper for this that returns an iterator, so nothing is copied until you consume it.")
_body = (f"<div id='question-header'><h1>Merge two sorted lists</h1></div><div class='question'>"
         f"<div class='votes'>42</div><div class='post-text'><p>{E(_q)}</p></div></div><div class='answer accepted'>"
         f"<div class='votes'>57</div><div class='post-text'><p>{E(_a)}</p></div></div>"
         f"<div id='sidebar'><h4>Linked</h4><ul><li><a href='/q/1'>Sort a dict by value</a></li>"
         f"<li><a href='/q/2'>Flatten a nested list</a></li></ul></div>")
case("qa_page", divsoup("Merge two sorted lists", _body), ["Merge two sorted lists", _q, _a])

# 14 press release with contact block
_t = "Northwind Energy opens its third wind farm"
_ps = ["Northwind Energy today opened its third onshore wind farm, with twelve turbines that together "
       "can supply about twenty thousand homes with electricity.",
       "The company says that the site was chosen after three years of wind measurements and a long "
       "consultation with the two villages nearby, which will receive a share of the income."]
_body = (f"<h1>{_t}</h1><p class='dateline'>Press release, 12 May 2024</p>{_p(_ps)}<h3>About Northwind</h3>"
         "<p>Northwind Energy builds and runs renewable power plants in four countries.</p>")
case("press_release", semantic(_t, _body), [_t, "Press release, 12 May 2024"] + _ps +
     ["About Northwind", "Northwind Energy builds and runs renewable power plants in four countries."])

# 15 event page
_t = "Summer concert in the park"
_ps = ["The city orchestra will play a free open-air concert in the park on the last Saturday of June. "
       "The programme includes music by Dvořák and a selection of film scores.",
       "Bring a blanket and something to eat. In case of rain the concert moves to the town hall, and "
       "the decision will be announced on our website by noon on the day."]
_body = f"<h1>{_t}</h1><ul><li>Date: 29 June, 7 pm</li><li>Place: Central Park bandstand</li></ul>{_p(_ps)}"
case("event_page", divsoup(_t, _body), [_t, "Date: 29 June, 7 pm", "Place: Central Park bandstand"] + _ps)

# 16 changelog
_t = "Release notes for version 2.4"
_items = ["Added an option to export reports as CSV files.",
          "Fixed a crash when the configuration file was empty.",
          "Improved start-up time by loading plugins on demand.",
          "Removed the deprecated legacy import command."]
_body = (f"<h1>{_t}</h1><p>This release focuses on stability and speed. Upgrading is recommended for "
         f"all users.</p><ul>" + "".join(f"<li>{E(i)}</li>" for i in _items) + "</ul>")
case("changelog", semantic(_t, _body), [_t, "This release focuses on stability and speed. Upgrading is "
                                        "recommended for all users."] + _items)

# 17 academic abstract page
_t = "Measuring soil moisture with low-cost sensors"
_abs = ("We compare four low-cost capacitive soil moisture sensors with a laboratory reference over one "
        "growing season. After a simple two-point calibration, three of the four sensors agree with the "
        "reference to within three percentage points of volumetric water content, while the fourth drifts "
        "with temperature. We describe the calibration procedure and publish the data.")
_body = (f"<h1>{_t}</h1><div class='authors'>A. Rivera, T. Okafor</div><h2>Abstract</h2><p>{E(_abs)}</p>"
         "<div class='download-links'><a href='/pdf'>PDF</a> <a href='/bib'>BibTeX</a> <a href='/data'>Data</a></div>")
case("abstract_page", semantic(_t, _body), [_t, "A. Rivera, T. Okafor", "Abstract", _abs])

# 18 review with rating and pros/cons lists
_t = "Review: the Quill 2 e-reader"
_ps = ["The Quill 2 is a small and light e-reader with a sharp screen and a battery that lasts for weeks. "
       "It does one thing, and it does it well.",
       "Page turns are quick, the front light is even, and the buttons on the side make it easy to read "
       "with one hand on a crowded train."]
_pros, _cons = ["Excellent battery life", "Physical page buttons"], ["No colour screen", "Slow store app"]
_body = (f"<h1>{_t}</h1><div class='rating'>4 out of 5</div>{_p(_ps)}<h3>Pros</h3><ul>"
         + "".join(f"<li>{x}</li>" for x in _pros) + "</ul><h3>Cons</h3><ul>"
         + "".join(f"<li>{x}</li>" for x in _cons) + "</ul>")
case("review", divsoup(_t, _body), [_t, "4 out of 5"] + _ps + ["Pros"] + _pros + ["Cons"] + _cons)

# 19 job posting
_t = "Data engineer (remote)"
_ps = ["We are looking for a data engineer to help us build the pipelines that feed our forecasting models. "
       "You will work closely with analysts and with the platform team.",
       "We offer a permanent contract, flexible hours and a yearly budget for courses and conferences."]
_req = ["Three years of experience with Python", "Good knowledge of SQL", "Experience with workflow schedulers"]
_body = (f"<h1>{_t}</h1>{_p(_ps[:1])}<h2>Requirements</h2><ul>" + "".join(f"<li>{r}</li>" for r in _req)
         + f"</ul>{_p(_ps[1:])}<a class='apply-button' href='/apply'>Apply now</a>")
case("job_posting", semantic(_t, _body), [_t, _ps[0], "Requirements"] + _req + [_ps[1]])

# 20 poem (short lines, br)
_t = "Autumn station"
_lines = ["The last train leaves at ten past nine,", "the platform lamps burn low,",
          "a paper cup rolls down the line", "where only pigeons go."]
_body = f"<h1>{_t}</h1><p>" + "<br>".join(E(l) for l in _lines) + "</p><p class='poet'>by M. Lindqvist</p>"
case("poem", semantic(_t, _body), [_t] + _lines + ["by M. Lindqvist"])

# 21 interview with bold speaker names
_t = "Interview: a lighthouse keeper on forty years at sea"
_qa = [("What did a normal day look like?", "I climbed the stairs at dusk to light the lamp, and then "
        "I wrote the weather into the log every four hours until morning."),
       ("Did you ever feel lonely?", "Less than people think. The supply boat came every week, and in "
        "summer there were always visitors who wanted to see the lamp room.")]
_body = f"<h1>{_t}</h1>" + "".join(f"<p><b>Q:</b> {E(q)}</p><p><b>A:</b> {E(a)}</p>" for q, a in _qa)
case("interview", divsoup(_t, _body), [_t] + [x for q, a in _qa for x in (f"Q: {q}", f"A: {a}")])

# 22 tutorial with numbered steps and code
_t = "How to set up a virtual environment"
_steps = ["Open a terminal in your project folder.", "Create the environment with the venv module.",
          "Activate it before installing any package."]
_code = "python -m venv .venv\nsource .venv/bin/activate"
_body = (f"<h1>{_t}</h1><p>A virtual environment keeps the packages of one project apart from those of "
         f"another, so that upgrading one project never breaks the other.</p><ol>"
         + "".join(f"<li>{s}</li>" for s in _steps) + f"</ol><pre>{E(_code)}</pre>")
case("tutorial_steps", semantic(_t, _body), [_t, "A virtual environment keeps the packages of one project "
     "apart from those of another, so that upgrading one project never breaks the other."] + _steps + [_code])

# 23 obituary
_t = "Maria Keller, founder of the town library, dies at 91"
_ps = ["Maria Keller, who founded the town library in a single rented room in 1962, died peacefully at "
       "home on Sunday. She was 91.",
       "A former schoolteacher, she collected the first two thousand books by knocking on doors and asking "
       "families for the volumes they no longer read. The library now lends more than fifty thousand "
       "items a year."]
case("obituary", tables(_t, f"<h1>{_t}</h1>{_p(_ps)}"), [_t] + _ps)

# 24 page with misleading hint: article text inside class="sidebar-layout" wrapper, nav inside "content"
_t = "Repairing a dripping tap"
_ps = ["A dripping tap usually means that the washer inside has worn out. Replacing it takes about twenty "
       "minutes and needs only a spanner and a new washer of the right size.",
       "Turn off the water supply first, then open the tap to let the remaining water drain. Unscrew the "
       "head of the tap, lift out the old washer and press the new one into place."]
_body = (f"<div class='layout-with-sidebar'><div class='entry-content'><h1>{_t}</h1>{_p(_ps)}</div></div>")
case("misleading_wrapper", bare(_t, _body + f"<div class='content-footer'>{FOOT}</div>"), [_t] + _ps)

# 25 long-form article with blockquote and subheadings
_t = "Why cities are planting tiny forests"
_ps = ["Across Europe, cities are planting dense patches of native trees on plots no bigger than a tennis "
       "court. The method packs several saplings into every square metre, so that they compete for light "
       "and grow quickly.",
       "Supporters say that the small forests cool the streets around them and give insects and birds a "
       "place to live in neighbourhoods where there was none.",
       "Critics point out that the evidence for the fastest growth claims is thin, and that a tiny forest "
       "is no substitute for protecting the large old trees that cities already have."]
_quote = "We planted six hundred trees with the children of the school, and three years later it is a real wood."
_body = f"<h1>{_t}</h1>{_p(_ps[:2])}<h2>A wood in three years</h2><blockquote>{E(_quote)}</blockquote>{_p(_ps[2:])}"
case("longform_quote", semantic(_t, _body), [_t] + _ps[:2] + ["A wood in three years", _quote] + _ps[2:])

# 26 Italian travel blog
_t = "Tre giorni a Matera"
_ps = ["Matera è una delle città più antiche del mondo, famosa per i Sassi, le case scavate nella roccia "
       "che per secoli hanno ospitato famiglie e animali.",
       "Il modo migliore per visitarla è a piedi, perdendosi tra le scale e i vicoli. Al tramonto la luce "
       "sulla pietra è davvero straordinaria e vale la pena restare fino a sera."]
case("italian_travel", divsoup(_t, f"<h1>{_t}</h1>{_p(_ps)}", lang="it"), [_t] + _ps)

# 27 Portuguese help page
_t = "Como alterar a sua palavra-passe"
_ps = ["Para alterar a palavra-passe, entre na sua conta e abra a página de definições. Escolha a opção "
       "de segurança e siga as instruções no ecrã.",
       "Por razões de segurança, a nova palavra-passe deve ter pelo menos doze caracteres e não pode ser "
       "igual a nenhuma das três anteriores."]
case("portuguese_help", semantic(_t, f"<h1>{_t}</h1>{_p(_ps)}", lang="pt"), [_t] + _ps)

# 28 Dutch municipal notice in table layout
_t = "Afvalinzameling tijdens de feestdagen"
_ps = ["Tijdens de feestdagen wordt het afval op andere dagen opgehaald dan normaal. Op eerste kerstdag en "
       "op nieuwjaarsdag rijden de vuilniswagens niet.",
       "Zet uw container de avond voor de nieuwe ophaaldag aan de straat. Kijk voor uw adres in de "
       "afvalkalender op onze website."]
case("dutch_notice", tables(_t, f"<h1>{_t}</h1>{_p(_ps)}"), [_t] + _ps)

# 29 listicle with image captions
_t = "Seven small habits that help you sleep better"
_items = ["Go to bed at the same time every night, also at the weekend.",
          "Keep the bedroom cool, dark and quiet.", "Avoid coffee after lunch.",
          "Put your phone in another room an hour before sleep.",
          "Get some daylight in the morning.", "Keep naps short.", "Write tomorrow's worries on paper."]
_body = (f"<h1>{_t}</h1><figure><img src='/bed.jpg'><figcaption>A tidy bedroom helps.</figcaption></figure>"
         + "<ol>" + "".join(f"<li>{E(i)}</li>" for i in _items) + "</ol>")
case("listicle", semantic(_t, _body), [_t, "A tidy bedroom helps."] + _items)

# 30 legal/terms page mostly prose
_t = "Terms of service"
_ps = ["These terms apply to everyone who uses our service. By creating an account you agree to them, so "
       "please read them carefully before you sign up.",
       "We may change these terms from time to time. If a change is important, we will tell you by e-mail at "
       "least thirty days before it takes effect, and you may close your account if you do not agree."]
case("terms_page", divsoup(_t, f"<h1>{_t}</h1>{_p(_ps)}"), [_t] + _ps)

# 31 page with hidden elements and noscript inside the article
_t = "Library opening hours change in winter"
_ps = ["From November to February the central library closes at six in the evening instead of eight. The "
       "branch libraries keep their usual hours.",
       "The reading room on the top floor stays open until eight on Thursdays for students preparing "
       "their exams."]
_body = (f"<h1>{_t}</h1><div style='display: none'>Tracking pixel text that should not appear</div>"
         f"<noscript>Please enable JavaScript to see the map.</noscript>{_p(_ps)}"
         f"<div hidden>Old notice from 2019</div><!-- editor note: update in spring -->")
case("hidden_elements", semantic(_t, _body), [_t] + _ps)

# 32 recipe in English with ingredients table and comments widget
_t = "Simple lentil soup"
_ps = ["Fry the onion and carrot in a little oil until soft. Add the lentils, the stock and the tomatoes, "
       "and simmer for twenty-five minutes.",
       "Season with salt, pepper and a squeeze of lemon juice. The soup keeps for three days in the fridge "
       "and tastes even better the next day."]
_rows = [("Red lentils", "250 g"), ("Vegetable stock", "1 litre"), ("Chopped tomatoes", "1 tin")]
_body = (f"<h1>{_t}</h1><table class='ingredients'>" + "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in _rows)
         + f"</table>{_p(_ps)}<div class='comment-list'><p>Lovely recipe!</p><p>Added cumin, worked well.</p></div>")
case("recipe_table", divsoup(_t, _body), [_t] + [f"{a} | {b}" for a, b in _rows] + _ps)

# 33 unclosed tags / sloppy markup
_t = "Notes from the allotment"
_ps = ["The beans have finally started to climb the poles, and the first courgettes are the size of a finger.",
       "Next week I will sow another row of lettuce, because the first one has almost all been eaten."]
_body = f"<h1>{_t}<p>{E(_ps[0])}<p>{E(_ps[1])}<div class='footer'>Copyright the allotment society"
case("unclosed_tags", f"<html><head><title>{_t}</title><body><div class='content'>{_body}", [_t] + _ps)
