"""The leak scan and the coarsening: pure functions, property-tested."""

from __future__ import annotations

from datetime import date, timedelta

import h3
from hypothesis import given
from hypothesis import strategies as st

from media import camera_jpeg
from sijil.publish.coarsen import (
    TIERS,
    RiskTier,
    coarsen_dates,
    coarsen_place,
    governorate_area,
)
from sijil.publish.derivatives import check_outgoing, derive
from sijil.publish.leak_scan import LeakRule, Term, TermClass, find_phone_numbers, scan

ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
RAQQA = governorate_area("SY11", "الرقة", "Ar-Raqqa")


def test_codename_in_arabic_with_diacritics_and_tatweel_is_caught() -> None:
    # Given a correspondent codenamed نسر and a summary naming them with harakat and tatweel
    terms = [Term("نسر", TermClass.CODENAME)]
    summary = "قال مراسلنا نَـسْـرٌ إن الغارة وقعت فجراً، وأكد ذلك والنَّسر لاحقاً"
    # When the summary is scanned
    found = scan([("incident.summary.ar", summary)], terms)
    # Then the codename is found, named by class and field, never by itself
    assert [(f.rule, f.term_class, f.field) for f in found] == [
        (LeakRule.TERM, TermClass.CODENAME, "incident.summary.ar")
    ]
    assert "نسر" not in found[0].describe()


def test_latin_codename_in_another_form_is_caught() -> None:
    found = scan([("t", "The Heron's photos")], [Term("heron", TermClass.CODENAME)])
    assert [f.term_class for f in found] == [TermClass.CODENAME]


def test_phone_in_arabic_indic_digits_is_caught() -> None:
    # Given a phone number written in Arabic-Indic digits with spaces
    text = "للتواصل: ٠٩٤٤ ١٢٣ ٤٥٦"
    # When it is scanned
    found = scan([("incident.summary.ar", text)], [])
    # Then the phone pattern finds it
    assert [f.rule for f in found] == [LeakRule.PHONE]
    assert find_phone_numbers(text) == ["0944123456"]


def test_deny_list_phone_matches_in_another_format() -> None:
    found = scan([("s", "call 944-123-456")], [Term("+963 944 123 456", TermClass.PHONE)])
    assert (LeakRule.TERM, TermClass.PHONE) in [(f.rule, f.term_class) for f in found]


def test_handles_and_devices_are_caught() -> None:
    found = scan([("a", "follow @raqqa_is_being"), ("b", "shot on a Samsung SM-G920F")], [])
    assert [(f.field, f.term_class) for f in found] == [
        ("a", TermClass.HANDLE),
        ("b", TermClass.DEVICE),
    ]


def test_camera_serial_in_a_photo_is_caught_and_the_derivative_is_clean() -> None:
    # Given a photo whose EXIF names the camera, its serial and a GPS position
    photo = camera_jpeg(seed=3)
    # When it is checked as an outgoing file, and when it is re-encoded
    left = check_outgoing(photo)
    made = derive(photo, "ab" * 32)
    # Then the original is refused for its serial, and the derivative carries nothing
    assert "serial" in left and "gps" in left
    assert check_outgoing(made.content) == []
    assert made.sha256 != "ab" * 32


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number written in some script and grouping, and its ASCII digits."""
    prefix = draw(st.sampled_from(["", "+963 ", "00963 ", "+90 "]))
    number = "09" + draw(st.text("0123456789", min_size=8, max_size=8))
    if prefix:
        number = number[1:]
    sizes, rest = [], len(number)
    while rest > 0:
        size = min(rest, draw(st.integers(3, 4)))
        sizes.append(size)
        rest -= size
    sep = draw(st.sampled_from([" ", "-", "\u2013", " - ", ".", ""]))
    if sep == "." and prefix:
        sep = " "
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at : at + size])
        at += size
    ascii_text = prefix + sep.join(parts)
    script = draw(st.sampled_from(["0123456789", ARABIC_INDIC, PERSIAN]))
    shown = ascii_text.translate(str.maketrans("0123456789", script))
    digits = "".join(c for c in ascii_text if c.isdigit())
    return shown, digits


WORDS = st.lists(st.sampled_from(["قصف", "السوق", "the", "market", "اتصل", "call"]), max_size=4)


@given(phones(), WORDS, WORDS)
def test_phone_numbers_are_found_in_any_script_and_grouping(
    phone: tuple[str, str], before: list[str], after: list[str]
) -> None:
    shown, digits = phone
    text = " ".join([*before, shown, *after])
    assert digits in find_phone_numbers(text)


@given(st.dates(date(1990, 1, 1), date(2030, 12, 31)), st.integers(1, 500))
def test_dates_counts_and_coordinates_are_not_phones(day: date, count: int) -> None:
    text = (
        f"{day.isoformat()} {day.day}/{day.month}/{day.year} {day.year}-{day.year + 3} "
        f"{count} killed, 35.9530, 39.0060 at 04:30"
    )
    assert find_phone_numbers(text) == []


@given(st.text(alphabet=st.characters(categories=["L", "Zs", "P"]), max_size=60))
def test_text_without_digits_has_no_phone(text: str) -> None:
    assert find_phone_numbers(text) == []


SYRIA = st.tuples(st.integers(32_400_000, 37_300_000), st.integers(35_700_000, 42_300_000))


@given(SYRIA, st.sampled_from(list(RiskTier)), st.integers(1, 2))
def test_a_coarsened_point_is_never_finer_than_its_tier(
    point: tuple[int, int], tier: RiskTier, own: int
) -> None:
    place = coarsen_place(point, own, tier, governorate=RAQQA)
    rule = TIERS[tier]
    assert place.where_prec >= rule.where_prec
    if rule.h3_resolution is None:
        assert place.h3 is None and place.where_prec == 4
        return
    assert place.h3 is not None and h3.get_resolution(place.h3) == rule.h3_resolution
    # the event lies in the published cell, and so does the published point
    assert h3.latlng_to_cell(point[0] / 1e6, point[1] / 1e6, rule.h3_resolution) == place.h3
    assert place.lat is not None and place.lon is not None
    assert h3.latlng_to_cell(float(place.lat), float(place.lon), rule.h3_resolution) == place.h3


@given(SYRIA, st.sampled_from(list(RiskTier)), st.integers(3, 6))
def test_a_place_known_coarsely_is_published_coarsely(
    point: tuple[int, int], tier: RiskTier, own: int
) -> None:
    place = coarsen_place(point, own, tier, governorate=RAQQA)
    assert place.h3 is None and place.where_prec >= min(own, 4)


@given(
    st.dates(date(2014, 1, 1), date(2020, 12, 31)),
    st.integers(0, 40),
    st.sampled_from(list(RiskTier)),
    st.integers(1, 5),
)
def test_a_coarsened_date_is_never_finer_than_its_tier(
    start: date, days: int, tier: RiskTier, own: int
) -> None:
    end = start + timedelta(days=days)
    when = coarsen_dates(start, end, own, tier)
    assert when.date_prec >= max(own, TIERS[tier].date_prec)
    last = when.end or when.start
    assert when.start <= start and end <= last
    if when.date_prec >= 2:
        assert when.end is not None and (when.end - when.start).days >= 6
        assert when.start.weekday() == 0 or when.date_prec >= 3
    if when.date_prec >= 3:
        assert when.start.day == 1
