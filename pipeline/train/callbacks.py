"""What a person sees and can do while an adapter trains: progress with loss and ETA, and Ctrl-C.

Trainer callbacks without importing transformers here: the Trainer calls each event by name
(`on_log`, `on_step_end`, ...) on every callback, so a class with the events it needs (and a no-op
for the rest, `Hooks`) is one.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Say = Callable[[str], None]
QUIET_SECONDS = 10.0  # a long run prints a progress line at most this often (every step when short)
SHORT_RUN = 50  # steps


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


class Hooks:
    """A Trainer callback: events not defined by a subclass do nothing."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return _nothing
        raise AttributeError(name)


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress(Hooks):
    """One line per logged step (throttled on long runs): step, epoch, loss, time per step, ETA."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self.started = 0.0
        self.first_step = 0
        self.last_print = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = self.last_print = time.monotonic()
        self.first_step = state.global_step  # a resumed run counts its own steps for the ETA
        if state.global_step:
            self.say(f"resuming at step {state.global_step}/{state.max_steps}")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs:
            return
        now = time.monotonic()
        last = state.global_step >= state.max_steps
        if state.max_steps > SHORT_RUN and now - self.last_print < QUIET_SECONDS and not last:
            return
        self.last_print = now
        done = max(1, state.global_step - self.first_step)
        per_step = (now - self.started) / done
        eta = per_step * (state.max_steps - state.global_step)
        self.say(
            f"step {state.global_step}/{state.max_steps}  epoch {state.epoch or 0:.2f}  loss {logs['loss']:.4f}  "
            f"{per_step:.2f} s/step  ETA {duration(eta)}"
        )


class StopOnCtrlC(Hooks):
    """Ctrl-C finishes the step under way, saves a checkpoint and stops (`--resume` goes on from
    it); a second Ctrl-C stops at once."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[StopOnCtrlC]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only
            return
        previous = signal.signal(signal.SIGINT, self._interrupt)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.say("Ctrl-C: saving a checkpoint after this step, then stopping (Ctrl-C again to stop at once)")

    def _stop(self, control: Any) -> None:
        if self.requested:
            control.should_save = True
            control.should_training_stop = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._stop(control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._stop(control)
