"""Documents through the stage chain in worker processes, one pipeline context per worker.

For batch commands that need no Prefect (eval, bench). Each worker builds its context once
(configuration, schemas, engine — a model is loaded once per process) and Tesseract inside it
runs single-threaded, so N workers use N cores without fighting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ledgerlens.pipeline.chain import Context, Runner, direct, process_file
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import default_workers
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.measure.readcache import ReadCache
from ledgerlens.pipeline.types import DocumentResult

_ctx: Context | None = None
_runner: Runner = direct
_init_error: str | None = None


def _init_worker(config: Config, read_cache: Path | None = None) -> None:
    global _ctx, _init_error, _runner
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if read_cache is not None:
        _runner = ReadCache(read_cache, config.pipeline).runner()
    try:
        _ctx = Context.create(config)
        _ctx.load_engines()  # every route's model loaded before the first document is timed
    except ConfigError as e:  # reported by the first document instead of breaking the pool
        _init_error = str(e)


def _ready() -> int:
    time.sleep(0.05)  # long enough that every worker, not one fast worker, answers a share
    return os.getpid()


def _process(path: Path) -> tuple[DocumentResult, float]:
    if _ctx is None:
        raise ConfigError(_init_error or "the worker did not start")
    start = time.perf_counter()
    result = process_file(path, _ctx, source_name=path.name, runner=_runner)
    return result, time.perf_counter() - start


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class WorkerPool:
    """A warmed-up pool: workers have built their contexts before the first document is timed."""

    def __init__(self, config: Config, workers: int | None = None, *, read_cache: Path | None = None) -> None:
        """`read_cache`: a folder where the read stages' output is kept and reused (eval only)."""
        self.workers = max(1, workers or default_workers(config))
        self._pool = ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=(config, read_cache))
        started: set[int] = set()
        while len(started) < self.workers:  # a worker answers only once its context is built
            started |= {f.result() for f in [self._pool.submit(_ready) for _ in range(2 * self.workers)]}

    def map(self, paths: list[Path]) -> Iterator[tuple[Path, DocumentResult, float]]:
        """Results in the order of `paths`. The biggest files are handed out first, so that a
        long document does not start last and keep one worker busy while the others idle."""
        order = sorted(range(len(paths)), key=lambda i: -_size(paths[i]))
        futures = {i: self._pool.submit(_process, paths[i]) for i in order}
        for i, path in enumerate(paths):
            result, seconds = futures[i].result()
            yield path, result, seconds

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
