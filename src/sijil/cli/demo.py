"""``sijil demo``: one scripted night in Raqqa, from hidden correspondents to the desk.

Everything is real (keys, scrubbing, signing, sealing, shards, intake, quarantine);
only the people, photos and chat are invented. The scenario is data at the top.
"""

from __future__ import annotations

import random
import secrets
import shlex
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageOps

from sijil.cli.demo_capture import caught
from sijil.cli.demo_desk import desk_at_work
from sijil.cli.demo_publish import publish_the_record
from sijil.crypto.kdf import DEFAULT_KDF
from sijil.desk.home import DeskHome
from sijil.desk.intake import ImportOutcome, import_paths
from sijil.desk.neardup.lookup import Direction
from sijil.desk.quarantine import list_quarantine
from sijil.desk.reports import list_reports
from sijil.envelope import shards as shard_codec
from sijil.envelope.invite import Invite
from sijil.envelope.manifest import Location
from sijil.envelope.sealing import Draft
from sijil.errors import ConfigError
from sijil.field.compose import Composed, compose, export_outbox
from sijil.field.home import FieldHome, FieldSession

__all__ = ["PASSPHRASE", "run_demo"]

PASSPHRASE = "demo-only-never-use-this"  # noqa: S105 - printed, for the demo only
LOCAL = timezone(timedelta(hours=3), "Raqqa")
BIG, SMALL = (640, 480), (160, 120)  # USB photos; messenger photos (few shards)


@dataclass(frozen=True)
class Camera:
    make: str
    model: str
    serial: str
    software: str


@dataclass(frozen=True)
class Scene:
    who: str
    lang: str
    title: str
    body: str
    minute: int  # minutes after 01:00 local time
    place: tuple[str, str, int] | None = None  # lat, lon, precision in metres
    photos: int = 0
    late: bool = False  # its shards get lost in the first chat export
    recycles: int | None = None  # reuses the photo of SCENES[i]: an old photo, a new caption


# fmt: off
CAMERAS = {
    "Raven": Camera("samsung", "SM-J200H", "R58H31A2KQX", "J200HXXU0AQK2"),
    "Falcon": Camera("HUAWEI", "Y625-U32", "8KE7N16A29004511", "Y625-U32V100R001C567B013"),
    "Olive": Camera("Nokia", "Nokia 3", "D1AGAD1762206981", "00WW_1_17C"),
    "Sparrow": Camera("Apple", "iPhone 5s", "F17MQ4ZNFF9R", "10.3.3"),
}
USB_CARRIERS, MESSENGER = ("Raven", "Falcon"), "Olive"
BAKERY, CLOCK = ("35.9519", "39.0143", 500), ("35.9531", "39.0061", 500)
BLOCK, OLD_BRIDGE = ("35.9590", "39.0074", 1000), ("35.9388", "39.0128", 2000)

