"""Vendor and buyer: names and addresses from blocks of rows.

Where a page names its parties ("Bill to", "Verkäufer", "Client") the block under the label is
read. The vendor is otherwise found the way a person does: a sender line above the address
window (DIN 5008), a line carrying a legal form (GmbH, Ltd, S.A., Sdn Bhd ...), or the first
prominent line at the top of the first page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledgerlens.pipeline.engines.ocr.finder.lexicon import NOT_TOTALS, LabelHit
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView, read_confidence
from ledgerlens.pipeline.normalize import fold, iso_currencies
from ledgerlens.pipeline.read.layout import Row, Segment
from ledgerlens.pipeline.types import Word

LEGAL_FORMS = re.compile(
    r"(?<![\w])(gmbh|ag|kg|ohg|ug|e\.?\s?k\.?|gbr|mbh|ltd\.?|limited|llc|l\.l\.c\.|inc\.?|corp\.?|corporation|"
    r"plc|llp|lp|co\.|company|s\.?a\.?s?\.?u?|s\.?l\.?u?\.?|s\.?a\.?r\.?l\.?|sarl|sas|sasu|eurl|sa|sl|slu|"
    r"s\.?p\.?a\.?|s\.?r\.?l\.?|b\.?v\.?|n\.?v\.?|bvba|vof|a/s|aps|ab|oy|as|sdn\.?\s?bhd\.?|bhd\.?|"
    r"pte\.?\s?ltd\.?|pty\.?\s?ltd\.?|pvt\.?\s?ltd\.?|s/b|enterprise|trading)(?![\w])",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"(?<!\d)(?:\d{5}|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{3}\s?\d{2}|\d{4}|[A-Z]-\d{4,5})(?!\d)"
)
_STREET = re.compile(
    r"(?i)(stra(ss|ß)e|str\.|weg|allee|platz|gasse|ring|damm|street|st\.?$|road|rd\.?|avenue|ave\.?|lane|"
    r"drive|boulevard|blvd|calle|c/|avda|avenida|plaza|paseo|rue|avenue|boulevard|chemin|all[ée]e|place|"
    r"straat|laan|plein|gracht|jalan|jln|taman|lorong|no\.|lot\s|\d+[a-z]?,)"
)
_CONTACT = re.compile(
    r"(?i)(\btel\b|\btelp\b|phone|\bfax\b|e-?mail|@|www\.|http|\bgst\b|\bsst\b|\breg\b|\bvat\b|\btva\b|"
    r"\bust\b|\bust-?id|\bgst|\biban\b|\bbic\b|\bswift\b|\bhrb\b|\bsiret\b|\bsiren\b|\bnif\b|\bcif\b|\bkvk\b|\bbtw\b|"
    r"\binvoice|\breceipt|\bfactur|\brechnung|\bdate\b|\bdatum\b|\bfecha\b|\bcashier|\btable\b|\bcounter\b|"
    r"\bno\s?:|\bdoc\b|\bhrs\b|\bopening hours|\bshopping hours)"
)
_COUNTRY_FIRST = re.compile(r"^([A-Z]{2})[\s\-]+(\d{4,5}\s+.+)$")
_TITLE_WORDS = {
    "invoice", "tax invoice", "receipt", "official receipt", "cash bill", "rechnung", "factura", "facture",
    "factuur", "credit note", "gutschrift", "avoir", "statement", "quittung", "bon", "ticket",
    "simplified tax invoice", "cash receipt", "bill", "order", "delivery note", "original", "copy",
    "adjustment note", "debit note", "delivery order", "sales order", "invoice receipt",
}  # fmt: skip


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Party:
    name: Candidate | None = None
    address: Candidate | None = None


# A company registration number printed with the name: "(123456-X)", "JM0292487-D", "(LLP0007299-LGN)".
_REG = (
    r"(?:(?:(?:co(?:mpany)?\.?\s*)?(?:reg(?:istration)?\.?\s*)?(?:no\.?\s*)?:?\s*)?"
    r"[A-Z]{0,4}\d[\d ]{2,12}(?:\s?-\s?[A-Z0-9]{1,3}|\s[A-Z]\b)"  # "123456-X", also read as "123456 X"
    r"|(?:co|reg)\.?\s*no\.?\s*[:.]?\s*\d{4,12}\s?-?\s?[A-Z]"  # "Co.no.639240 H"
    r"|(?:s?br|roc|company|co)\s*no\.?\s*[:.(]?\s*\d{4,12}\s?-?\s?[A-Z]?\)?)"  # "SBR No.: 0195932-X"
)
_REG_NO = re.compile(rf"\s*(?:[\[({{]?\s*{_REG}\b.*|\(\d{{5,12}}\)\W*)$", re.IGNORECASE)
_REG_ONLY = re.compile(rf"[\[({{]?\s*{_REG}\s*[\])}}]?[.:,]?|\(?\d{{5,8}}\)?[.,]?", re.IGNORECASE)
_REG_WORD = re.compile(rf"[\[({{]?\s*{_REG}\s*[\])}}]?[.:,]?", re.IGNORECASE)
_FILLER = re.compile(r"^[^\d]{0,14}(?:\.\.|:)[.:\s]*$")  # "Company .. :" and other short label debris
_PHONE_LINE = re.compile(r"^[\s(+]*\d[\d\s()./+-]{6,}\d[\s)]*$")
_DATE_TIME_LINE = re.compile(
    r"^\s*\d{1,2}[\s./-]+(?:\d{1,2}|[A-Za-z]{3,9})[\s./-]+\d{2,4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?\s*$"
)
# "SON BHD", "SIN BHD", "5DN 8HD": Sendirian Berhad with one letter misread in either word.
_SDN_BHD_MISREAD = re.compile(
    r"\b(?!SDN\.?\s?BHD\b)(?:[S5][A-Z0-9]N|[S5]D[A-Z0-9]|[A-Z0-9]DN)\.?\s?(?:BH[DO0]|[B8]HD|B[A-Z0-9]D)\b\.?"
)
_OCR_LEGAL = [
    (_SDN_BHD_MISREAD, "SDN BHD"),
    (re.compile(r"(?<=[A-Z]{2} )[5S]/[B8](?![\w/])"), "S/B"),  # Sendirian Berhad, its S or B read as 5 or 8
]


def clean_name(text: str) -> str:
    """A party name without its trailing company registration number ("ACME SDN BHD (123456-X)")
    and without OCR debris before it ("* THAI DELICIOUS RESTAURANT")."""
    text = _REG_NO.sub("", text).strip(" ,;:-")
    text = re.sub(r"^[^\w(]+", "", text)
    text = re.sub(r"^\d{5,}\s+(?=\D)", "", text)  # a till counter before the name ("000002 BAIFU")
    for pattern, fixed in _OCR_LEGAL:  # the commonest OCR slips in legal forms
        text = pattern.sub(fixed, text)
    return text


# Words of a document's title ("Kopie factuur", "Duplicate tax invoice"): a line of only these names nobody.
_TITLE_TOKENS = frozenset(w for t in _TITLE_WORDS for w in t.split()) | {
    "kopie",
    "copie",
    "copia",
    "duplicate",
    "duplicado",
    "proforma",
    "pro",
    "forma",
    "reprint",
    "customer",
}


def _is_title(text: str) -> bool:
    t = fold(text).strip(" :.-*#")
    if t in _TITLE_WORDS or len(t) < 2:
        return True
    tokens = re.findall(r"[a-z]+", t)
    return bool(tokens) and all(w in _TITLE_TOKENS for w in tokens) and len(tokens) <= 4


# "Owned by" / "Operated by" / "A division of": the company named after it owns the shop named above.
_OWNER = re.compile(r"\b(?:owned|operated|managed|franchised)\s+by\b|\ba\s+(?:division|member|subsidiary)\s+of\b", re.I)


def canonical_address(lines: list[str]) -> str:
    """Lines joined with ", "; "DE 80333 München" becomes "80333 München, DE"."""
    parts: list[str] = []
    for line in lines:
        line = line.strip().rstrip(",")
        m = _COUNTRY_FIRST.match(line)
        if m:
            line = f"{m.group(2)}, {m.group(1)}"
        if line:
            parts.append(line)
    return ", ".join(parts)


def _looks_like_address(text: str) -> bool:
    return bool(_POSTCODE.search(text) or _STREET.search(text)) and not _CONTACT.search(text)


def _segment_near(row: Row, x: float, tol: float) -> Segment | None:
    best = None
    for seg in row.segments:
        if abs(seg.x0 - x) <= tol and (best is None or abs(seg.x0 - x) < abs(best.x0 - x)):
            best = seg
    return best


def block_below(view: DocView, row: Row, anchor: Segment, *, max_lines: int = 6) -> list[tuple[Row, Segment]]:
    """Segments aligned with `anchor` (left edges, or centres on a centred receipt header) in the
    rows under `row`, until a gap or another party's label."""
    unit = view.unit(row.page)
    rows = view.rows_of(row.page)
    out: list[tuple[Row, Segment]] = []
    last_y = row.y1
    for r in rows[row.index + 1 :]:
        if r.y0 - last_y > 2.2 * unit or len(out) >= max_lines:
            break
        seg = _aligned_segment(r, anchor, 2.0 * unit)
        if seg is None:
            if out:
                break
            continue
        if any(h.x0 <= seg.x0 + unit and h.fields & {"buyer_block", "vendor_block"} for h in view.labels[id(r)]):
            break
        out.append((r, seg))
        last_y = r.y1
    return out


