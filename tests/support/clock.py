"""A clock the test moves, for the rate limits (vpos.ratelimit)."""

from __future__ import annotations

TEN_MINUTES = 600.0 * 2_900_000  # the start of a 10-minute window (and so of a 1-minute one)


class Clock:
    """What vpos.ratelimit reads as the time: `monkeypatch.setattr(ratelimit, "time", clock)`
    for the shared counts, `LocalCounts(clock)` for a process's own."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    __call__ = time


class SteppingClock(Clock):
    """A clock that moves on at every reading, as a real one does between two reads."""

    def __init__(self, now: float, step: float) -> None:
        super().__init__(now)
        self.step = step

    def time(self) -> float:
        self.now += self.step
        return self.now - self.step

    __call__ = time
