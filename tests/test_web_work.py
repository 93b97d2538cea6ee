"""Desk work over HTTP: photo previews from the vault, flags, assignment and "for me", replies.

Through Starlette's test client against the real app on both databases, with a
real relay (in a thread) for replies. Previews are made by sijil.desk.thumbnails;
the original bytes never reach the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from conftest import PASSPHRASE, RelayHandle, desk_with_evidence
from sijil.desk.claims import add_claim
from sijil.desk.incidents import create_incident
from sijil.desk.revocation import revoke
from sijil.desk.sources import add_source
from sijil.store import ActivityEntry, Attachment, RelayReply
from sijil.store.models_desk import Role
from web_helpers import WebDesk, csrf_of

ARABIC = 'lang="ar" dir="rtl"'
THUMB = re.compile(r'src="(/attachments/(\d+)/thumbnail)"')


@pytest.fixture
def make_work_web(
    make_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_correspondent: Callable[..., object],
    store_url: str,
    tmp_path: Path,
) -> Callable[..., WebDesk]:
    """Factory: Raven's three reports; editor dima, analyst lina, viewer sami."""

    def make(**config: object) -> WebDesk:
        evidence = desk_with_evidence(make_desk, make_correspondent, store_url, tmp_path)  # type: ignore[arg-type]
        web = make_web(desk=evidence.desk, **config)
        web.add("dima", Role.EDITOR)
        web.add("lina", Role.ANALYST)
        web.add("sami", Role.VIEWER)
        return web

    return make


def _report_ids(page: str) -> list[int]:
    return sorted({int(n) for n in re.findall(r'href="/reports/(\d+)"', page)})


def test_the_inbox_shows_small_previews_served_from_the_vault(
    make_work_web: Callable[..., WebDesk],
) -> None:
    # Given a desk started with its key
    web = make_work_web(unlocked=True)
    dima = web.session_for("dima")
    # When dima opens the inbox and a preview
    inbox = dima.get("/inbox")
    previews = THUMB.findall(inbox.text)
    assert len(previews) == 2, "two of the three reports carry a photo"
    shown = dima.get(previews[0][0])
    # Then it is a small JPEG, marked so the browser does not guess, and saved under a plain name
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-disposition"].startswith('inline; filename="report-')
    with Image.open(io.BytesIO(shown.content)) as image:
        assert max(image.size) <= 160 and not image.getexif()
    # And a viewer, who may not read reports, gets no preview
    assert web.session_for("sami").get(previews[0][0]).status_code == 403
    assert dima.get("/attachments/99999/thumbnail").status_code == 404
    assert dima.get("/attachments/0x1/thumbnail").status_code == 400


def test_without_the_desk_key_previews_are_refused_not_broken(
    make_work_web: Callable[..., WebDesk],
) -> None:
    # Given an app started without the desk key, and the address of a photo's preview
    web = make_work_web()
    dima = web.session_for("dima")
    with web.desk.home.open_store() as store, store.session() as session:
        photo = session.scalars(select(Attachment.id).where(Attachment.media_type == "image/jpeg"))
        address = f"/attachments/{photo.first()}/thumbnail"
    # When dima reads the inbox and asks for a preview anyway
    inbox = dima.get("/inbox")
    response = dima.get(address)
    # Then the inbox shows no broken image, and the preview is a 404 in her language
    assert THUMB.findall(inbox.text) == []
    assert response.status_code == 404 and ARABIC in response.text


def test_reports_of_a_revoked_correspondent_are_marked_in_the_inbox_and_on_the_page(
    make_work_web: Callable[..., WebDesk],
) -> None:
    # Given Raven's key revoked from before the reports came
    web = make_work_web()
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        revoke(session, "Raven", since=datetime.now(UTC) - timedelta(days=3650), reason="taken",
               by="dima")  # fmt: skip
    dima = web.session_for("dima")
    # When dima reads the inbox and a report
    inbox = dima.get("/inbox")
    report = dima.get(f"/reports/{_report_ids(inbox.text)[0]}")
    # Then both say so, and the report page says replies have stopped
    assert inbox.text.count('class="flagged"') == 3 and "ربما تحت الإكراه" in inbox.text
    assert 'class="flag-banner"' in report.text
    assert "توقفت الردود على هذا المراسل" in report.text


