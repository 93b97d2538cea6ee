"""The public site in a real browser: Debian's chromium, driven by Playwright.

The built site is served by a plain static file server on a loopback port (as
any host would serve it) and also opened from ``file://`` (a USB stick). Every
request the browser makes is logged: none may leave the site's own origin.
Screenshots go to docs/screenshots/ (site-*.png).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser_helpers import SCREENSHOTS, WAIT_MS
from publish_site_helpers import PublishedDesk, jpeg, published_factory
from sijil.publish.site import build_site

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def make_published(
    make_desk: Callable[..., object], fast_kdf: object
) -> Callable[..., PublishedDesk]:
    return published_factory(make_desk, fast_kdf)  # type: ignore[arg-type]


@pytest.fixture
def site(make_published: Callable[..., PublishedDesk], tmp_path: Path) -> Path:
    """A built site: eight incidents over four places (one with a photo) and a verdict."""
    desk = make_published()
    desk.incident("RAQ-0001", media=[jpeg(1)])
    for n in range(2, 9):
        desk.incident(f"INC-000{n}")
    desk.verdict("CLM-0001", incidents=["RAQ-0001"])
    out = tmp_path / "site"
    with desk.home.open_store() as store:
        build_site(desk.home, store, out)
    return out


@pytest.fixture
def served(site: Path) -> Iterator[str]:
    """The site behind a static file server on 127.0.0.1, as a host would serve it."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _page(browser: object, requests: list[str], problems: list[str], locale: str = "ar") -> object:
    context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 800})  # type: ignore[attr-defined]
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"{r.url} {r.failure}"))
    return page


def _shot(page: object, name: str) -> None:
    """A full-page screenshot once the webfont has loaded (font-display: swap)."""
    page.evaluate("document.fonts.ready.then(() => document.fonts.size)")  # type: ignore[attr-defined]
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_site_renders_arabic_right_to_left_with_its_font_map_and_search_and_stays_home(
    browser: object, served: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    problems: list[str] = []
    page = _page(browser, requests, problems)

    # Given the site served from its own origin, When a reader opens it
    page.goto(f"{served}/")  # type: ignore[attr-defined]
    page.wait_for_url(f"{served}/ar/index.html")  # type: ignore[attr-defined]

    # Then /ar/ is right to left, in the Arabic webfont the site serves itself
    assert page.locator("html").get_attribute("dir") == "rtl"  # type: ignore[attr-defined]
    loaded = page.evaluate(  # type: ignore[attr-defined]
        "document.fonts.load('16px \"Noto Naskh Arabic\"', 'نص').then(f => f.map(x => x.status))"
    )
    assert loaded and set(loaded) == {"loaded"}, loaded
    _shot(page, "site-home-ar.png")

    # and an incident page shows its grading, range and photo
    page.goto(f"{served}/ar/incident/RAQ-0001.html")  # type: ignore[attr-defined]
    assert page.locator(".grading h2").inner_text().startswith("التصنيف")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('.evidence img').naturalWidth > 0")  # type: ignore[attr-defined]
    _shot(page, "site-incident-ar.png")

    # and the map draws every place from the data the site ships
    page.goto(f"{served}/ar/map.html")  # type: ignore[attr-defined]
    page.wait_for_selector("#map[data-drawn]")  # type: ignore[attr-defined]
    assert page.get_attribute("#map", "data-drawn") == "4"  # type: ignore[attr-defined]
    assert page.locator("#map svg a circle").count() == 4  # type: ignore[attr-defined]
    assert page.locator("#map svg path.outline").count() == 1  # type: ignore[attr-defined]
    _shot(page, "site-map-ar.png")

    # and search finds "بالرقة" though the pages say "الرقة"
    page.goto(f"{served}/ar/search.html?q=" + "بالرقة")  # type: ignore[attr-defined]
    page.wait_for_selector("#hits[data-count]")  # type: ignore[attr-defined]
    hits = page.locator("#hits li a")  # type: ignore[attr-defined]
    assert hits.count() >= 1
    assert all("الرقة" in hits.nth(i).inner_text() for i in range(hits.count()))
    _shot(page, "site-search-ar.png")

    # and the English twin reads left to right
    page.goto(f"{served}/en/incident/RAQ-0001.html")  # type: ignore[attr-defined]
    assert page.locator("html").get_attribute("dir") == "ltr"  # type: ignore[attr-defined]
    _shot(page, "site-incident-en.png")

    # and not one request left the site's origin, none failed, no CSP violation
    outside = [url for url in requests if not url.startswith(served + "/")]
    assert outside == [] and len(requests) > 10
    assert problems == [], problems


@pytest.mark.slow
def test_from_a_usb_stick_the_static_map_stands_in(browser: object, site: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    problems: list[str] = []
    page = _page(browser, requests, problems)

    # Given the site opened from file://, When the reader opens the map
    page.goto((site / "ar" / "map.html").as_uri())  # type: ignore[attr-defined]
    page.wait_for_selector("#map[data-drawn]")  # type: ignore[attr-defined]

    # Then the build-time image shows the incidents where the script cannot load data
    drawn = page.get_attribute("#map", "data-drawn")  # type: ignore[attr-defined]
    if drawn == "static":
        page.wait_for_function("document.querySelector('#map img').naturalWidth > 0")  # type: ignore[attr-defined]
    else:
        assert drawn == "4"
    assert page.locator("html").get_attribute("dir") == "rtl"  # type: ignore[attr-defined]
    _shot(page, "site-map-file-ar.png")
    # and every request stayed on the stick
    assert all(url.startswith("file://") for url in requests), requests
