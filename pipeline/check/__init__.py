"""Stage `check`: engine output held to its schema and to the checks an accountant would do.

`parse` brings engine output to canonical form, `validate` runs the schema and the business
checks (arithmetic, dates, IBAN, tax ids), `grounding` looks values up on the page words,
`einvoice` reads embedded e-invoice XML and compares the page with it.
"""
