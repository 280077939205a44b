"""Docker's formatting of image listings: sizes, ages, tables, --format templates (pure)."""

from datetime import datetime, timezone

import pytest

from rootless.cli.commands import imagefmt as f


def test_since():
    now = datetime(2024, 1, 1, 0, 2, 0, tzinfo=timezone.utc)
    assert f.since("2024-01-01T00:00:30.123456789Z", now) == "About a minute ago"
    assert f.since("2023-12-31T23:00:00+00:00", now) == "About an hour ago"
    assert f.since(None, now) == "N/A" and f.since("garbage", now) == "N/A"


ROWS = [{"Repository": "busybox", "Tag": "latest", "ID": "abc"}, {"Repository": "a/b", "Tag": "1", "ID": "def"}]


@pytest.mark.parametrize("template, expected", [
    ("{{.Repository}}:{{.Tag}}", "busybox:latest\na/b:1\n"),
    ("{{ .ID }}", "abc\ndef\n"),
    ("{{json .Tag}}", '"latest"\n"1"\n'),
    ("table {{.Repository}}\\t{{.ID}}", "REPOSITORY   IMAGE ID\nbusybox      abc\na/b          def\n"),
])
def test_render(template, expected):
    assert f.render(template, ROWS, {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID"}) == expected
