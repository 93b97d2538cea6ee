"""A crawler that submits every form of the desk web app with hostile values (issue 12).

Signed in as a user who holds every role, it starts from ``/`` and follows every
same-origin link (each address once, at most MAX_PAGES pages), parses every
``<form>`` with the standard library's html.parser, and submits each one again
and again with one field at a time set to a hostile value: oversized, the wrong
type, a script, bidi overrides and isolates, NUL and control characters, empty,
absent, an id of nothing or of another object, a stale version. Every route
pattern of the app is then asked with hostile path parameters. Every answer
must be under 500, carry no traceback, be a page with ``lang`` set and, when it
refuses in the Arabic interface, say so in Arabic. A POST without the CSRF
token is refused with 403. Everything goes through the in-process test client
(no socket), on SQLite and PostgreSQL; every loop is bounded by a named limit.
"""

from __future__ import annotations

import re
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from conftest import CORPUS, desk_with_evidence
from desk_work_helpers import small_gazetteer
from sijil.desk.actors import add_actor
from sijil.desk.assessments import propose_assessment
from sijil.desk.assignments import AssignmentKind, assign
from sijil.desk.claims import Killed, add_claim, link_claim
from sijil.desk.custody import utcnow
from sijil.desk.incidents import create_incident
from sijil.desk.places import import_gazetteer
from sijil.desk.sources import add_source
from sijil.desk.users import get_user
from sijil.desk.verdicts import propose_verdict
from sijil.desk.web_sessions import FULL, start_session
from sijil.store.models_desk import Role
from sijil.web.app import create_app
from sijil.web.guard import SESSION_COOKIE
from web_helpers import WebDesk

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: Pages the crawler opens at most (each address once).
MAX_PAGES = 400
#: Distinct forms (method, address pattern, field names) it submits at most.
MAX_FORMS = 150
#: Fields of one form it varies at most (the gate takes 32 per form).
MAX_FIELDS = 32
#: Requests in all, a bound on the whole test whatever the app answers.
MAX_REQUESTS = 12_000
#: An oversized value in an address (a body gets 100 kB; httpx refuses addresses over 64 KiB).
GET_OVERSIZED = 20_000
#: What the crawl must at least have reached, or it proves nothing.
MIN_PAGES = 30
MIN_FORMS = 22
MIN_SUBMISSIONS = 1000
MIN_ROUTES = 18
MIN_CSRF_FORMS = 15

#: The only answers over 499 that are right: a reply when the relay cannot be reached (the
#: crawl's relay is a closed port on loopback) is a 502 that says so.
ALLOWED_5XX = frozenset({(502, "POST", "/reports/#/reply")})
#: Where replies go: a loopback port nothing listens on.
CLOSED_RELAY = "http://127.0.0.1:9"
ARABIC = re.compile(r"[\u0621-\u064a]")
NUMBERED = re.compile(r"^(.*?)(\d+)$")
SEARCH_WORD = "التقرير"


#: What a person would type in a field the page leaves empty, so that a hostile value in one
#: field is not hidden behind another field's "required".
PLAUSIBLE = {
    "title_ar": "قصف على الجسر",
    "title_en": "Shelling at the bridge",
    "start": "2017-06-07",
    "at": "35.95,39.01",
    "summary_ar": "قصف الجسر صباحاً",
    "summary_en": "The bridge was shelled in the morning.",
    "actor": "Coalition",
    "basis": "A statement of the coalition.",
    "rating": "false",
    "text": "Thank you; can you send the time?",
    "name": "newcomer",
    "q": SEARCH_WORD,
    "kind0": "killed:civilian:all",
    "min0": "2",
    "max0": "3",
}