def _aligned_segment(row: Row, anchor: Segment, tol: float) -> Segment | None:
    """The segment lined up with the anchor: left edges, centres, or right edges (a block set flush right)."""
    centre = (anchor.x0 + anchor.x1) / 2
    best, best_d = None, tol
    for seg in row.segments:
        d = min(abs(seg.x0 - anchor.x0), abs((seg.x0 + seg.x1) / 2 - centre), abs(seg.x1 - anchor.x1))
        if d <= best_d:
            best, best_d = seg, d
    return best


def _cand(view: DocView, field: str, text: str, row: Row, words, score: float, source: str) -> Candidate:
    return Candidate(field, text, score, row, list(words), source)


def party_from_block(view: DocView, role: str, rows: list[tuple[Row, Segment]], source: str) -> Party:
    """Name = first line; address = the address-like lines after it."""
    party = Party()
    lines = [(r, s) for r, s in rows if not _is_title(s.text)]
    if not lines:
        return party
    # "Name: ACME" / "Anschrift: Street 1" sections (e-invoice visualisations).
    labelled = _labelled_party(view, lines)
    if labelled.name or labelled.address:
        return _named(view, role, labelled, source)
    r0, s0 = lines[0]
    party.name = _cand(view, f"{role}_name", clean_name(s0.text.strip(" ,")), r0, s0.words, 0.8, source)
    addr: list[tuple[Row, Segment]] = []
    for r, s in lines[1:]:
        text = s.text.strip()
        form = clean_name(text).strip(" .")
        if not addr and LEGAL_FORMS.fullmatch(form):
            # "TSH POWER HARDWARE" / "TRADING": the name goes on over two lines
            if not party.name.value.upper().endswith(form.upper()):
                party.name.value = f"{party.name.value} {form}"
                party.name.words = [*party.name.words, *s.words]
            continue
        if _REG_ONLY.fullmatch(text) or _DATE_TIME_LINE.match(text) or _FILLER.match(text):
            continue  # the registration number under a company name, a printed date: not the address
        if (_CONTACT.search(text) and not _looks_like_address(text)) or _is_phone(text) or _is_title(text):
            break
        addr.append((r, Segment(_strip_reg_prefix(s.words))))
        if len(addr) >= 5:
            break
    if addr:
        words = [w for _, s in addr for w in s.words]
        text = canonical_address([s.text for _, s in addr])
        party.address = _cand(view, f"{role}_address", text, addr[0][0], words, 0.7, source)
    return party


