"""Which shared model resource a configuration's extract stage uses, and how many requests it takes.

The flows gate the extract stage with a Prefect global concurrency limit of this name and size,
so that however many workers (processes, Dask workers, machines) run documents, a model server
never gets more requests than its `concurrency`, and a local GPU one generation at a time.
Pure data: Prefect is the flows' business.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines.openai.options import ServerOptions

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class ModelGate:
    name: str  # the Prefect global concurrency limit
    limit: int  # slots: requests (or generations) at once, across every worker that shares the name


def model_gate(config: Config) -> ModelGate | None:
    """The gate of the configured engine: a model server, a local GPU, or none (ocr, CPU models)."""
    engine = config.engine
    if engine.name == "openai":
        options = ServerOptions.parse(engine.options)
        parts = urlsplit(options.base_url)
        return ModelGate(_name(f"model-server {parts.hostname}:{parts.port or 80}"), options.concurrency)
    if engine.name == "transformers":
        device = str(engine.options.get("device", "auto"))
        on_gpu = device.startswith("cuda") or (device == "auto" and NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir()))
        if on_gpu:
            index = device.partition(":")[2] or "0"
            return ModelGate(_name(f"gpu {socket.gethostname()} {index}"), 1)
    return None


def _name(text: str) -> str:
    """`ledgerlens-model-server-127-0-0-1-8000`: a name Prefect's API and CLI take as is."""
    return "ledgerlens-" + re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