SCENES: tuple[Scene, ...] = (
    Scene("Raven", "ar", "غارة على طابور الفرن في حي الدرعية",
          "نحو الساعة الواحدة والربع فجراً سقط صاروخ قرب طابور الخبز أمام الفرن الآلي. "
          "رأيت جثث ثلاثة أشخاص على الأقل ونقل عدد من الجرحى إلى المشفى الوطني.",
          15, BAKERY, 1),
    Scene("Raven", "en", "Second strike near the Clock Roundabout",
          "Around 01:40 a second strike hit the shops on the north side of the Clock "
          "Roundabout. Fires in two buildings; no ambulances for twenty minutes.", 40, CLOCK, 1),
    Scene("Raven", "ar", "قصف الجسر القديم على الفرات",
          "استهدفت غارتان الجسر القديم. الجسر مقطوع للسيارات والمشاة يعبرون على الحافة.",
          95, OLD_BRIDGE, 1),
    Scene("Raven", "ar", "الحسبة تأمر بإغلاق مقاهي الإنترنت",
          "علّقت الحسبة صباح اليوم ورقة على أبواب مقاهي الإنترنت في شارع النور: إغلاق "
          "كامل حتى إشعار آخر، ومصادرة أجهزة الواي فاي الخاصة. سنرسل عبر الذاكرة فقط."
          , 170),
    Scene("Falcon", "en", "Bakery queue strike: what we could count",
          "At the National Hospital at 03:00 I counted 7 dead and at least 19 wounded "
          "from the bakery queue, among them four children. Names are being collected.", 120),
    Scene("Falcon", "ar", "مبنى سكني مدمر في شارع تل أبيض",
          "انهار مبنى من أربعة طوابق في شارع تل أبيض. السكان يقولون إن عائلتين كانتا في "
          "الداخل. لا يوجد أي موقع عسكري في البناء أو حوله.", 60, BLOCK, 1),
    Scene("Falcon", "en", "Claim check: 'only a weapons depot was hit'",
          "A state outlet says last night's strike on Tal Abyad Street hit only a weapons "
          "depot. Our photos from the same street at 02:10 show a residential block: "
          "balconies, a water tank, laundry lines. Compare with the photo of the same block.",
          140, BLOCK, 1),
    Scene("Falcon", "ar", "انقطاع الماء والكهرباء عن الأحياء الشرقية",
          "بعد قصف الليلة انقطعت الكهرباء والماء عن المشلب والرميلة. الناس يملؤون "
          "الجالونات من الفرات.", 185),
    Scene("Olive", "ar", "الدفاع المدني ينتشل عائلة من تحت الأنقاض",
          "منذ الثانية فجراً يحاول المتطوعون إخراج عائلة من تحت أنقاض المبنى في شارع "
          "تل أبيض. أخرجوا طفلة حية.", 80, BLOCK, 1),
    Scene("Olive", "en", "Internet cafe closure notice on Al-Nur Street",
          "Photo of the closure notice on the door of the last open internet cafe. "
          "Fighters checked phones at the door this morning.", 175, None, 1),
    Scene("Olive", "ar", "الجسر القديم: صورة من الضفة الجنوبية",
          "صورة للجسر القديم من الضفة الجنوبية بعد الغارة. المقطع الأوسط سقط في الماء.",
          110, OLD_BRIDGE, 1, late=True),
    Scene("Olive", "en", "Bakery queue: a baker's account",
          "The baker says the queue was about forty people, mostly women and boys, "
          "because flour came in late yesterday.", 150, BAKERY, 1),
)
STRANGER = Scene("Sparrow", "ar", "صورة من دوار الساعة",
                 "أنا من الرقة وأريد أن أرسل لكم. هذه صورة من دوار الساعة بعد الغارة.",
                 200, CLOCK, 1, recycles=0)
CHATTER = ("ok", "received?", "وصلت؟", "تمام", "الإنترنت ضعيف جداً الليلة",
           "انتظر، الكهرباء انقطعت", "send the rest when you can", "بعتلك الباقي",
           "got 3, waiting", "الله يحميك")
# fmt: on


def _dms(value: str) -> tuple[float, float, float]:
    deg = float(value)
    minutes = (deg - int(deg)) * 60
    return float(int(deg)), float(int(minutes)), round((minutes - int(minutes)) * 60, 2)