_PHONE = re.compile(r"\d{2,4}\s*[-/]\s*\d{3,4}\s*\d{3,5}")


def _is_phone(text: str) -> bool:
    """A telephone line, even with OCR debris around the number ("O: :- 03 - 788007 21")."""
    digits = sum(c.isdigit() for c in text)
    letters = sum(c.isalpha() for c in text)
    return bool(_PHONE_LINE.match(text) or (_PHONE.search(text) and digits >= 8 and letters <= 3))


def _strip_reg_prefix(words: list[Word]) -> list[Word]:
    """ "(JM0292487-D) NO 4, JALAN ..." -> "NO 4, JALAN ...": a registration number leading the line."""
    while len(words) > 1 and _REG_WORD.fullmatch(words[0].text.strip()):
        words = words[1:]
    return words


def _labelled_party(view: DocView, lines: list[tuple[Row, Segment]]) -> Party:
    """ "Name: ACME GmbH" / "Anschrift: Street 1" rows inside a party's section (e-invoice printouts);
    address lines continue under the value, in its column, until the next label."""
    party = Party()
    for r, _s in lines:
        for hit in view.labels[id(r)]:
            words = view.after_label(hit)
            if not words:
                continue
            if "party_name" in hit.fields and party.name is None:
                party.name = Candidate("name", clean_name(" ".join(w.text for w in words)), 0.9, r, words, "label:name")
            elif "party_address" in hit.fields and party.address is None:
                texts, used = [" ".join(w.text for w in words)], list(words)
                unit, x = view.unit(r.page), words[0].x0
                for r2 in view.rows_of(r.page)[r.index + 1 : r.index + 5]:
                    if view.labels[id(r2)] or abs(r2.words[0].x0 - x) > 2 * unit:
                        break
                    texts.append(r2.text)
                    used += r2.words
                party.address = Candidate("address", canonical_address(texts), 0.85, r, used, "label:address")
    return party


