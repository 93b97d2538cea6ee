"""A desk with a publication log for the site tests: posts built per docs/publish-format.md.

``PublishedDesk`` inserts ``Publication`` rows directly (the posting gate is
tested on its own), each body canonical JSON signed with the desk's publication
key, and re-signs the log's checkpoint after every post, as posting does.

    desk = make_published(store_url)
    desk.incident("RAQ-0001", media=[jpeg_bytes])
    desk.verdict("CLM-0001", incidents=["RAQ-0001"])
    desk.correct("incident", "RAQ-0001", reason="a casualty count was wrong")
    desk.retract("incident", "RAQ-0001", reason="a safety concern")
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from conftest import PASSPHRASE, DeskFixture
from sijil.crypto.canonical import canonical_json
from sijil.desk.users import add_user, get_user
from sijil.ledger.merkle import leaf_hash
from sijil.publish.keys import PublicationKey
from sijil.publish.signing import log_root, sign_checkpoint, sign_post
from sijil.store.models_publish import Publication, PublicationCheckpoint, PublicationMedia

__all__ = ["PublishedDesk", "incident_body", "jpeg", "published_factory", "site_file"]

FIRST_DAY = date(2026, 11, 2)


def jpeg(seed: int) -> bytes:
    """A small re-encoded image, as the derivatives pipeline would publish."""
    image = Image.new("RGB", (64, 48), ((seed * 53) % 256, (seed * 97) % 256, 120))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def incident_body(
    code: str, n: int, *, killed: tuple[int, int] = (3, 5), **overrides: Any
) -> dict[str, Any]:
    """An incident object: the n-th of a run, at one of a few coarsened places."""
    places = [
        ({"ar": "الرقة", "en": "Ar-Raqqa"}, "SY11", "35.95", "39.01"),
        ({"ar": "حلب", "en": "Aleppo"}, "SY02", "36.2", "37.13"),
        ({"ar": "دير الزور", "en": "Deir-ez-Zor"}, "SY09", "35.33", "40.14"),
        ({"ar": "درعا", "en": "Daraa"}, "SY12", "32.62", "36.1"),
    ]
    name, governorate, lat, lon = places[n % len(places)]
    day = (date(2017, 6, 1) + timedelta(days=n)).isoformat()
    body: dict[str, Any] = {
        "code": code,
        "type": ["airstrike", "shelling", "explosion"][n % 3],
        "title": {
            "ar": f"غارة على سوق في {name['ar']}",
            "en": f"Strike on a market in {name['en']}",
        },
        "when": {"start": day, "end": None, "date_prec": 1 + n % 3},
        "where": {
            "name": name,
            "governorate": governorate,
            "lat": lat,
            "lon": lon,
            "where_prec": 2 + n % 3,
            "h3": None,
        },
        "grading": {
            "code": "fair",
            "definition": {
                "ar": "مصدر واحد موثوق على الأقل، مع تأكيد حدوث ضربة في المنطقة",
                "en": "Reported by at least one credible source, with a strike confirmed nearby",
            },
        },
        "harm": "yes",
        "casualties": [
            {
                "outcome": "killed",
                "status": "civilian",
                "group": "all",
                "low": killed[0],
                "high": killed[1],
            }
        ],
        "attribution": [
            {
                "actor": {"ar": "التحالف الدولي", "en": "International Coalition"},
                "stance": "suspected",
            }
        ],
        "summary": {
            "ar": f"قُتل مدنيون في السوق الشعبي في {name['ar']} بعد الظهر.",
            "en": f"Civilians were killed in the popular market of {name['en']} in the afternoon.",
        },
        "media": [],
    }
    body.update(overrides)
    return body


def verdict_body(code: str, incidents: list[str], rating: str = "false") -> dict[str, Any]:
    return {
        "claim": {
            "code": code,
            "title": "لم تقع أي غارة على السوق",
            "text": "نفى بيان رسمي وقوع غارة.",
            "lang": "ar",
            "source": {"kind": "outlet", "name": "وكالة أنباء"},
            "date": "2017-06-04",
        },
        "rating": rating,
        "summary": {
            "ar": "الادعاء كاذب: الصور تظهر آثار الغارة.",
            "en": "False: images show the strike.",
        },
        "incidents": incidents,
    }


@dataclass
class PublishedDesk:
    desk: DeskFixture
    key: PublicationKey
    user_id: int
    posts: list[bytes] = field(default_factory=list)
    versions: dict[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict
    )  # -> (version, index)

    @property
    def home(self) -> Any:
        return self.desk.home

    def _append(self, post: dict[str, Any], media: list[bytes] = ()) -> int:  # type: ignore[assignment]
        index = len(self.posts)
        post = {"format": "sijil-post/1", "log_index": index, **post}
        body = canonical_json(post)
        signatures = sign_post(self.key, body, trusted_comment=f"sijil post {index}")
        day = date.fromisoformat(post["published_at"])
        self.posts.append(body)
        root = log_root([leaf_hash(p) for p in self.posts])
        note = sign_checkpoint(self.key, self.key.origin, len(self.posts), root)
        with self.home.open_store() as store, store.session(write=True) as session:
            session.add(
                Publication(
                    log_index=index,
                    action=post["action"],
                    kind=post["kind"],
                    subject=post["subject"],
                    version=post["version"],
                    supersedes=post["supersedes"],
                    body=body,
                    leaf_hash=leaf_hash(body).hex(),
                    minisig=signatures.minisig,
                    sshsig=signatures.sshsig,
                    independently_reviewed=post["independently_reviewed"],
                    published_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
                    published_by=self.user_id,
                )
            )
            session.flush()
            for data in media:
                sha = hashlib.sha256(data).hexdigest()
                if session.get(PublicationMedia, sha) is None:
                    session.add(
                        PublicationMedia(
                            sha256=sha, log_index=index, media_type="image/jpeg", content=data
                        )
                    )
            session.add(
                PublicationCheckpoint(
                    size=len(self.posts),
                    root_hash=root.hex(),
                    note=note,
                    signed_at=datetime.now(UTC),
                )
            )
        self.versions[(post["kind"], post["subject"])] = (post["version"], index)
        return index

    def _post(
        self,
        kind: str,
        code: str,
        action: str,
        content: dict[str, Any] | None,
        reason: dict[str, str] | None,
        media: list[bytes],
    ) -> int:
        version, previous = self.versions.get((kind, code), (0, None))
        day = FIRST_DAY + timedelta(days=len(self.posts))
        return self._append(
            {
                "action": action,
                "kind": kind,
                "subject": code,
                "version": version + 1,
                "supersedes": previous,
                "published_at": day.isoformat(),
                "independently_reviewed": True,
                "languages": {"ar": "complete", "en": "complete"},
                "reason": reason,
                "incident": content if kind == "incident" else None,
                "verdict": content if kind == "verdict" else None,
            },
            media,
        )

    def incident(
        self, code: str, *, n: int | None = None, media: list[bytes] = (), **overrides: Any
    ) -> int:  # type: ignore[assignment]
        shown = [
            {
                "sha256": hashlib.sha256(m).hexdigest(),
                "media_type": "image/jpeg",
                "path": f"media/{hashlib.sha256(m).hexdigest()}.jpg",
            }
            for m in media
        ]
        body = incident_body(code, len(self.posts) if n is None else n, media=shown, **overrides)
        return self._post("incident", code, "post", body, None, list(media))

    def verdict(self, code: str, *, incidents: list[str], rating: str = "false") -> int:
        return self._post("verdict", code, "post", verdict_body(code, incidents, rating), None, [])

    def correct(self, code: str, *, reason: str, **overrides: Any) -> int:
        body = incident_body(code, 0, **overrides)
        why = {"ar": "تصحيح: " + reason, "en": reason}
        return self._post("incident", code, "correction", body, why, [])

    def retract(self, kind: str, code: str, *, reason: str) -> int:
        why = {"ar": "سحب: " + reason, "en": reason}
        return self._post(kind, code, "retraction", None, why, [])


def published_factory(
    make_desk: Callable[..., DeskFixture], fast_kdf: Any
) -> Callable[..., PublishedDesk]:
    """Factory (wrap it in a fixture): a desk with a publication key and an editor, no posts."""

    def make(store_url: str | None = None) -> PublishedDesk:
        desk = make_desk(store_url)
        key = PublicationKey.init(desk.home, PASSPHRASE, fast_kdf)
        with desk.home.open_store() as store, store.session(write=True) as session:
            add_user(session, "dima", ["admin", "editor"], by=None)
            user_id = get_user(session, "dima").id
        return PublishedDesk(desk=desk, key=key, user_id=user_id)

    return make


def site_file(site: Path, rel: str) -> str:
    return (site / rel).read_text(encoding="utf-8")
