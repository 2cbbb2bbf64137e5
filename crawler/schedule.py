"""Schedules as the config writes them: a cron line, or ``every 15m``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

EVERY_RE = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$", re.I)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Shorter intervals hammer the sites we archive; the daemon is not a monitor.
MIN_INTERVAL = timedelta(minutes=1)


# Fire times whose slot an interval trigger remembers: the scheduler asks about the last one or two.
RECENT_FIRE_TIMES = 8


class BadSchedule(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    text: str
    cron: str | None = None  # five cron fields
    interval: timedelta | None = None

    @property
    def nominal_interval(self) -> timedelta:
        """How often it fires, near enough to judge whether a last run is stale."""
        if self.interval is not None:
            return self.interval
        from datetime import timezone

        trigger = self.trigger()
        first = trigger.get_next_fire_time(None, datetime(2024, 1, 1, tzinfo=timezone.utc))
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
        return second - first

    def trigger(self, timezone_name: str = "UTC", jitter: int | None = None):
        """The APScheduler 3 trigger for this schedule."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron, timezone=timezone_name)

        class SlotIntervalTrigger(IntervalTrigger):
            """Each run jittered around its own slot: the last slot + interval.

            APScheduler 3 counts the next interval from the last fire time,
            jitter included, so every run's jitter pushed all later ones back:
            with 30 s of jitter, "every 1m" ran every 75 s on average. The
            slot of each fire time given is remembered (the scheduler asks
            twice per run, about the same fire time); a fire time set from
            outside (the first run, a backoff) is a slot itself.
            """

            def __init__(self, *, spread: int | None, **kwargs) -> None:
                super().__init__(**kwargs)
                self.spread = spread  # seconds of jitter, added here rather than by APScheduler
                self._slots: dict[datetime, datetime] = {}  # fire time given -> its slot, the last few

            def get_next_fire_time(self, previous_fire_time, now):
                slot = super().get_next_fire_time(self._slots.get(previous_fire_time, previous_fire_time), now)
                fire = self._apply_jitter(slot, self.spread, now)
                if fire is not None:
                    self._slots[fire] = slot
                    while len(self._slots) > RECENT_FIRE_TIMES:
                        del self._slots[next(iter(self._slots))]
                return fire

        return SlotIntervalTrigger(seconds=int(self.interval.total_seconds()), spread=jitter, timezone=timezone_name)


def parse_schedule(text: str) -> Schedule:
    text = " ".join(str(text).split())
    if match := EVERY_RE.match(text):
        interval = timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2).lower()])
        if interval < MIN_INTERVAL:
            raise BadSchedule(f"{text!r}: the shortest interval is {MIN_INTERVAL}")
        return Schedule(text=text, interval=interval)
    if len(text.split(" ")) != 5:
        raise BadSchedule(f"{text!r} is neither a five-field cron line nor 'every N[smhd]'")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone="UTC")
    except ValueError as exc:
        raise BadSchedule(f"{text!r}: {exc}") from exc
    return Schedule(text=text, cron=text)
