"""The workspace's chart of accounts for the accounting exports: `accounts.toml`.

```toml
[accounts]
payable = "1600"        # credit side of a bill (accounts payable / Verbindlichkeiten)
paid = "1000"           # credit side of a receipt (paid at the till: cash, card clearing)
input_tax = "1576"      # debit side of the VAT on a purchase
suspense = "9999"       # expenses of vendors that have no entry below

[tax_codes]             # VAT rate (%) -> tax code written to journal / QuickBooks / Xero
"19" = "VST19"
"0" = "NONE"

[vendors."Acme Supplies GmbH"]   # matched by vendor_key: case, punctuation, GmbH/Ltd/S.A. ignored
account = "4930"
tax_code = "VST19"      # optional: overrides [tax_codes] for this vendor
datev_tax_key = "9"     # optional: DATEV BU-Schlüssel; the gross is booked and DATEV splits the tax
contact = "Acme Supplies"        # optional: the contact name in QuickBooks / Xero

[datev]
consultant_number = 1001
client_number = 1
account_length = 4
fiscal_year_start_month = 1

[formats]
quickbooks = "us"       # the QuickBooks Online company: "us" (Vendor, MM/DD/YYYY) or "intl" (Supplier,
                        # a tax code per line, DD/MM/YYYY)
quickbooks_date = "%m/%d/%Y"     # optional: defaults to the variant's
xero_date = "%d/%m/%Y"

[bank]                  # bank statements: ledger accounts and categorization rules (export/bank/rules.py)
account = "1200"
```
The chart sections (`[chart]`, `[input_tax]`, `[tax_codes.abroad]`, `[exchange_rates]`) are read by
`chart.py`; `ledgerlens init --chart NAME` writes a complete file from a starter chart.
Every key is optional; unknown keys are errors (a typo must not silently book to suspense).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, load_schemas, packaged_schemas
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.bank.rules import BankSettings, parse_bank
from ledgerlens.pipeline.export.chart import SECTIONS as CHART_SECTIONS
from ledgerlens.pipeline.export.chart import Chart, is_abroad, parse_chart, tax_codes
from ledgerlens.pipeline.export.settings import check_keys, setting_text
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import vendor_key

FILE_NAME = "accounts.toml"
_SECTIONS = {"accounts", "tax_codes", "vendors", "datev", "formats", "bank", *CHART_SECTIONS}
_ACCOUNT_KEYS = {"payable", "paid", "input_tax", "suspense"}
_VENDOR_KEYS = {"account", "tax_code", "datev_tax_key", "contact"}
_DATEV_KEYS = {"consultant_number", "client_number", "account_length", "fiscal_year_start_month"}
_FORMAT_KEYS = {"quickbooks", "quickbooks_date", "xero_date"}
QUICKBOOKS_VARIANTS = {"us": "%m/%d/%Y", "intl": "%d/%m/%Y"}  # the company's region -> its import's date format


@dataclass(frozen=True)
class VendorAccount:
    name: str  # as written in the file
    account: str
    tax_code: str | None = None
    datev_tax_key: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class DatevSettings:
    consultant_number: int = 1001
    client_number: int = 1
    account_length: int = 4
    fiscal_year_start_month: int = 1


@dataclass(frozen=True)
class Booking:
    """How a document type is booked, from its card: "bill" (to payables) or "paid" (at once), and
    the field that names a document of it (its number)."""

    how: str
    ref_field: str


def bookings(schemas: dict[str, DocumentSchema] | None = None) -> dict[str, Booking]:
    """The booked types among `schemas` (default: the packaged types)."""
    types = packaged_schemas() if schemas is None else schemas
    return {t: Booking(s.card.books, s.card.ref_field) for t, s in types.items() if s.card.books}


@dataclass(frozen=True)
class AccountMap:
    payable: str = "1600"
    paid: str = "1000"
    input_tax: str = "1576"
    suspense: str = "9999"
    tax_codes: dict[str, str] = field(default_factory=dict)  # normalized rate ("19", "5.5") -> code
    vendors: dict[str, VendorAccount] = field(default_factory=dict)  # vendor_key -> entry
    datev: DatevSettings = DatevSettings()
    quickbooks: str = "us"
    quickbooks_date: str = ""  # "": the variant's (QUICKBOOKS_VARIANTS)
    xero_date: str = "%d/%m/%Y"
    source: str = "(defaults)"
    chart: Chart = field(default_factory=Chart)  # the target's chart, input tax by rate, tax codes abroad (chart.py)
    # Which document types are booked, and how (their cards'; the workspace's types included).
    books: dict[str, Booking] = field(default_factory=bookings)
    bank: BankSettings = field(
        default_factory=BankSettings
    )  # [bank]: bank ledger accounts and rules (export/bank/rules.py)

    def vendor(self, name: str | None) -> VendorAccount | None:
        return self.vendors.get(vendor_key(name)) if name else None

    def expense_account(self, name: str | None) -> str:
        found = self.vendor(name)
        return found.account if found else self.suspense

    def tax_code(self, name: str | None, rate: Any, data: dict[str, Any] | None = None) -> str:
        """The vendor's own code, else the code of `rate` ("*": any rate) for a vendor at home or,
        when the document `data` shows the vendor abroad, from [tax_codes.abroad]."""
        found = self.vendor(name)
        if found and found.tax_code:
            return found.tax_code
        codes = self.chart.tax_codes_abroad if data is not None and is_abroad(self.chart, data) else self.tax_codes
        key = rate_key(rate) if rate not in (None, "") else None
        return codes[key] if key is not None and key in codes else codes.get("*", "")

    def input_tax_account(self, rate: Any, data: dict[str, Any]) -> str | None:
        """Where the VAT of an expense at `rate` goes; None: not deductible, it stays in the expense."""
        if not self.chart.input_tax:
            return self.input_tax
        if is_abroad(self.chart, data) or rate in (None, ""):
            return None
        return self.chart.input_tax.get(rate_key(rate))

    @property
    def quickbooks_date_format(self) -> str:
        return self.quickbooks_date or QUICKBOOKS_VARIANTS[self.quickbooks]


def rate_key(rate: Any) -> str:
    """'19.00', '19', 19 -> '19'; '5.50' -> '5.5'."""
    number = to_decimal(rate)
    if number is None:
        return str(rate)
    value = number.normalize()
    return f"{value:f}" if value != value.to_integral() else f"{value.to_integral():f}"


def load_accounts(workspace_root: Path | None) -> AccountMap:
    """The workspace's accounts.toml, or the defaults (everything to suspense) when there is none;
    the bookings of the workspace's document types (their cards) with it."""
    path = workspace_root / FILE_NAME if workspace_root is not None else None
    books = bookings(load_schemas(workspace_root / "schemas")) if workspace_root is not None else bookings()
    if path is None or not path.is_file():
        return AccountMap(books=books)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    return replace(parse_accounts(raw, str(path)), books=books)


