"""Stage `check`: engine output held to its schema and to the checks an accountant would do.

`parse` brings engine output to canonical form, `validate` runs the schema and the business
checks (arithmetic, dates, IBAN, tax ids), `grounding` looks values up on the page words,
`einvoice` reads e-invoice XML (files of their own, or embedded in a PDF and compared with the
page) and checks it against the XSD and the EN 16931 rules.
"""