def _hostile(name: str, base: str) -> list[tuple[str, str | None]]:
    """The values one field is tried with (None: the field left out)."""
    values: list[tuple[str, str | None]] = [
        ("oversized", "A" * 100_000),
        ("long", "x" * 8000),
        ("letters", "abc"),
        ("bad-date", "2017-13-45"),
        ("script", "<script>alert(1)</script>"),
        ("rtl-override", "\u202eevil\u202c"),
        ("rtl-isolate", "\u2066x\u2069"),
        ("nul", "a\x00b"),
        ("control", "a\x01\x1b[31mb\x7f"),
        ("empty", ""),
        ("whitespace", " \t "),
        ("absent", None),
        ("missing-id", "999999"),
        ("huge-number", "9" * 40),
        ("negative", "-1"),
        ("float", "1.5e308"),
        ("elsewhere", "//evil.example/"),
        ("other-scheme", "javascript:alert(1)"),
    ]
    token = re.fullmatch(r"([A-Za-z]+-)(\d+)", base)
    if token:  # a typed id (V-3, C-1, S-2): another object's, and one of nothing
        other = "1" if token.group(2) != "1" else "2"
        values += [("other-object", token.group(1) + other),
                   ("no-such-object", token.group(1) + "999999")]  # fmt: skip
    elif base.isdigit():
        values.append(("other-object", "1" if base != "1" else "2"))
    if name == "version":
        stale = "0" * 16 if re.fullmatch(r"[0-9a-f]{16}", base) else "1"
        values.append(("stale-version", stale))
        if base.isdigit() and int(base) > 1:
            values.append(("older-version", str(int(base) - 1)))
    return values


#: Query parameters the app's pages read; each page is asked with each set to hostile values.
QUERY_PARAMS = ("before", "from", "q", "kind", "grading", "state", "source", "incident", "place",
                "replied")  # fmt: skip
QUERY_VALUES = ("abc", "9" * 40, "a\x00b", "\u202e1", "A" * 5000)

#: Cookie headers a browser of this app never sends.
HOSTILE_COOKIES = (
    "sijil_session=" + "A" * 4000,
    "sijil_session=%00; sijil_lang=xx",
    'sijil_lang="ar\\"; sijil_pre=' + "p" * 300,
    "sijil_lang=%E2%80%AEen",
    "=; ;;sijil_session",
)

#: Hostile address parts, already percent-encoded as they go on the wire.
HOSTILE_PATHS = (
    "abc",
    "0",
    "-1",
    "1.5",
    "999999",
    "9" * 40,
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E",
    "%00",
    "a%00b",
    "%E2%80%AE1",
    "%E2%81%A61%E2%81%A9",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "C-999999999999",
    "V-1",
    "S-999999",
    "A-1",
    "SJ-2026-9999",
    "x" * 3000,
    "%FF%FE",
)


@dataclass
class Form:
    method: str
    action: str
    #: (name, value) as a browser would send them, in order; checkboxes only when ticked
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: names of every control, ticked or not
    names: list[str] = field(default_factory=list)
    has_csrf: bool = False
    submit: tuple[str, str] | None = None


