"""The chain: one document through read -> extract -> check, written once (`run.py`).

How each stage is called is the caller's choice (a `Runner`): directly in tests and `eval`, as
Prefect tasks in `flows/`. Storing the result and moving the file are `intake/`'s business.
"""

from ledgerlens.pipeline.chain.results import failed_result, provenance, unknown_result
from ledgerlens.pipeline.chain.routes import ROUTE_STAGE, Route, input_kind
from ledgerlens.pipeline.chain.run import Context, Runner, direct, process_file

__all__ = [
    "ROUTE_STAGE",
    "Context",
    "Route",
    "Runner",
    "direct",
    "failed_result",
    "input_kind",
    "process_file",
    "provenance",
    "unknown_result",
]
