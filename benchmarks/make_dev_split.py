#!/usr/bin/env python3
"""Split the development benchmark ONCE into a *tune* part and a *check* part, by file hash.

    python benchmarks/make_dev_split.py ../shared/benchmarks/dev > benchmarks/dev_split.json

Rule (fixed, never changed): the sha256 of the file the pipeline reads (the `input` of a
manifest line, else its `document`); first hex digit 0-7 -> tune, 8-f -> check. Finder changes
are made by looking at failures in *tune* only; *check* is reported beside it and never opened.
The split is committed (benchmarks/dev_split.json) and `ledgerlens eval --split` reads it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

RULE = "sha256 of the pipeline input file; first hex digit 0-7 -> tune, 8-f -> check"


def part_of(sha256: str) -> str:
    return "tune" if sha256[0] in "01234567" else "check"


def split(root: Path) -> dict[str, object]:
    documents: dict[str, str] = {}
    names: dict[str, str] = {}
    for manifest in sorted(root.glob("*/manifest.jsonl")):
        folder = manifest.parent
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            path = folder / entry.get("input", entry["document"])
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            documents[sha] = part_of(sha)
            names[sha] = f"{folder.name}/{entry['document']}"
    ordered = dict(sorted(documents.items(), key=lambda kv: names[kv[0]]))
    counts = {p: sum(1 for v in documents.values() if v == p) for p in ("tune", "check")}
    return {"schema": "ledgerlens-dev-split/1", "rule": RULE, "counts": counts, "split": ordered}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(split(Path(argv[0])), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
