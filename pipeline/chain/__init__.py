"""The chain: one document through read -> extract -> check, written once (`run.py`).

How each stage is called is the caller's choice (a `Runner`): directly in tests and `eval`, as
Prefect tasks in `flows/`. Storing the result and moving the file are `intake/`'s business.
"""

from ledgerlens.pipeline.chain.results import failed_result, provenance, unknown_result
from ledgerlens.pipeline.chain.run import Context, Runner, direct, process_file

__all__ = ["Context", "Runner", "direct", "failed_result", "process_file", "provenance", "unknown_result"]