def _table(raw: dict[str, Any], name: str, allowed: set[str] | None = None) -> dict[str, Any]:
    table = raw.get(name, {})
    return check_keys(f"[{name}]", table, allowed if allowed is not None else set(table))


def parse_accounts(raw: dict[str, Any], source: str = "accounts.toml") -> AccountMap:
    check_keys(source, raw, _SECTIONS)
    accounts = {k: setting_text(f"[accounts] {k}", v) for k, v in _table(raw, "accounts", _ACCOUNT_KEYS).items()}
    home_codes, _ = tax_codes(raw.get("tax_codes"), rate_key)
    vendors: dict[str, VendorAccount] = {}
    for name, entry in _table(raw, "vendors").items():
        where = f"[vendors.{name!r}]"
        entry = check_keys(where, entry, _VENDOR_KEYS)
        if "account" not in entry:
            raise ConfigError(f"{where} needs an account")
        key = vendor_key(name)
        if key in vendors:
            raise ConfigError(f"{where} and [vendors.{vendors[key].name!r}] are the same vendor once normalized")
        opt = {
            k: setting_text(f"{where} {k}", entry[k]) for k in ("tax_code", "datev_tax_key", "contact") if k in entry
        }
        vendors[key] = VendorAccount(name, setting_text(f"{where} account", entry["account"]), **opt)
    datev_raw = _table(raw, "datev", _DATEV_KEYS)
    for k, v in datev_raw.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ConfigError(f"[datev] {k} must be a whole number, got {v!r}")
    if not 1 <= datev_raw.get("fiscal_year_start_month", 1) <= 12:
        raise ConfigError("[datev] fiscal_year_start_month must be 1..12")
    formats = {k: setting_text(f"[formats] {k}", v) for k, v in _table(raw, "formats", _FORMAT_KEYS).items()}
    if formats.get("quickbooks", "us") not in QUICKBOOKS_VARIANTS:
        raise ConfigError(f"[formats] quickbooks must be one of {', '.join(QUICKBOOKS_VARIANTS)}")
    declared = set(accounts.values()) | {v.account for v in vendors.values()}
    chart = parse_chart(raw, rate_key, declared)
    named = AccountMap(
        tax_codes=home_codes,
        vendors=vendors,
        datev=DatevSettings(**datev_raw),
        source=source,
        chart=chart,
        bank=parse_bank(raw.get("bank", {}), source),
    )
    settings: dict[str, Any] = {**accounts, **formats}  # only _ACCOUNT_KEYS and _FORMAT_KEYS: text fields
    return replace(named, **settings)
