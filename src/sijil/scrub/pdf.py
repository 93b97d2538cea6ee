"""PDF cleaning with pikepdf (qpdf): metadata out, page content untouched.

Removed, and reported:

* the document information dictionary (author, title, creator, producer,
  creation and modification dates, and custom keys such as pdfTeX's banner);
* every XMP metadata stream (``/Metadata``, on the catalog, pages, images);
* attachments: the ``/EmbeddedFiles`` name tree, associated files (``/AF``)
  and file-attachment annotations, which can carry anything;
* application private data (``/PieceInfo``, ``/LastModified``), pdfTeX's
  ``/PTEX.*`` keys (the path and name of every included figure file), and
  the author and dates of annotations (``/T``, ``/M``, ``/CreationDate``);
* EXIF, GPS, XMP, ICC and comments inside embedded JPEG photos (DCTDecode images),
  with the JPEG cleaner: only their metadata segments change, never their scans;
* the document ID in the trailer, replaced by one derived from the cleaned
  content (``deterministic_id``), so it no longer links to the original;
* earlier revisions kept by incremental updates: the file is rewritten whole.

"Lossless" for a PDF means: every page's content streams and every image,
font and form XObject are written with their original, still-compressed
bytes (no decode, no recompression, no content normalisation; for embedded
JPEGs, their scans), so each page draws exactly as before. The file's bytes
as a whole do change: object numbers, cross-reference table and object
streams are qpdf's.

Encrypted PDFs are refused: cleaning them would need the password and
re-encryption. PDFs are cleaned in memory (see limits.MAX_INMEMORY_BYTES).
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sijil.errors import CorruptMedia, ScrubError, UnsupportedFormat
from sijil.scrub._source import ByteSource, Output
from sijil.scrub.findings import Finding, ScrubReport, printable
from sijil.scrub.jpeg import scrub_jpeg
from sijil.scrub.limits import MAX_CHUNKS, MAX_INMEMORY_BYTES

# pikepdf is imported where it is used: loading it costs more than cleaning a
# photo, and most batches hold no PDF.
if TYPE_CHECKING:
    import pikepdf

__all__ = ["MAX_PDF_BYTES", "scrub_pdf"]

MAX_PDF_BYTES = MAX_INMEMORY_BYTES

_INFO_KINDS = {
    "/Author": "owner", "/Creator": "software", "/Producer": "software",
    "/CreationDate": "datetime", "/ModDate": "datetime", "/Title": "comment",
    "/Subject": "comment", "/Keywords": "comment",
}  # fmt: skip
# Keys removed wherever they appear, with what they are.
_PRIVATE_KEYS = {
    "/Metadata": ("xmp", "XMP metadata stream"),
    "/PieceInfo": ("software", "application private data"),
    "/LastModified": ("datetime", "last-modified time"),
    "/AF": ("other", "associated files"),
}
_ANNOT_KEYS = {
    "/T": "annotation author",
    "/M": "annotation date",
    "/CreationDate": "annotation date",
}


def _info(pdf: pikepdf.Pdf) -> list[Finding]:
    import pikepdf

    found: list[Finding] = []
    info = pdf.trailer.get("/Info")
    if not isinstance(info, pikepdf.Dictionary):
        return found
    # items(), not get(key): a key that is not UTF-8 comes back with a surrogate that
    # get() refuses (TypeError; found by fuzzing)
    for _count, (key, value) in zip(range(64), info.items(), strict=False):
        shown = printable(str(value)) if isinstance(value, pikepdf.String | pikepdf.Name) else ""
        kind = _INFO_KINDS.get(key, "comment")
        found.append(Finding(kind, f'PDF {printable(key[1:])} "{shown}"'))
    return found


def _clean_objects(pdf: pikepdf.Pdf) -> list[Finding]:
    import pikepdf

    found: list[Finding] = []
    for count, obj in enumerate(pdf.objects):
        if count > MAX_CHUNKS * 10:
            raise CorruptMedia("PDF has too many objects to clean")
        if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            continue
        keys = set(obj.keys())
        for key in keys:
            if key in _PRIVATE_KEYS:
                kind, text = _PRIVATE_KEYS[key]
                found.append(Finding(kind, text))
                del obj[key]
            elif key.startswith("/PTEX."):
                found.append(Finding("software", f"pdfTeX {key[6:]} entry"))
                del obj[key]
        if obj.get("/Type") == "/Annot" or ("/Subtype" in keys and "/Rect" in keys):
            for key, text in _ANNOT_KEYS.items():
                if key in obj:
                    found.append(Finding("owner" if key == "/T" else "datetime", text))
                    del obj[key]
        if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image":
            found += _embedded_jpeg(obj)
    return found


def _embedded_jpeg(image: pikepdf.Stream) -> list[Finding]:
    """Clean a photo embedded as a JPEG (DCTDecode) image, with the JPEG cleaner.

    A PDF made from phone photos carries each photo's JPEG file whole, EXIF and
    GPS included. Only its metadata segments change; its scans, hence its
    pixels, stay byte for byte.
    """
    import pikepdf

    filters = image.get("/Filter")
    if filters != "/DCTDecode" and not (
        isinstance(filters, pikepdf.Array) and list(filters) == [pikepdf.Name.DCTDecode]
    ):
        return []
    raw = image.read_raw_bytes()
    out = io.BytesIO()
    try:
        report = scrub_jpeg(ByteSource(io.BytesIO(raw), MAX_INMEMORY_BYTES), Output(out))
    except ScrubError:
        # Left as the viewer will read it: a damaged image cannot be rewritten safely.
        return [Finding("other", "embedded JPEG image that could not be checked")]
    if out.getvalue() != raw:
        parms = image.get("/DecodeParms")
        image.write(
            out.getvalue(),
            filter=pikepdf.Name.DCTDecode,
            decode_parms=parms if isinstance(parms, pikepdf.Dictionary | pikepdf.Array) else None,
        )
    return [replace(f, text=f"embedded image: {f.text}") for f in report.removed]


def _attachments(pdf: pikepdf.Pdf) -> list[Finding]:
    import pikepdf

    found: list[Finding] = []
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/EmbeddedFiles" in names:
        count = len(pdf.attachments)
        found.append(Finding("other", f"{count} attached file(s)"))
        del names["/EmbeddedFiles"]
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if not isinstance(annots, pikepdf.Array):
            continue
        keep = [a for a in annots if a.get("/Subtype") != "/FileAttachment"]
        if len(keep) != len(annots):
            found.append(Finding("other", "file-attachment annotation"))
            page.obj["/Annots"] = pikepdf.Array(keep)
    return found


def scrub_pdf(src: ByteSource, dst: Output) -> ScrubReport:
    """Clean the PDF in ``src`` into ``dst``; see the module docstring."""
    import pikepdf

    data = src.read_rest()
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return _clean(pdf, dst)
    except pikepdf.PasswordError as exc:
        raise UnsupportedFormat("cannot clean encrypted PDF files") from exc
    # PikepdfError, not only PdfError: qpdf also raises QpdfRuntimeError on damage it
    # finds while reading (e.g. "/Count is wrong after flattening pages tree"; fuzzing)
    except (pikepdf.PikepdfError, RecursionError, ValueError) as exc:
        raise CorruptMedia("PDF is damaged and cannot be read") from exc


def _clean(pdf: pikepdf.Pdf, dst: Output) -> ScrubReport:
    if pdf.is_encrypted:
        raise UnsupportedFormat("cannot clean encrypted PDF files")
    removed = _info(pdf)
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    removed += _attachments(pdf)
    removed += _clean_objects(pdf)
    if "/ID" in pdf.trailer:
        removed.append(Finding("serial", "document ID"))
    out = io.BytesIO()
    options: dict[str, Any] = {
        "preserve_pdfa": False,
        "fix_metadata_version": False,
        "compress_streams": False,
        "recompress_flate": False,
        "normalize_content": False,
        "deterministic_id": True,
    }
    pdf.save(out, **options)
    dst.write(out.getvalue())
    return ScrubReport(
        format="pdf",
        removed=list(dict.fromkeys(removed)),
        kept=["page content streams, images and fonts, byte for byte"],
    )
