"""What ``newsarchive sources`` shows: each source with its last and next run."""

from __future__ import annotations

from datetime import datetime, timezone

from archive.runs import RunRecord, iter_runs
from archive.store import StoreError, open_store
from crawler.config import Config

# Enough runs back to find every source's last one without reading years of history.
MAX_RUNS_SCANNED = 500


def last_runs(config: Config, archive_url: str | None = None) -> dict[str, RunRecord]:
    store = open_store(archive_url or config.archive.url, endpoint_url=config.archive.endpoint_url)
    wanted = {source.id for source in config.sources}
    found: dict[str, RunRecord] = {}
    try:
        for index, run in enumerate(iter_runs(store)):
            for source in set(run.sources) & wanted - set(found):
                found[source] = run
            if len(found) == len(wanted) or index >= MAX_RUNS_SCANNED:
                break
    except StoreError:
        pass  # an archive not created yet has no runs
    return found


def next_run(schedule, last_started: datetime | None, now: datetime) -> datetime:
    if schedule.interval is not None:
        return max(now, last_started + schedule.interval) if last_started else now
    return schedule.trigger().get_next_fire_time(None, now)


def source_status(config: Config, archive_url: str | None = None) -> list[tuple[str, ...]]:
    now = datetime.now(timezone.utc)
    runs = last_runs(config, archive_url)
    rows = []
    for source in config.sources:
        run = runs.get(source.id)
        started = datetime.fromisoformat(run.started) if run else None
        if run:
            counts = run.per_source.get(source.id, {})
            result = f"{run.status}: {counts.get('archived', 0)} new, {counts.get('updated', 0)} updated, {counts.get('failed', 0)} failed"
            if source.id in run.blocked:
                result += f" (blocked: {run.blocked[source.id]})"
        else:
            result = "never ran"
        upcoming = next_run(source.parsed_schedule, started, now)
        rows.append(
            (
                source.id,
                source.kind,
                source.schedule,
                f"{started:%Y-%m-%d %H:%M}Z" if started else "-",
                result,
                f"{upcoming.astimezone(timezone.utc):%Y-%m-%d %H:%M}Z",
                ", ".join(source.start_urls),
            )
        )
    return rows