def _make_photo(
    path: Path,
    *,
    size: tuple[int, int],
    seed: int,
    camera: Camera,
    taken: datetime,
    where: tuple[str, str],
) -> None:
    """A fake phone photo: sky, a block with windows, smoke, sensor noise, full EXIF."""
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    w, h = size
    sky = ImageOps.colorize(Image.linear_gradient("L").resize(size), (40, 45, 60), (190, 160, 120))
    img = Image.blend(sky, Image.effect_noise(size, 60).convert("RGB"), 0.2)
    draw = ImageDraw.Draw(img)
    left, top = rng.randint(w // 10, w // 3), rng.randint(h // 4, h // 2)
    # each block its own width and windows, and rubble strewn below: photos of one
    # street are alike, but not copies of one another (the near-duplicate check)
    wide, across, down = w * rng.randint(35, 60) // 100, rng.randint(8, 14), rng.randint(6, 10)
    draw.rectangle((left, top, left + wide, h), fill=(120, 110, 100))
    for x in range(left + w // 32, left + wide - w // 20, w // across):
        for y in range(top + h // 24, h - h // 10, h // down):
            draw.rectangle((x, y, x + w // 24, y + h // 16), fill=(30, 30, 35))
    for _ in range(rng.randint(6, 12)):
        x, y, grey = rng.randint(0, w), rng.randint(h // 2, h), rng.randint(40, 200)
        draw.rectangle((x, y, x + rng.randint(w // 40, w // 8), y + h // 30), fill=(grey,) * 3)
    cx = left + rng.randint(0, wide)
    draw.ellipse((cx - w // 6, top - h // 3, cx + w // 6, top + h // 12), fill=(70, 70, 72))
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = camera.make, camera.model
    exif[ExifTags.Base.Software] = camera.software
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.BodySerialNumber] = camera.serial
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", _dms(where[0])
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", _dms(where[1])
    img.save(path, "JPEG", quality=85, exif=exif)


def _recycle_photo(earlier: Scene, scratch: Path, night: datetime, photo: Path) -> None:
    """The earlier scene's photo as it circulates online: cut by 8% at the sides, shrunk,
    a channel's caption band drawn over its bottom, re-saved."""
    taken = night + timedelta(minutes=earlier.minute)
    with Image.open(scratch / f"IMG_{taken:%Y%m%d_%H%M%S}.jpg") as original:
        picture = original.convert("RGB")
    cut = round(picture.width * 0.04)
    copy = picture.crop((cut, 0, picture.width - cut, picture.height))
    copy.thumbnail(SMALL, Image.Resampling.LANCZOS)
    band = copy.height * 16 // 100
    draw = ImageDraw.Draw(copy)
    draw.rectangle((0, copy.height - band, copy.width, copy.height), fill=(150, 10, 10))
    draw.text((4, copy.height - band + 2), "BREAKING: new strike", fill=(255, 255, 255))
    copy.save(photo, "JPEG", quality=70)


def _chat_export(shard_texts: list[str], start: datetime, rng: random.Random) -> str:
    """Shards pasted one per message among chatter, as a WhatsApp export shows them."""
    messages = [("Olive", text) for text in shard_texts]
    messages += [(rng.choice(("Cedar", "Olive")), line) for line in CHATTER]
    rng.shuffle(messages)
    out, when = [], start
    for who, text in messages:
        when += timedelta(seconds=rng.randint(5, 90))
        out.append(f"[{when:%d/%m/%Y, %H:%M:%S}] {who}: {text.rstrip()}\n")
    return "\n".join(out)


def _seal(
    scene: Scene, session: FieldSession, scratch: Path, night: datetime, number: int
) -> Composed:
    """Take the scene's photos (into ``scratch``), then compose and seal the report."""
    taken = night + timedelta(minutes=scene.minute)
    near = scene.place or ("35.95307", "39.00606", 0)  # Ar-Raqqa
    photos = []
    for shot in range(scene.photos):
        photo = scratch / f"IMG_{taken + timedelta(seconds=7 * shot):%Y%m%d_%H%M%S}.jpg"
        if scene.recycles is not None:
            _recycle_photo(SCENES[scene.recycles], scratch, night, photo)
            photos.append(photo)
            continue
        _make_photo(
            photo,
            size=SMALL if scene.who in (MESSENGER, STRANGER.who) else BIG,
            seed=number * 10 + shot,
            camera=CAMERAS[scene.who],
            taken=taken,
            where=(f"{float(near[0]) + shot * 1e-4:.5f}", near[1]),
        )
        photos.append(photo)
    where = None
    if scene.place:
        where = Location(lat=scene.place[0], lon=scene.place[1], precision_m=scene.place[2])
    draft = Draft(
        title=scene.title, body=scene.body, lang=scene.lang, location=where, created_at=taken
    )
    return compose(session, draft, photos)


def _prepare(home: Path | None) -> Path:
    if home is None:
        return Path(tempfile.mkdtemp(prefix="sijil-demo-"))
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise ConfigError(f"{home} is not an empty folder; give a new or empty one for the demo")
    home.mkdir(parents=True, exist_ok=True)
    return home


def run_demo(home: Path | None, *, echo: Callable[[str], None]) -> Path:
    """Play the scenario in ``home`` (a new temporary folder if None); return the home."""
    home = _prepare(home)
    rng = random.Random(2016)  # noqa: S311 - shuffles a fake chat
    night = datetime.now(LOCAL).replace(hour=1, minute=0, second=0, microsecond=0)
    night -= timedelta(days=1)
    scratch = home / "scratch"  # plaintext photos live here, never in a field home
    usb, phone = home / "usb-stick", scratch / "olive-shards"
    scratch.mkdir()
    echo("sijil demo: ليلة في الرقة, a night in Raqqa")
    echo(f"Home: {home}   passphrase for every key: {PASSPHRASE!r} (for this demo only)")

    echo("\n== 1. The desk (المكتب) ==")
    desk = DeskHome(root=home / "desk")
    desk_pub = desk.init(PASSPHRASE, DEFAULT_KDF)
    identity = desk.unlock(PASSPHRASE)
    desk = desk.with_key(identity)  # its database is encrypted under the desk key
    echo(f"  desk keys and encrypted database in {desk.root}; fingerprint {desk_pub.fingerprint}")

    echo("\n== 2. Correspondents (المراسلون): codenames only, never names ==")
    sessions: dict[str, FieldSession] = {}
    with desk.open_store() as store:
        invites = {
            name: desk.invite(store, codename=name) for name in CAMERAS if name != STRANGER.who
        }
    # Sparrow was never invited: a forged invite, real desk keys, a token the desk never made.
    invites["Sparrow"] = Invite(codename="Sparrow", desk=desk_pub, token=secrets.token_hex(32))
    for name, invite in invites.items():
        field = FieldHome(home / "field" / name.lower())
        mine = field.init(invite, PASSPHRASE, DEFAULT_KDF)
        sessions[name] = field.unlock(PASSPHRASE)
        echo(f"  {name:<8} own key {mine.public.fingerprint}   desk {invite.desk.fingerprint}")
    echo("  (each pair is compared aloud at enrolment; Sparrow's invite was never issued)")

    echo(f"\n== 3. Night of {night:%d %B}, 01:00-04:30 Raqqa time: {len(SCENES) + 1} reports ==")
    echo(f"  (made-up photos with camera EXIF and GPS, in {scratch}: outside every field home)")
    late_id = ""
    for number, scene in enumerate((*SCENES, STRANGER), 1):
        made = _seal(scene, sessions[scene.who], scratch, night, number)
        late_id = made.envelope_id if scene.late else late_id
        place = f", ±{scene.place[2]} m" if scene.place else ""
        echo(f"  {scene.who:<8}{scene.lang}  {scene.title}  ({made.size / 1024:.1f} KB{place})")
        for item in made.files:
            removed = f"{item.source_name} -> {item.name}, removed: {'; '.join(item.removed)}"
            echo(textwrap.fill(removed, 112, initial_indent=" " * 6, subsequent_indent=" " * 8))

    echo("\n== 4. Carrying them out (القنوات) ==")
    carried = {
        name: [r.paths[0] for r in export_outbox(sessions[name], usb)]
        for name in (*USB_CARRIERS, STRANGER.who)
    }
    damaged = usb / "IMG-copy-from-old-stick.age"  # a worn stick: a copy of Falcon's first
    data = bytearray(carried["Falcon"][0].read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    counts = ", ".join(f"{name} {len(paths)}" for name, paths in carried.items())
    echo(f"  USB stick {usb}: envelopes from {counts},")
    echo(f"    and {damaged.name}: a copy of one of them with one flipped byte")
    first, second, lost_total = [], [], 0
    for result in export_outbox(sessions[MESSENGER], phone, text=True):
        pieces = [shard_codec.parse_shard(p.read_text("ascii")) for p in result.paths]
        k, n = pieces[0].k, pieces[0].n
        late = result.envelope_id == late_id
        lose = n - k + 1 if late else rng.randint(1, n - k - 1)  # spares are n - k >= 2
        lost = set(rng.sample(range(n), lose))
        first += [shard_codec.format_shard(p) for i, p in enumerate(pieces) if i not in lost]
        if late:  # Olive resends these later
            second += [shard_codec.format_shard(p) for i, p in enumerate(pieces) if i in lost]
        lost_total += lose
        fate = "cannot rebuild yet" if lose > n - k else "still rebuilds"
        echo(
            f"  Olive    {result.envelope_id[:12]}: {n} shards, any {k} rebuild it;"
            f" {lose} lost in the chat -> {fate}"
        )
    first += rng.sample(first, 2)  # a couple pasted twice
    chat1, chat2 = home / "chat-export-1.txt", home / "chat-export-2.txt"
    chat1.write_text(_chat_export(first, night + timedelta(hours=3), rng), "utf-8")
    chat2.write_text(_chat_export(second, night + timedelta(days=2), rng), "utf-8")
    echo(
        f"  Olive's contact exports the chat: {chat1.name}, {len(first)} shard messages "
        f"(2 duplicates) among chatter, {lost_total} shards lost"
    )

    echo("\n== 5. Desk intake (الاستلام) ==")
    totals: dict[str, int] = {}

    def show(outcome: ImportOutcome) -> None:
        totals[outcome.status] = totals.get(outcome.status, 0) + 1
        who = outcome.correspondent or Path(outcome.source).name
        echo(f"  {outcome.status:<11} {who:<22} {outcome.detail[:90]}")

    with desk.open_store() as store:
        import_paths(desk, identity, store, [usb, chat1], channel="usb", progress=show)
        echo("  totals: " + ", ".join(f"{v} {k}" for k, v in sorted(totals.items())))
        echo(f"  two days later a second chat export arrives ({chat2.name}):")
        totals.clear()
        import_paths(desk, identity, store, [chat2], channel="file", progress=show)
        rows = list_reports(store)
        for kept in list_quarantine(store, desk.root):
            echo(f"  quarantine #{kept.id} ({kept.size} bytes, sealed in the vault): {kept.reason}")

    echo(f"\n== 6. The record at the desk: {len(rows)} reports ==")
    for row in sorted(rows, key=lambda r: r.id):
        at = " @" if row.location else "  "
        echo(
            f"  #{row.id:<3}{row.lang} {row.correspondent:<22}{len(row.attachments)}f{at} "
            f"{row.title}"
        )
    by_id = {row.id: row for row in rows}
    for row in rows:  # the desk's near-duplicate check (sijil.media), by composition time
        for m in row.matches:
            other = by_id[m.other_report_id]
            if m.direction is Direction.SEEN_BEFORE and other.id != row.id:
                old, new = sorted((row, other), key=lambda r: r.created_at)
                when = [r.created_at.astimezone(LOCAL) for r in (new, old)]
                echo(
                    f"  ! recycled photo: #{new.id} ({new.correspondent}, {when[0]:%H:%M}) shows"
                    f" the photo of #{old.id} ({old.correspondent}, {when[1]:%H:%M}): "
                    f"{m.transform}, {'region' if m.kind == 'partial' else 'PDQ'} distance"
                    f" {m.distance}"
                )

    _over_the_relay(home, desk, sessions, scratch, night, echo)
    echo("\n== 8. The verification desk (التحقق): incidents, casualties, a false claim ==")
    linked, to_publish = desk_at_work(desk, rows, night, echo)
    with_files = [r.id for r in sorted(rows, key=lambda r: r.id) if r.attachments]
    _custody(home, desk, [r for r in with_files if r in linked][:2] or with_files[:2], echo)
    caught(home, desk, identity, sessions["Falcon"], PASSPHRASE, echo)
    site = publish_the_record(home, desk, PASSPHRASE, to_publish, echo)

    q = shlex.quote
    echo("\n== 12. Explore ==")
    echo(f"  export SIJIL_PASSPHRASE={q(PASSPHRASE)}   # the demo passphrase, demo only")
    echo(f"  sijil desk reports --home {q(str(desk.root))}")
    echo(f"  sijil desk search --home {q(str(desk.root))} 'الرقة'")
    echo(f"  sijil desk quarantine list --home {q(str(desk.root))}")
    echo(f"  sijil desk incident list --home {q(str(desk.root))}")
    echo(f"  sijil field outbox --home {q(str(home / 'field' / 'raven'))}")
    key_file = q(str(home / "desk-age.txt"))
    echo(f"  sijil desk key export-age --home {q(str(desk.root))} --out {key_file}")
    echo("     (it warns: that file is the desk's secret key, unencrypted; delete it after)")
    echo(f"  age -d -i {key_file} {q(str(carried['Raven'][0]))} | head -c 400")
    echo("     (the standard age tool opens any envelope: SIJIL/1, the signed manifest, the files)")
    echo(f"  sijil publish build --home {q(str(desk.root))} --out {q(str(site))}   # rebuild")
    _web_login(desk, echo)
    return home


def _web_login(desk: DeskHome, echo: Callable[[str], None]) -> None:
    """How to open the desk web app on the demo desk, with a login for its editor."""
    from sijil.desk.accounts import ENROL_TTL, issue_enrolment

    with desk.open_store() as store, store.session(write=True) as session:
        code = issue_enrolment(session, "Layla", by="Layla")
    echo(f"  sijil desk serve --home {shlex.quote(str(desk.root))}   # the desk web app")
    echo(
        f"     open http://127.0.0.1:8471/enrol, user Layla, code {code} (once, "
        f"{ENROL_TTL.days} days): set a password and an authenticator, then sign in"
    )


def _custody(
    home: Path, desk: DeskHome, report_ids: list[int], echo: Callable[[str], None]
) -> None:
    """Last step: the audit passes, and an exported package verifies on its own."""
    from sijil.desk.audit import audit_desk
    from sijil.desk.signing import sign_now
    from sijil.export.package import export_package
    from sijil.export.verifier import verify_package

    echo("\n== 9. Chain of custody (سلسلة الحيازة) ==")
    identity = desk.unlock(PASSPHRASE)
    package = home / "evidence-package.zip"
    with desk.open_store() as store:
        sign_now(desk, store, identity.sign)
        audit = audit_desk(store, desk.open_vault(identity), identity.sign.public_key())
        made = export_package(desk, identity, store, report_ids=report_ids, out=package)
    verdict = "OK, nothing lost, nothing altered" if audit.ok else f"{len(audit.problems)} problems"
    echo(
        f"  sijil verify: {audit.entries} ledger entries, {audit.heads} signed tree heads, "
        f"{audit.blobs} encrypted vault blobs: {verdict}"
    )
    echo(
        f"  sijil export package: {package.name}, {made.reports} reports, {made.files} photos, "
        f"{made.entries} ledger entries with inclusion proofs"
    )
    checked = verify_package(package, desk.public_file)
    echo(
        f"  sijil verify-package {package.name} --desk-key desk.pub: "
        + ("OK, the package verifies" if not checked.problems else "; ".join(checked.problems))
    )


# fmt: off
RELAY_SCENES = (
    Scene("Falcon", "ar", "طوابير على الفرن الوحيد المفتوح في المشلب",
          "صباح اليوم التالي: مئات الناس أمام الفرن الوحيد العامل في المشلب.", 420, BAKERY, 1),
    Scene("Raven", "en", "Morning after: the Clock Roundabout shops",
          "Shopkeepers clearing glass; two shops burnt out, one still smoking.", 440, CLOCK, 1),
)
# fmt: on


def _over_the_relay(
    home: Path,
    desk: DeskHome,
    sessions: dict[str, FieldSession],
    scratch: Path,
    night: datetime,
    echo: Callable[[str], None],
) -> None:
    """Morning: two reports go out over a relay on a link that drops; a reply comes back."""
    from sijil.desk.pull import pull_envelopes
    from sijil.desk.reply import send_reply
    from sijil.field.inbox import fetch_inbox
    from sijil.field.send import send_outbox
    from sijil.relay.server.config import RelayConfig
    from sijil.relay.server.lossy import LossyLink
    from sijil.relay.server.serve import running_relay

    echo("\n== 7. Over the relay (المرحّل): a resumable upload on a bad link ==")
    identity = desk.unlock(PASSPHRASE)
    config = RelayConfig(spool=home / "relay-spool", desk_key=identity.public.sign)
    for number, scene in enumerate(RELAY_SCENES, 60):
        made = _seal(scene, sessions[scene.who], scratch, night, number)
        echo(f"  {scene.who:<8}{scene.lang}  {scene.title}  ({made.size / 1024:.1f} KB)")
    with running_relay(config) as relay:
        port = int(relay.rsplit(":", 1)[1])
        # a link that drops every 30-60 KB: each upload continues where it stopped
        with LossyLink(target_port=port, cut_every=(30_000, 60_000), deadline_s=60) as link:
            via = f"http://127.0.0.1:{link.port}"
            sent = [
                r
                for name in ("Falcon", "Raven")
                for r in send_outbox(sessions[name], relay=via, sleep=lambda _s: None)
            ]
        total = sum(
            sessions[n].envelope_path(r.envelope_id).stat().st_size
            for n in ("Falcon", "Raven")
            for r in sent
            if sessions[n].envelope_path(r.envelope_id).exists()
        )
        echo(
            f"  sijil field send: {sum(r.status == 'sent' for r in sent)} sent through the relay;"
            f" the link was cut {link.stats.cuts} times, {link.stats.from_sender:,} bytes on the"
            f" wire for {total:,} bytes of envelopes"
        )
        with desk.open_store() as store:
            pulled = pull_envelopes(desk, identity, store, relay=relay)
            for outcome in pulled:
                if outcome.status != "duplicate":
                    who = outcome.correspondent or "?"
                    echo(f"  sijil desk pull: {outcome.status:<9} {who:<7} {outcome.detail[:70]}")
            twice = sum(o.status == "duplicate" for o in pulled)
            echo(f"  sijil desk pull: {twice} came twice (USB stick and relay): each kept once")
            text = "وصل تقريرك، شكراً. لا تقترب من دوار الساعة اليوم."
            send_reply(identity, store, relay=relay, codename="Raven", text=text)
        echo("  sijil desk reply --to Raven: sealed to Raven's key, left in a hashed mailbox")
        for item in fetch_inbox(sessions["Raven"], relay=relay):
            echo(f"  sijil field inbox (Raven): {item.text}  [signed by the desk]")
    left = list(config.spool.rglob("*.age"))
    echo(f"  the relay now holds {len(left)} envelopes or replies: it keeps nothing once delivered")
