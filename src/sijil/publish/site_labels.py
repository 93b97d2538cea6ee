"""The public site's words in Arabic and English: interface strings and the vocabularies.

A post carries its own texts (titles, summaries, grading definitions) in both
languages; these are the fixed words around them. A code the table does not know
is shown as it is, never dropped.
"""

from __future__ import annotations

__all__ = ["LANGS", "OTHER", "label", "ui"]

LANGS = ("ar", "en")
OTHER = {"ar": "en", "en": "ar"}

_UI: dict[str, tuple[str, str]] = {
    "site": ("السجل", "The record"),
    "tagline": (
        "سجلّ عام موقَّع لحوادث موثّقة وتحقّقات من ادّعاءات",
        "A signed public record of documented incidents and checked claims",
    ),
    "home": ("الرئيسية", "Home"),
    "incidents": ("الحوادث", "Incidents"),
    "verdicts": ("التحقّقات", "Verdicts"),
    "map": ("الخريطة", "Map"),
    "search": ("البحث", "Search"),
    "verify": ("التحقّق من السجل", "Verify the record"),
    "other_lang": ("English", "العربية"),
    "latest": ("أحدث المنشورات", "Latest publications"),
    "date": ("التاريخ", "Date"),
    "place": ("المكان", "Place"),
    "type": ("النوع", "Type"),
    "grading": ("التصنيف", "Grading"),
    "harm": ("أذى بالمدنيين", "Civilian harm"),
    "casualties": ("الضحايا", "Casualties"),
    "range": ("النطاق", "Range"),
    "attribution": ("الجهة المسؤولة", "Attribution"),
    "summary": ("الملخّص", "Summary"),
    "evidence": ("صور الأدلة", "Evidence images"),
    "history": ("سجلّ التصحيحات", "Correction history"),
    "version": ("الإصدار", "Version"),
    "reason": ("السبب", "Reason"),
    "signed": ("المنشور الموقَّع", "Signed post"),
    "claim": ("الادّعاء", "Claim"),
    "source": ("المصدر", "Source"),
    "rating": ("الحكم", "Rating"),
    "rests_on": ("يستند إلى", "Rests on"),
    "verdicts_on": ("تحقّقات تستند إلى هذه الحادثة", "Verdicts resting on this incident"),
    "withdrawn": ("سُحب هذا المنشور", "This publication was withdrawn"),
    "not_reviewed": (
        "لم يراجعه شخص ثانٍ مستقل (مكتب فردي)",
        "Not independently reviewed (a desk of one)",
    ),
    "pending": (
        "الترجمة العربية قيد الإعداد؛ يظهر النص الأصلي.",
        "The English translation is pending; the original text is shown.",
    ),
    "page": ("صفحة", "Page"),
    "previous": ("السابق", "Previous"),
    "next": ("التالي", "Next"),
    "search_label": ("ابحث في السجل", "Search the record"),
    "search_button": ("ابحث", "Search"),
    "search_noscript": (
        "البحث يحتاج إلى جافاسكربت؛ تصفّح القوائم بدلاً من ذلك.",
        "Search needs JavaScript; browse the lists instead.",
    ),
    "map_caption": (
        "مواقع الحوادث المنشورة (مقرَّبة عمداً) على حدود سوريا",
        "Published incidents (places deliberately coarsened) within Syria's borders",
    ),
    "map_credit": ("الحدود: Natural Earth (ملكية عامة)", "Borders: Natural Earth (public domain)"),
    "feeds": ("الخلاصات والبيانات", "Feeds and data"),
    "verify_text": (
        "كل منشور موقَّع بمفتاح النشر ومُدرج في سجل شفافية. المفاتيح ونقطة التحقق أدناه.",
        "Every post is signed with the publication key and appended to a transparency log. "
        "The keys and the log's checkpoint are below.",
    ),
    "between": ("بين", "between"),
    "and": ("و", "and"),
    "none": ("لا يوجد", "None"),
}

_VOCAB: dict[str, dict[str, tuple[str, str]]] = {
    "type": {
        "airstrike": ("غارة جوية", "Airstrike"),
        "shelling": ("قصف مدفعي", "Shelling"),
        "explosion": ("انفجار", "Explosion"),
        "ground_fighting": ("اشتباكات برية", "Ground fighting"),
        "execution": ("إعدام", "Execution"),
        "killing": ("قتل", "Killing"),
        "arrest": ("اعتقال", "Arrest"),
        "abduction": ("اختطاف", "Abduction"),
        "torture": ("تعذيب", "Torture"),
        "closure": ("إغلاق", "Closure"),
        "displacement": ("تهجير", "Displacement"),
        "siege": ("حصار", "Siege"),
        "other": ("أخرى", "Other"),
    },
    "grading": {
        "confirmed": ("مؤكَّد", "Confirmed"),
        "fair": ("معقول", "Fair"),
        "weak": ("ضعيف", "Weak"),
        "contested": ("متنازع عليه", "Contested"),
        "discounted": ("مستبعَد", "Discounted"),
    },
    "harm": {"yes": ("نعم", "Yes"), "no": ("لا", "No"), "unknown": ("غير معروف", "Unknown")},
    "rating": {
        "accurate": ("صحيح", "Accurate"),
        "misleading": ("مضلِّل", "Misleading"),
        "false": ("كاذب", "False"),
        "unproven": ("غير مثبت", "Unproven"),
    },
    "stance": {
        "known": ("معروفة", "known"),
        "suspected": ("مشتبه بها", "suspected"),
        "claiming": ("أعلنت مسؤوليتها", "claimed responsibility"),
        "denying": ("نفت مسؤوليتها", "denied responsibility"),
    },
    "outcome": {
        "killed": ("قتلى", "Killed"),
        "injured": ("جرحى", "Injured"),
        "missing": ("مفقودون", "Missing"),
        "detained": ("معتقلون", "Detained"),
    },
    "status": {
        "civilian": ("مدنيون", "civilians"),
        "combatant": ("مقاتلون", "combatants"),
        "unknown": ("غير معروف", "unknown status"),
    },
    "group": {
        "all": ("الجميع", "all"),
        "children": ("أطفال", "children"),
        "women": ("نساء", "women"),
        "men": ("رجال", "men"),
    },
    "action": {
        "post": ("نشر", "Published"),
        "correction": ("تصحيح", "Corrected"),
        "retraction": ("سحب", "Withdrawn"),
    },
    # UCDP GED: how exactly the date and the place are known
    "date_prec": {
        "1": ("في اليوم نفسه", "exact day"),
        "2": ("خلال يومين إلى ستة أيام", "within 2-6 days"),
        "3": ("خلال الأسبوع", "within a week"),
        "4": ("خلال الشهر", "within a month"),
        "5": ("خلال السنة", "within a year"),
    },
    "where_prec": {
        "1": ("الموقع الدقيق", "exact location"),
        "2": ("ضمن ٢٥ كم", "within 25 km"),
        "3": ("المنطقة", "district"),
        "4": ("المحافظة", "governorate"),
        "5": ("منطقة غير محددة", "unclear area"),
        "6": ("البلد", "country"),
        "7": ("خارج البلد", "outside the country"),
    },
}


def ui(name: str, lang: str) -> str:
    """An interface string in ``lang``."""
    ar, en = _UI[name]
    return ar if lang == "ar" else en


def label(vocabulary: str, code: object, lang: str) -> str:
    """The word for a code of one vocabulary (an incident type, a rating...)."""
    found = _VOCAB[vocabulary].get(str(code))
    if found is None:
        return str(code)
    return found[0] if lang == "ar" else found[1]
