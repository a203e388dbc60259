"""VAT ids and national tax numbers, checked by python-stdnum (format and check digits per country).

This module only maps our canonical form to stdnum's modules and stdnum's verdict to the reason a
reviewer reads:

    DE136695976, ATU13585627, EL094259216 (or GR...), XI..., EU... (OSS)  -> stdnum.eu.vat
    GB123456789                                                            -> stdnum.gb.vat
    CHE116281710MWST                                                       -> stdnum.ch.vat
    NO974760673MVA                                                         -> stdnum.no.mva
    a German Steuernummer (vendor_tax_number of a German vendor)           -> stdnum.de.stnr

`check_vat_id("DE 136 695 976")` -> VatCheck(country="DE", valid=True, checked=True).
An id with another prefix (a US EIN, a Malaysian GST id) is not judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from stdnum import exceptions
from stdnum.ch import vat as ch_vat
from stdnum.de import stnr as de_stnr
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.no import mva as no_mva

# Prefixes stdnum.eu.vat knows (the member states, Greece's EL, Northern Ireland's XI, the
# OSS schemes' EU and IM), and the three European countries outside it that we read.
_EU_PREFIXES = frozenset(cc.upper() for cc in eu_vat.MEMBER_STATES) | {"EL", "EU", "IM"}
_OTHER: dict[str, ModuleType] = {"GB": gb_vat, "CH": ch_vat, "NO": no_mva}
# National tax numbers by the vendor's country (ISO 3166): checked for the country's format.
TAX_NUMBERS: dict[str, tuple[ModuleType, str]] = {"DE": (de_stnr, "German tax number (Steuernummer)")}


@dataclass(frozen=True)
class VatCheck:
    country: str | None  # the id's prefix ("EL" for Greece), None when it is not a European VAT id
    valid: bool
    checked: bool  # True when stdnum judged it (its country's format and check digit)
    reason: str = ""  # why it is not valid, as the end of "VAT id X ..."


def compact_vat_id(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def _module(country: str) -> ModuleType | None:
    if country in _EU_PREFIXES:
        return eu_vat
    return _OTHER.get(country)


def _reason(error: exceptions.ValidationError, country: str) -> str:
    if isinstance(error, exceptions.InvalidChecksum):
        return f"fails the {country} check digit"
    if isinstance(error, exceptions.InvalidLength):
        return f"does not have the {country} format (wrong length)"
    return f"does not have the {country} format"


def check_vat_id(value: str) -> VatCheck:
    s = compact_vat_id(value)
    country = "EL" if s[:2] == "GR" else s[:2]  # Greece's VAT prefix is EL
    module = _module(country)
    if module is None:
        return VatCheck(None, True, False, "is not an EU/GB/CH/NO VAT id; not checked")
    try:
        module.validate(s)
    except exceptions.ValidationError as e:
        return VatCheck(country, False, True, _reason(e, country))
    return VatCheck(country, True, True)


def tax_number_problem(value: str, country: str | None) -> str | None:
    """Why a national tax number cannot be one of `country`'s, or None (fine, or not checked here)."""
    known = TAX_NUMBERS.get(country or "")
    if known is None or known[0].is_valid(value):
        return None
    return f"does not have the format of a {known[1]}"
