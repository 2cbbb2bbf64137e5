"""What the archivists' commands say when the archive fails them: one line, exit 1.

Damaged records and stores that cannot be read (unreachable, refusing,
missing) are reported by name, never as a Python traceback.
"""

from __future__ import annotations

import pytest

from archive.keys import article_key
from tests.archive_helpers import made_record, small_archive
from tests.conftest import run_cli


def assert_one_error_line(result, *named: str) -> str:
    """Exit 1, nothing on stdout, one line on stderr naming what failed; returns that line."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", [b'{"title": "\xff\xfe not UTF-8"}', "{\"title\": \"被截断".encode("utf-8")])
@pytest.mark.parametrize("as_json", [True, False])
def test_show_names_a_damaged_record_with_json_as_without(tmp_path, damage, as_json):
    record = made_record(1, "正文")
    store = small_archive(tmp_path / "archive", [record])
    key = article_key(record["id"])
    store.put(key, damage)
    result = run_cli("show", *(["--json"] if as_json else []), record["id"], "--archive", store.url, timeout=60)
    assert not result.stdout
    assert "damaged" in assert_one_error_line(result, key)
