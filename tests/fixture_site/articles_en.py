"""The English articles of the fixture site (original text in ``data/en_*.txt``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .model import ExpectedArticle, Figure, Markup, load_blocks

EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))
BST = timezone(timedelta(hours=1))

PORT = ExpectedArticle(
    key="en-port",
    path="/en/world/2021/03/15/port-congestion-eases.html",
    title="Port Congestion Eases as Shipping Lines Add Capacity",
    language="en",
    layout="en",
    section="Business",
    blocks=load_blocks("en_port.txt", {
        # The photo credit names a person who is not an author.
        0: Figure("en-port", Markup.SRC, alt="Container cranes at the north terminal",
                  caption="Container cranes at the north terminal on Monday. Photo: Lena Hart"),
    }),
    published=datetime(2021, 3, 15, 7, 30, tzinfo=EST),
    json_ld=True,
    authors=("Maria Gonzalez",),
    byline_style="us",
    feed_categories=("Business", "Shipping"),
    sources=("atom", "jsonfeed"),
    related=("en-bakery", "en-wetlands"),
)

WETLANDS = ExpectedArticle(
    key="en-wetlands",
    path="/en/science/2021/06/02/wetland-birds-return.html",
    title="Restored Wetlands Bring Migratory Birds Back to the Lower Valley",
    language="en",
    layout="en",
    section="Science",
    blocks=load_blocks("en_wetlands.txt", {
        1: Figure("en-wetlands", Markup.DATA_SRC, alt="Sandhill cranes feeding in shallow water",
                  caption="Sandhill cranes feed on the restored floodplain."),
    }),
    published=datetime(2021, 6, 2, 16, 45, tzinfo=EDT),
    json_ld=True,
    meta_published=True,
    authors=("Daniel Okafor", "Priya Raman"),
    byline_style="us",
    feed_categories=("Science", "Environment"),
    sources=("atom", "sitemap-news"),
    related=("en-port",),
)

# Updated a day after publication: dateModified must not be taken as the date.
BAKERY = ExpectedArticle(
    key="en-bakery",
    path="/en/business/2021/09/20/bakery-cooperative.html",
    title="A Bakery Cooperative Turns Surplus Grain Into Community Jobs",
    language="en",
    layout="en",
    section="Business",
    blocks=load_blocks("en_bakery.txt", {
        0: Figure("en-bakery", Markup.ABS_SRC, alt="Bakers loading bread into an oven",
                  caption="Members of the cooperative at work before dawn."),
    }),
    published=datetime(2021, 9, 20, 9, 0, tzinfo=BST),
    modified=datetime(2021, 9, 21, 10, 0, tzinfo=BST),
    json_ld=True,
    meta_published=True,
    authors=("Tom Whitaker",),
    byline_style="uk",
    feed_categories=("Business", "Food"),
    sources=("atom", "sitemap-pages"),
    related=("en-port", "en-wetlands"),
)

EN_ARTICLES = (PORT, WETLANDS, BAKERY)