class PageParser(HTMLParser):
    """Links, forms and the ``<html lang>`` of one page; alert texts for the language check."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.alerts: list[str] = []
        self._form: Form | None = None
        self._select: tuple[str, list[str], list[str]] | None = None
        self._option: str | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._alert_depth = 0
        self._alert: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("role") == "alert" and self._alert_depth == 0:
            self._alert_depth, self._alert = 1, []
        elif self._alert_depth:
            self._alert_depth += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src"):
            self.links.append(a["src"])
        if tag == "form":
            self._form = Form(method=(a.get("method") or "get").upper(), action=a.get("action", ""))
            self.forms.append(self._form)
        form = self._form
        if form is None:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            form.names.append(name)
            if name == "csrf":
                form.has_csrf = True
                return
            if kind in ("checkbox", "radio"):
                value = a.get("value", "on")
                chosen = "checked" in a
                if kind == "radio" and not chosen and name not in dict(form.fields):
                    chosen = True  # a user picks one of the choices
                if chosen:
                    form.fields = [f for f in form.fields if f[0] != name or kind == "checkbox"]
                    form.fields.append((name, value))
            elif kind == "submit":
                if form.submit is None:
                    form.submit = (name, a.get("value", ""))
            else:
                form.fields.append((name, a.get("value", "")))
        elif tag == "button" and name:
            form.names.append(name)
            if form.submit is None:
                form.submit = (name, a.get("value", ""))
        elif tag == "select" and name:
            form.names.append(name)
            self._select = (name, [], [])
        elif tag == "option" and self._select is not None:
            self._option = a.get("value")
            self._select[1].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
        elif tag == "textarea" and name:
            form.names.append(name)
            self._textarea = (name, [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self._alert_depth:
            self._alert_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._alert_depth:
            self._alert.append(data)
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._alert_depth:
            self._alert_depth -= 1
            if not self._alert_depth:
                self.alerts.append("".join(self._alert).strip())
        if tag == "select" and self._select is not None and self._form is not None:
            name, options, selected = self._select
            chosen = selected[0] if selected else (options[0] if options else "")
            self._form.fields.append((name, chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


@dataclass
class Crawl:
    client: Any
    csrf: str
    own_user: int
    failures: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    forms: dict[tuple[str, str, tuple[str, ...]], tuple[Form, str]] = field(default_factory=dict)
    requests: int = 0
    submissions: int = 0
    csrf_checked: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, method: str, url: str, data: dict[str, str] | None = None, *,
             what: str, htmx: bool = False) -> Any:  # fmt: skip
        assert self.requests < MAX_REQUESTS, "the crawl made more requests than its bound"
        self.requests += 1
        if method == "POST":
            body = urlencode(data or {})
            headers = {"content-type": "application/x-www-form-urlencoded"}
            answer = self.client.request("POST", url, content=body, headers=headers)
        else:
            answer = self.client.request("GET", url, headers={"hx-request": "true"} if htmx else {})
        self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
        self.check(answer, what, fragment=htmx)
        return answer

    def check(self, answer: Any, what: str, *, fragment: bool = False) -> None:
        status = answer.status_code
        if status >= 500 and (status, what.split(" ")[0], _pattern(what)) not in ALLOWED_5XX:
            self.failures.append(f"{status} for {what}")
            return
        if "Traceback" in answer.text:
            self.failures.append(f"a traceback for {what}")
        if 300 <= status < 400:
            where = answer.headers.get("location", "")
            if not where.startswith("/") or where.startswith("//") or "\\" in where:
                self.failures.append(f"a redirect off the app ({where[:60]!r}) for {what}")
            return
        if not answer.headers.get("content-type", "").startswith("text/html"):
            return
        page = parse_page(answer.text)
        if fragment:  # HTMX swaps a part of the page: no <html>, a message still in Arabic
            page.lang = page.lang or "ar"
        if not page.lang:
            self.failures.append(f"no lang on the page for {what}")
            return
        if status >= 400 and page.lang == "ar":
            if not page.alerts:
                self.failures.append(f"{status} without a message for {what}")
            for alert in page.alerts:
                if not ARABIC.search(alert):
                    self.failures.append(f"{status} not in Arabic for {what}: {alert[:80]!r}")

    def visit(self, start: list[str]) -> int:
        """Open ``start`` and every same-origin link from there; the pages opened."""
        queue = deque(start)
        opened = 0
        while queue and opened < MAX_PAGES:
            url = queue.popleft()
            if url in self.seen:
                continue
            self.seen.add(url)
            answer = self.send("GET", url, what=f"GET {url}")
            opened += 1
            if answer.status_code in (301, 302, 303, 307) and "location" in answer.headers:
                queue.append(_local(url, answer.headers["location"]) or "/")
                continue
            if not answer.headers.get("content-type", "").startswith("text/html"):
                continue
            page = parse_page(answer.text)
            for link in page.links:
                target = _local(url, link)
                if target and target not in self.seen:
                    queue.append(target)
            for form in page.forms:
                self._keep(url, form)
        return opened

    def _keep(self, url: str, form: Form) -> None:
        action = _local(url, form.action or url) or url
        if form.method == "GET":
            action = action.split("?")[0]
        shape = (form.method, re.sub(r"\d+", "#", action), tuple(sorted(set(form.names))))
        if shape not in self.forms and len(self.forms) < MAX_FORMS:
            self.forms[shape] = (form, action)

    def submit_all(self) -> None:
        for (method, _, _), (form, action) in list(self.forms.items()):
            if action == "/logout" or action.startswith(f"/users/{self.own_user}/"):
                continue  # the crawler would end its own session
            base = dict(form.fields)
            for name, value in PLAUSIBLE.items():
                if name in form.names and not base.get(name):
                    base[name] = value
            if form.submit:
                base.setdefault(*form.submit)
            names = list(dict.fromkeys(n for n in form.names if n != "csrf"))
            stems: set[str] = set()
            varied = 0
            for name in names:
                stem = NUMBERED.sub(r"\1", name)
                if stem in stems or varied >= MAX_FIELDS:
                    continue  # one row of a repeated group stands for the others
                stems.add(stem)
                varied += 1
                for label, hostile in _hostile(name, base.get(name, "")):
                    data = {k: v for k, v in base.items() if k != name}
                    if hostile is not None:
                        data[name] = hostile
                    self._submit(method, action, data, f"{method} {action} {name}={label}")
            if not names:  # a form of buttons only: an unexpected field
                self._submit(method, action, base | {"x": "<script>"}, f"{method} {action} +x")
            if method == "POST":
                self._without_csrf(action, base)

    def _submit(self, method: str, action: str, data: dict[str, str], what: str) -> None:
        self.submissions += 1
        if method == "POST":
            self.send("POST", action, {"csrf": self.csrf, **data}, what=what)
            if action == "/language":  # a variant may have switched to English: back to Arabic
                self.send("POST", "/language", {"csrf": self.csrf, "lang": "ar"}, what=what)
        else:  # an address is shorter than a body (httpx takes 64 KiB): oversized is 20 kB
            query = urlencode({k: v[:GET_OVERSIZED] for k, v in data.items()})
            self.send("GET", f"{action}?{query}", what=what)
            self.send("GET", f"{action}?{query}", what=f"{what} (htmx)", htmx=True)

    def _without_csrf(self, action: str, base: dict[str, str]) -> None:
        self.csrf_checked += 1
        for label, data in (("no csrf", base), ("wrong csrf", {"csrf": "0" * 32, **base})):
            answer = self.send("POST", action, data, what=f"POST {action} {label}")
            if answer.status_code != 403:
                self.failures.append(f"{answer.status_code}, not 403, for POST {action} {label}")

    def hostile_queries(self) -> int:
        """One address of each page with each query parameter hostile; the pages asked."""
        pages: dict[str, str] = {}
        for url in sorted(self.seen):
            path = url.split("?")[0]
            pages.setdefault(re.sub(r"\d+", "#", path), path)
        for path in pages.values():
            for name in QUERY_PARAMS:
                for value in QUERY_VALUES:
                    query = urlencode({name: value})
                    self.send("GET", f"{path}?{query}", what=f"GET {path} {name}={value[:20]!r}")
        return len(pages)

    def hostile_cookies(self) -> int:
        """The sign-in page and a desk page with cookies nobody's browser holds; the headers."""
        for cookie in HOSTILE_COOKIES:
            for url in ("/login", "/incidents"):
                answer = self.client.request("GET", url, headers={"cookie": cookie})
                self.requests += 1
                self.check(answer, f"GET {url} with cookie {cookie[:30]!r}")
        return len(HOSTILE_COOKIES)

    def hostile_paths(self, routes: list[Any]) -> int:
        """Every route pattern with each parameter set to each hostile value; the patterns."""
        patterns = 0
        for route in routes:
            params = list(getattr(route, "param_convertors", {}))
            if not params:
                continue
            patterns += 1
            methods = getattr(route, "methods", None) or {"GET"}
            for value in HOSTILE_PATHS:
                path = route.path_format
                for name in params:
                    path = path.replace("{" + name + "}", value)
                if "GET" in methods:
                    self.send("GET", path, what=f"GET {route.path_format} as {value[:40]}")
                if "POST" in methods:
                    self.send("POST", path, {"csrf": self.csrf},
                              what=f"POST {route.path_format} as {value[:40]}")  # fmt: skip
        return patterns