def _named(view: DocView, role: str, p: Party, source: str) -> Party:
    out = Party()
    if p.name:
        out.name = Candidate(f"{role}_name", p.name.value, p.name.score, p.name.row, p.name.words, source)
    if p.address:
        out.address = Candidate(
            f"{role}_address", p.address.value, p.address.score, p.address.row, p.address.words, source
        )
    return out


def labelled_party(view: DocView, role: str) -> Party:
    """The party under a "Bill to" / "Seller" style label (the first one that yields a name)."""
    block = "buyer_block" if role == "buyer" else "vendor_block"
    for hit in view.hits(block):
        if hit.row.page != 0 or not _label_starts_segment(hit):
            continue
        rows = []
        inline = view.after_label(hit)
        if inline:  # "Bill to: ACME Ltd" on the label's own row
            seg = Segment(inline)
            rows.append((hit.row, seg))
        rows += block_below(view, hit.row, Segment(hit.row.words[hit.first_word : hit.last_word + 1]))
        party = party_from_block(view, role, rows, "label:" + " ".join(hit.phrase))
        if party.name:
            return party
    return Party()


def find_sender(view: DocView, buyer_zone: Box | None) -> Party:
    """The vendor: the party under a seller label, else the sender line above the address window,
    else the first line with a legal form outside the buyer's zone, else the most name-like line
    at the top of the first page."""
    vendor = labelled_party(view, "vendor")
    for finder in (
        lambda: sender_line(view),
        lambda: legal_form_party(view, buyer_zone),
        lambda: top_party(view, buyer_zone),
    ):
        if vendor.name:
            break
        vendor = finder()
    return vendor


def _label_starts_segment(hit: LabelHit) -> bool:
    # A block label heads its segment ("Bill to", "Kunde:"); inside a sentence it is just a word.
    for seg in hit.row.segments:
        if seg.words[0] is hit.row.words[hit.first_word]:
            return len(seg.words) - (hit.last_word - hit.first_word + 1) <= 6
    return False


