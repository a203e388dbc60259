"""The chart of accounts an import target expects: the `[chart]`, `[input_tax]`, `[tax_codes]` and
`[exchange_rates]` sections of `accounts.toml`, and the starter charts that `ledgerlens init
--chart NAME` writes (`starter_charts/NAME.toml`, shipped in the package).

```toml
[chart]
name = "skr03"            # the starter chart this file began as
target = "datev"          # the import it is made for: the Review sheet lists what that target refuses
country = "DE"            # home country: a vendor elsewhere is "abroad" (VAT id prefix, else currency)
currency = "EUR"          # home currency
skr = "03"                # DATEV Sachkontenrahmen (header field 27): "03" or "04"
[chart.accounts]          # accounts that exist in the chart; any account named elsewhere in the file counts too
"1590" = "Durchlaufende Posten"

[input_tax]               # VAT rate -> input-tax account; a rate not listed, or a vendor abroad, is not
"19" = "1576"             # deductible: its VAT stays in the expense (without this table: [accounts] input_tax)

[tax_codes]               # VAT rate -> the target's tax code ("*": any other rate)
"20" = "20% (VAT on Expenses)"
[tax_codes.abroad]        # ... for a vendor abroad
"*" = "No VAT"

[exchange_rates]          # units of a foreign currency per one unit of the home currency (DATEV's Kurs)
GBP = "0.8450"
```
This module parses those sections; `accounts.py` keeps the rest of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.settings import setting_text
from ledgerlens.pipeline.money import to_decimal

SECTIONS = {"chart", "input_tax", "exchange_rates"}  # [tax_codes] too, read by `tax_codes`
_CHART_KEYS = {"name", "target", "country", "currency", "skr", "accounts"}
_SKRS = {"03", "04"}
ANY_RATE = "*"
STARTER_PACKAGE = "ledgerlens.pipeline.export"
STARTER_FOLDER = "starter_charts"


@dataclass(frozen=True)
class Chart:
    name: str = ""
    target: str = ""  # an export format's name, or "" (none named)
    country: str = ""  # ISO 3166 alpha-2; "" = unknown: every vendor is at home
    currency: str = ""
    skr: str = ""
    accounts: dict[str, str] = field(default_factory=dict)  # the chart's own accounts: number -> name
    input_tax: dict[str, str] = field(default_factory=dict)  # rate -> account
    tax_codes_abroad: dict[str, str] = field(default_factory=dict)
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)
    declared: frozenset[str] = frozenset()  # every account named anywhere in accounts.toml

    def knows(self, account: str) -> bool:
        """Whether `account` exists: in the chart, or named by the user in accounts.toml."""
        return account in self.accounts or account in self.declared


def _rates(where: str, table: Any, rate_key: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of VAT rate = value")
    return {(k if k == ANY_RATE else rate_key(k)): setting_text(f"{where} {k}", v) for k, v in table.items()}


def tax_codes(raw: Any, rate_key: Any) -> tuple[dict[str, str], dict[str, str]]:
    """`[tax_codes]` as (home, abroad): rate -> code, "*" for any rate."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise ConfigError("[tax_codes] must be a table")
    home = {k: v for k, v in raw.items() if k != "abroad"}
    return _rates("[tax_codes]", home, rate_key), _rates("[tax_codes.abroad]", raw.get("abroad", {}), rate_key)


def parse_chart(raw: dict[str, Any], rate_key: Any, declared: set[str]) -> Chart:
    """The chart sections of a parsed accounts.toml (`raw`); `declared`: the accounts named elsewhere."""
    table = raw.get("chart", {})
    if not isinstance(table, dict):
        raise ConfigError("[chart] must be a table")
    unknown = sorted(set(table) - _CHART_KEYS)
    if unknown:
        raise ConfigError(f"[chart]: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_CHART_KEYS))})")
    texts = {
        k: setting_text(f"[chart] {k}", table[k])
        for k in ("name", "target", "country", "currency", "skr")
        if k in table
    }
    if "skr" in texts and texts["skr"] not in _SKRS:
        raise ConfigError(f"[chart] skr must be one of {', '.join(sorted(_SKRS))}, got {texts['skr']!r}")
    if "country" in texts and not re.fullmatch(r"[A-Z]{2}", texts["country"]):
        raise ConfigError(f"[chart] country must be a two-letter ISO code, got {texts['country']!r}")
    accounts = table.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ConfigError("[chart.accounts] must be a table of number = name")
    input_tax = _rates("[input_tax]", raw.get("input_tax", {}), rate_key)
    _, abroad = tax_codes(raw.get("tax_codes"), rate_key)
    return Chart(
        **texts,
        accounts={str(k): setting_text(f"[chart.accounts] {k}", v) for k, v in accounts.items()},
        input_tax=input_tax,
        tax_codes_abroad=abroad,
        exchange_rates=_exchange_rates(raw.get("exchange_rates", {})),
        declared=frozenset(declared | set(input_tax.values())),
    )


def _exchange_rates(table: Any) -> dict[str, Decimal]:
    if not isinstance(table, dict):
        raise ConfigError("[exchange_rates] must be a table of CURRENCY = rate")
    out = {}
    for code, value in table.items():
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ConfigError(f"[exchange_rates] {code!r} is not an ISO 4217 currency code")
        rate = to_decimal(value) if isinstance(value, str | int) else None
        if rate is None or not rate > 0:
            raise ConfigError(f"[exchange_rates] {code} must be a positive number (as text), got {value!r}")
        out[code] = rate
    return out


def vendor_country(data: dict[str, Any]) -> str | None:
    """The vendor's country from its VAT id prefix (EL is Greece's), when there is one."""
    vat = str(data.get("vendor_vat_id") or "").replace(" ", "").upper()
    if re.match(r"[A-Z]{2}[0-9A-Z]", vat):
        return "GR" if vat[:2] == "EL" else vat[:2]
    return None


def is_abroad(chart: Chart, data: dict[str, Any]) -> bool:
    """A vendor is abroad when its VAT id names another country than the chart's; without a VAT id,
    when the document's currency is not the chart's. Without a chart country, nobody is abroad."""
    if not chart.country:
        return False
    country = vendor_country(data)
    if country is not None:
        return country != chart.country
    currency = str(data.get("currency") or "")
    return bool(chart.currency and currency and currency != chart.currency)


# --- starter charts ------------------------------------------------------------------------------


def starter_names() -> list[str]:
    folder = resources.files(STARTER_PACKAGE) / STARTER_FOLDER
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def starter_text(name: str) -> str:
    """The accounts.toml text of starter chart `name`."""
    if name not in starter_names():
        raise ConfigError(f"unknown chart {name!r}; known: {', '.join(starter_names())}")
    return (resources.files(STARTER_PACKAGE) / STARTER_FOLDER / f"{name}.toml").read_text(encoding="utf-8")