def _pattern(what: str) -> str:
    """The address of ``what`` with its numbers as ``#``."""
    parts = what.split(" ")
    return re.sub(r"\d+", "#", parts[1].split("?")[0]) if len(parts) > 1 else ""


def _local(page: str, href: str) -> str | None:
    """``href`` as a path on this app, or None for other origins, anchors and static files."""
    if href.startswith(("#", "mailto:", "javascript:")):
        return None
    joined = urljoin(f"http://127.0.0.1{page}", href)
    parts = urlsplit(joined)
    if parts.netloc != "127.0.0.1" or parts.path.startswith("/static/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def crawl_desk(
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> tuple[WebDesk, str]:
    """Raven's reports, places, an actor, incidents, an assessment, a claim with a verdict,
    an assignment, and ``crawl``, who holds every role; returns the web desk and an incident."""
    evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
    web = make_web(desk=evidence.desk, unlocked=True, relay=CLOSED_RELAY)
    web.add("dima", Role.EDITOR)
    web.add("rami", Role.REVIEWER)
    web.add("crawl", *Role)
    web.add("sami", Role.VIEWER)
    at = datetime(2017, 6, 6, 4, 30, tzinfo=UTC)
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        import_gazetteer(session, small_gazetteer(CORPUS), by="root")
        add_actor(session, name_en="Coalition", name_ar="التحالف", aliases=["CJTF-OIR"],
                  by="dima")  # fmt: skip
        incident = create_incident(session, title_ar="قصف السوق", title_en="Market shelling",
                                   incident_type="shelling", start=at, at="35.95,39.01",
                                   by="dima")  # fmt: skip
        create_incident(session, title_ar="غارة", title_en="غارة", incident_type="airstrike",
                        start=at, at="35.95,39.02", by="dima")  # fmt: skip
        propose_assessment(session, incident.code, grading="fair", harm="yes", counts=(),
                           summary_ar="قصف السوق", summary_en="The market was shelled.",
                           by="dima")  # fmt: skip
        add_source(session, "outlet", "sana", name_ar="سانا", by="dima")
        claim = add_claim(session, source="sana", title="Shelling kills six in the market",
                          body="Six civilians were killed.", killed=Killed(civilians=6),
                          by="dima")  # fmt: skip
        add_claim(session, source="sana", title="A second claim", by="dima")
        link_claim(session, f"C-{claim.id}", incident=incident.code, by="dima")
        propose_verdict(session, f"C-{claim.id}", rating="false", summary_ar="لم يُقتل أحد",
                        summary_en="Nobody was killed.", evidence=[1], by="dima")  # fmt: skip
        assign(session, AssignmentKind.REPORT, 1, to="crawl", by="dima")
        assign(session, AssignmentKind.INCIDENT, incident.id, to="crawl", by="dima")
        code = incident.code
    return web, code


def _crawler(web: WebDesk) -> Crawl:
    """A client of its own that reports a 500 instead of raising (so every one is counted)."""
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        user = get_user(session, "crawl")
        token = start_session(session, user, stage=FULL, now=utcnow())
        own = user.id
    app = create_app(web.config, clock=web.clock)
    client = web.clients.enter_context(
        TestClient(
            app, base_url="http://127.0.0.1", follow_redirects=False, raise_server_exceptions=False
        )
    )
    client.cookies.set(SESSION_COOKIE, token)
    home = client.get("/incidents")
    found = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert found, "the signed-in page has no CSRF field"
    return Crawl(client=client, csrf=found.group(1), own_user=own)


def test_every_form_and_address_refuses_hostile_values_with_a_page_in_arabic(
    crawl_desk: tuple[WebDesk, str],
) -> None:
    web, code = crawl_desk
    crawl = _crawler(web)
    # Given a crawl from / (and the pages a search leads to), as a user of every role
    seeds = [f"/search?q={SEARCH_WORD}", f"/incidents/{code}/evidence?q={SEARCH_WORD}",
             f"/places/pick?{urlencode({'place': 'الرقة'})}"]  # fmt: skip
    pages = crawl.visit(["/", *seeds])
    # When every form is submitted with hostile values and every route with hostile addresses
    crawl.submit_all()
    queried = crawl.hostile_queries()
    routes = crawl.hostile_paths(list(crawl.client.app.routes))
    crawl.hostile_cookies()  # last: the app clears a session cookie it does not know
    # Then nothing broke, and the crawl reached enough of the app to mean something
    assert not crawl.failures, "\n".join(dict.fromkeys(f.split("=")[0] for f in crawl.failures))
    assert pages >= MIN_PAGES, f"only {pages} pages reached: {sorted(crawl.seen)}"
    assert len(crawl.forms) >= MIN_FORMS, f"only {len(crawl.forms)} forms: {list(crawl.forms)}"
    assert crawl.submissions >= MIN_SUBMISSIONS, crawl.submissions
    assert crawl.csrf_checked >= MIN_CSRF_FORMS, crawl.csrf_checked
    assert routes >= MIN_ROUTES and queried >= MIN_PAGES // 2, (routes, queried)
    assert sum(n for s, n in crawl.statuses.items() if 400 <= s < 500) > crawl.submissions // 2


@dataclass
class _Answer:
    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/html"})


def test_the_crawler_would_notice_a_500_a_traceback_english_and_a_redirect_away() -> None:
    crawl = Crawl(client=None, csrf="", own_user=0)
    arabic = '<html lang="ar"><p role="alert">هذا النموذج لم يُملأ كما يجب.</p></html>'
    crawl.check(_Answer(400, arabic), "fine")
    assert crawl.failures == []
    crawl.check(_Answer(500, arabic), "a 500")
    crawl.check(_Answer(200, '<html lang="en">Traceback (most recent call last)</html>'), "tb")
    crawl.check(_Answer(400, '<html lang="ar"><p role="alert">Not found.</p></html>'), "english")
    crawl.check(_Answer(400, '<html lang="ar"><p>nothing said</p></html>'), "silent")
    crawl.check(_Answer(200, "<p>no html element</p>"), "no lang")
    crawl.check(_Answer(303, "", {"location": "//evil.example/"}), "away")
    assert crawl.failures == [
        "500 for a 500",
        "a traceback for tb",
        "400 not in Arabic for english: 'Not found.'",
        "400 without a message for silent",
        "no lang on the page for no lang",
        "a redirect off the app ('//evil.example/') for away",
    ]
    page = parse_page(
        '<form method="post" action="/x"><input type="hidden" name="csrf" value="t">'
        '<input name="a" value="1"><input type="checkbox" name="b"><input type="radio" '
        'name="r" value="p"><input type="radio" name="r" value="q"><select name="s">'
        '<option value="u">U</option><option value="v" selected>V</option></select>'
        '<textarea name="t">words</textarea><button name="go" value="yes">Go</button></form>'
    )
    (form,) = page.forms
    assert form.has_csrf and form.method == "POST" and form.submit == ("go", "yes")
    assert dict(form.fields) == {"a": "1", "r": "p", "s": "v", "t": "words"}
    assert set(form.names) == {"csrf", "a", "b", "r", "s", "t", "go"}