def sender_line(view: DocView) -> Party:
    """DIN 5008 return-address line: "ACME GmbH - Hauptstr. 1 - 10115 Berlin" above the window."""
    rows = view.rows_of(0)
    limit = view.page_height(0) * 0.4
    for r in rows:
        if r.y0 > limit:
            break
        # The separators of a sender line; OCR often reads its "·" as ":".
        separators = r"\s+[-–·|•]\s+|\s*[·|•]\s*" + (r"|\s+:\s+" if r.text.count(" : ") >= 2 else "")
        parts = [p.strip() for p in re.split(separators, r.text) if p.strip()]
        addressy = any(_looks_like_address(p) for p in parts[1:])
        named = sum(c.isalpha() for c in parts[0]) >= 4 if parts else False
        if len(parts) >= 3 and addressy and named and not _CONTACT.search(r.text):
            name = _cand(view, "vendor_name", parts[0], r, r.words[:1], 0.75, "sender line")
            addr = _cand(view, "vendor_address", canonical_address(parts[1:]), r, r.words, 0.6, "sender line")
            return Party(name, addr)
    return Party()


def ends_with_legal_form(text: str) -> bool:
    """ "ACME Supplies GmbH", "Coolblue B.V.", "KEDAI MAJU SDN BHD (123-X)": a name ending in its legal form."""
    name = clean_name(text)
    last = None
    for last in LEGAL_FORMS.finditer(name):  # noqa: B007 - the last match is the one that counts
        pass
    # Something name-like before the form: "1.00 kg" is a quantity, "99 SPEED MART S/B" a shop.
    named = last is not None and re.search(r"[A-Za-z]{2,}", name[: last.start()]) is not None
    return bool(last and named and last.end() >= len(name.rstrip(". ")))


def legal_form_party(view: DocView, exclude: tuple[float, float, float, float] | None) -> Party:
    """The first segment on page 1 that carries a legal form and is not in the buyer's zone."""
    for r in view.rows_of(0):
        for seg in r.segments:
            if not ends_with_legal_form(seg.text) or _CONTACT.search(seg.text) or len(seg.text) > 80:
                continue
            if exclude and _inside(seg, exclude):
                continue
            if sum(c.isdigit() for c in clean_name(seg.text)) > 4:
                continue
            before = view.rows_of(0)[r.index - 1].text if r.index else ""
            if _OWNER.search(before) or _OWNER.search(r.text[: r.text.find(seg.text)]):
                continue  # the owner of the shop, not the shop the receipt is from
            rows = [(r, seg), *block_below(view, r, seg)]
            party = party_from_block(view, "vendor", rows, "legal form")
            if party.name:
                return party
    return Party()


def top_party(view: DocView, exclude: tuple[float, float, float, float] | None) -> Party:
    """The most name-like of the first lines of page 1 (receipts, letterheads without a legal form).

    Shop names are printed big, in capitals, often with a legal form; scribbles, slogans and
    operator stamps at the very top are not.
    """
    rows = view.rows_of(0)
    limit = view.page_height(0) * 0.35
    unit = view.unit(0)
    best: tuple[float, Row, Segment] | None = None
    for rank, r in enumerate(rows[:8]):
        if r.y0 > limit:
            break
        label_fields = {f for h in view.labels[id(r)] if any(lb.strong for lb in h.labels) for f in h.fields}
        if label_fields - NOT_TOTALS:
            continue
        for seg in _name_segments(r):
            scored = _name_score(view, rows, rank, seg, unit, exclude)
            if scored is not None and (best is None or scored[0] > best[0]):
                best = scored
    if best is None:
        return Party()
    _, r, seg = best
    party = party_from_block(view, "vendor", [(r, seg), *block_below(view, r, seg)], "top of page")
    if party.name:
        party.name.score = 0.5
    return party