def test_a_report_assigned_to_lina_waits_for_her(make_work_web: Callable[..., WebDesk]) -> None:
    web = make_work_web()
    dima = web.session_for("dima")
    report_id = _report_ids(dima.get("/inbox").text)[0]
    page = dima.get(f"/reports/{report_id}")
    assert '<option value="lina"' in page.text and '<option value="sami"' not in page.text
    # When dima assigns it to lina from the report page
    assigned = dima.post(
        "/assign",
        data={"csrf": csrf_of(page.text), "kind": "report", "id": str(report_id), "to": "lina"},
    )
    assert assigned.status_code == 303
    # Then it is on lina's "for me" page, and the report page shows her
    lina = web.session_for("lina")
    mine = lina.get("/mine")
    assert mine.status_code == 200 and f'href="/reports/{report_id}"' in mine.text
    assert '<option value="lina" selected>' in dima.get(f"/reports/{report_id}").text
    # When lina clears it, nothing waits for her
    page = lina.get(f"/reports/{report_id}")
    cleared = lina.post(
        "/assign",
        data={"csrf": csrf_of(page.text), "kind": "report", "id": str(report_id), "to": ""},
    )
    assert cleared.status_code == 303 and "لم يُسنَد إليك شيء" in lina.get("/mine").text


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"kind": "source", "id": "1", "to": "lina"}, 400),  # not a choice
        ({"kind": "report", "id": "-1", "to": "lina"}, 400),  # not an id
        ({"kind": "report", "id": "99999", "to": "lina"}, 404),  # no such report
        ({"kind": "report", "id": "1", "to": "sami"}, 403),  # a viewer does no desk work
        ({"kind": "report", "id": "1", "to": "li\u202ena"}, 400),  # RTL override
        ({"kind": "report", "id": "1", "to": "nobody"}, 404),
        ({"kind": "report", "id": "1", "to": "x" * 65}, 400),
    ],
)
def test_hostile_assignments_get_a_4xx_in_arabic(
    make_work_web: Callable[..., WebDesk], fields: dict[str, str], status: int
) -> None:
    web = make_work_web()
    dima = web.session_for("dima")
    page = dima.get("/mine")
    response = dima.post("/assign", data={"csrf": csrf_of(page.text), **fields})
    assert response.status_code == status, response.text
    assert ARABIC in response.text and 'role="alert"' in response.text


def test_a_reply_from_the_report_page_is_sealed_and_left_at_the_relay(
    make_work_web: Callable[..., WebDesk],
    make_desk: Callable[..., object],
    make_relay: Callable[..., RelayHandle],
    tmp_path: Path,
) -> None:
    # Given a desk started with its key and a relay, and a report from Raven
    holder = make_work_web(unlocked=True)
    relay = make_relay(holder.desk.home.unlock(PASSPHRASE).public.sign)
    web = WebDesk(desk=holder.desk, config=_with_relay(holder, relay.url), clients=holder.clients,
                  users=holder.users)  # fmt: skip
    lina = web.session_for("lina")
    report_id = _report_ids(lina.get("/inbox").text)[0]
    page = lina.get(f"/reports/{report_id}")
    assert 'action="/reports/' in page.text and "الرد على المراسل" in page.text
    # When lina writes to the correspondent
    sent = lina.post(f"/reports/{report_id}/reply",
                     data={"csrf": csrf_of(page.text), "text": "وصل تقريرك. ابقَ بأمان."})  # fmt: skip
    # Then a sealed reply waits in Raven's mailbox, the desk keeps its copy, the log names the report
    assert sent.status_code == 303 and sent.headers["location"].endswith("?replied=1")
    assert len(list((relay.spool / "mailboxes").glob("*/*.age"))) == 1
    with web.desk.home.open_store() as store, store.session() as session:
        assert [r.text for r in session.scalars(select(RelayReply))] == ["وصل تقريرك. ابقَ بأمان."]
        logged = session.scalars(
            select(ActivityEntry.object).where(ActivityEntry.action == "reply.sent")
        )
        assert list(logged) == [f"report:{report_id}"]
    assert "خُتم الرد" in lina.get(f"/reports/{report_id}?replied=1").text