def _name_segments(row: Row) -> list[Segment]:
    """A name may be one segment, or the whole row when wide letter spacing split it up."""
    biggest = max(row.segments, key=lambda s: (s.words[0].height, len(s.text)))
    return [biggest] if len(row.segments) == 1 else [biggest, Segment(list(row.words))]


def _name_score(
    view: DocView, rows: list[Row], rank: int, seg: Segment, unit: float, exclude: Box | None
) -> tuple[float, Row, Segment] | None:
    """How much a segment of one of the first rows looks like the issuer's name (None: not at all)."""
    r = rows[rank]
    text = seg.text.strip()
    name = clean_name(text)
    letters = [c for c in name if c.isalpha()]
    if _is_title(text) or len(letters) < 3 or len(letters) < 0.5 * len(name.replace(" ", "")):
        return None
    if name.strip(" .:").upper() in iso_currencies():
        return None  # "EUR" above a price column is not a shop
    if _CONTACT.search(text) or (exclude and _inside(seg, exclude)):
        return None
    if rank > 0 and _OWNER.search(rows[rank - 1].text):
        return None  # "Owned by: SANYU SUPPLY SDN BHD" under the shop's own name
    if _looks_like_address(text) and rank > 0:
        return None
    if rank > 0 and LEGAL_FORMS.fullmatch(clean_name(text).strip(" .")):
        # "TRADING" / "SDN BHD" alone: the end of the name on the line above.
        above = rows[rank - 1]
        seg = Segment([*max(above.segments, key=lambda s: len(s.text)).words, *seg.words])
        text = seg.text
        r = above
    upper = sum(c.isupper() for c in letters) / len(letters)
    height = max(w.height for w in seg.words) / unit
    legal = 1.5 if ends_with_legal_form(text) else 0.0
    whole_row = 0.1 if len(seg.words) == len(r.words) else 0.0  # "THE | COPPER | KETTLE": all of it
    below = block_below(view, r, seg, max_lines=3)
    if any(_looks_like_address(s.text) for _, s in below):
        whole_row += 0.6  # a name is followed by its address
    if rank > 0 and _looks_like_address(rows[rank - 1].text) and rows[rank].y0 - rows[rank - 1].y1 < 1.5 * unit:
        whole_row -= 1.0  # right under an address line: the address goes on ("DIAMOND SQUARE")
    score = upper + 0.5 * min(height, 2.0) + legal - 0.1 * rank + 0.3 * read_confidence(seg.words) + whole_row
    return score, r, seg


def _inside(seg: Segment, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    cx = (seg.x0 + seg.x1) / 2
    cy = (seg.bbox[1] + seg.bbox[3]) / 2
    return x0 <= cx <= x1 and y0 <= cy <= y1


def complete_name(view: DocView, cand: Candidate) -> Candidate:
    """A name broken over two lines inside its brackets ("AIK HUAT HARDWARE ENTERPRISE (SETIA" /
    "ALAM) SDN BHD"): the line that closes or opens the bracket is taken in."""
    text = str(cand.value)
    opened = text.count("(") - text.count(")")
    if opened == 0 or cand.row is None:
        return cand
    rows = view.rows_of(cand.row.page)
    unit = view.unit(cand.row.page)
    i = cand.row.index
    other = rows[i - 1] if opened < 0 and i > 0 else rows[i + 1] if opened > 0 and i + 1 < len(rows) else None
    if other is None or min(abs(other.y0 - cand.row.y1), abs(cand.row.y0 - other.y1)) > 1.2 * unit:
        return cand
    piece = clean_name(other.text)
    if (piece.count("(") - piece.count(")")) * opened >= 0:
        return cand  # that line does not close (or open) the bracket
    joined = f"{piece} {text}" if opened < 0 else f"{text} {piece}"
    words = [*other.words, *cand.words] if opened < 0 else [*cand.words, *other.words]
    return Candidate(cand.field, clean_name(joined), cand.score, cand.row, words, cand.source)