def _with_relay(web: WebDesk, url: str) -> object:
    from dataclasses import replace

    return replace(web.config, relay=url)


def test_replies_are_refused_without_a_relay_and_for_viewers_and_bad_text(
    make_work_web: Callable[..., WebDesk],
) -> None:
    web = make_work_web()
    lina = web.session_for("lina")
    report_id = _report_ids(lina.get("/inbox").text)[0]
    page = lina.get(f"/reports/{report_id}")
    assert "الردود غير مُعدّة" in page.text
    csrf = csrf_of(page.text)
    no_relay = lina.post(f"/reports/{report_id}/reply", data={"csrf": csrf, "text": "hello"})
    assert no_relay.status_code == 409 and ARABIC in no_relay.text
    for text in ("", "a\u202eb", "x" * 2001):
        bad = lina.post(f"/reports/{report_id}/reply", data={"csrf": csrf, "text": text})
        assert bad.status_code == 400, text
    assert lina.post("/reports/abc/reply", data={"csrf": csrf, "text": "hi"}).status_code == 400
    sami = web.session_for("sami")
    csrf = csrf_of(sami.get("/incidents").text)
    refused = sami.post(f"/reports/{report_id}/reply", data={"csrf": csrf, "text": "hi"})
    assert refused.status_code == 403


def test_an_incident_is_assigned_from_its_page_and_waits_for_lina(
    make_work_web: Callable[..., WebDesk],
) -> None:
    web = make_work_web()
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        code = create_incident(session, title_ar="قصف السوق", title_en="Market shelling",
                               incident_type="shelling",
                               start=datetime(2017, 6, 6, 4, 30, tzinfo=UTC),
                               at="35.95,39.01", by="dima").code  # fmt: skip
    dima = web.session_for("dima")
    page = dima.get(f"/incidents/{code}")
    # the incident page carries the assignment form for the people who work on incidents
    assert page.status_code == 200 and 'action="/assign"' in page.text
    assert 'name="kind" value="incident"' in page.text and '<option value="lina"' in page.text
    assert 'action="/assign"' not in web.session_for("sami").get(f"/incidents/{code}").text
    number = re.search(r'name="id" value="(\d+)"', page.text)
    assert number
    # When dima assigns it to lina, she is sent back to the incident page
    assigned = dima.post("/assign", data={"csrf": csrf_of(page.text), "kind": "incident",
                                          "id": number.group(1), "to": "lina"})  # fmt: skip
    assert assigned.status_code == 303 and assigned.headers["location"] == f"/incidents/{code}"
    assert '<option value="lina" selected>' in dima.get(f"/incidents/{code}").text
    # Then it waits for lina, with a link to the incident
    mine = web.session_for("lina").get("/mine")
    assert mine.status_code == 200 and f'href="/incidents/{code}"' in mine.text
    assert "قصف السوق" in mine.text
    # and an incident that does not exist cannot be assigned
    missing = dima.post("/assign", data={"csrf": csrf_of(page.text), "kind": "incident",
                                         "id": "999999", "to": "lina"})  # fmt: skip
    assert missing.status_code == 404 and 'lang="ar"' in missing.text


def test_search_hits_link_to_incident_and_claim_pages(
    make_work_web: Callable[..., WebDesk],
) -> None:
    web = make_work_web()
    with web.desk.home.open_store() as store, store.session(write=True) as session:
        code = create_incident(session, title_ar="قصف المخبز", title_en="Bakery shelling",
                               incident_type="shelling",
                               start=datetime(2017, 6, 6, 4, 30, tzinfo=UTC),
                               at="35.95,39.01", by="dima").code  # fmt: skip
        add_source(session, "outlet", "sana", name_ar="سانا", by="dima")
        claim = add_claim(session, source="sana", title="Bakery shelled at dawn", by="dima")
    for name in ("dima", "sami"):  # a viewer's search finds incidents and claims too
        found = web.session_for(name).get("/search", params={"q": "bakery"})
        assert found.status_code == 200
        assert f'href="/incidents/{code}"><bdi>{code}</bdi></a>' in found.text
        assert f'href="/claims/C-{claim.id}"><bdi>C-{claim.id}</bdi></a>' in found.text
