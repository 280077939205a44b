"""`--change` instructions (rl import) applied to an image config, table-driven."""

from __future__ import annotations

import pytest

from rootless.engine.image.changes import apply_changes
from rootless.errors import UsageError

CASES = [
    (['CMD ["nginx", "-g", "daemon off;"]'], {"Cmd": ["nginx", "-g", "daemon off;"]}),
    (["CMD echo hi"], {"Cmd": ["/bin/sh", "-c", "echo hi"]}),
    (["cmd [not json"], {"Cmd": ["/bin/sh", "-c", "[not json"]}),
    (['ENTRYPOINT ["/init"]'], {"Entrypoint": ["/init"]}),
    (["ENV A=1", "ENV B 2 3", "ENV A=4"], {"Env": ["B=2 3", "A=4"]}),
    (['ENV X="a b" Y=c'], {"Env": ["X=a b", "Y=c"]}),
    (["EXPOSE 80", "EXPOSE 53/udp 8000-8001"], {"ExposedPorts": {"80/tcp": {}, "53/udp": {}, "8000/tcp": {},
                                                                 "8001/tcp": {}}}),
    (['LABEL version="1.0" maintainer=me'], {"Labels": {"version": "1.0", "maintainer": "me"}}),
    (["USER nobody"], {"User": "nobody"}),
    (["WORKDIR /a", "WORKDIR b/../c"], {"WorkingDir": "/a/c"}),
    (["VOLUME /data /logs"], {"Volumes": {"/data": {}, "/logs": {}}}),
    (['VOLUME ["/x"]'], {"Volumes": {"/x": {}}}),
    (["ONBUILD RUN make"], {"OnBuild": ["RUN make"]}),
]


@pytest.mark.parametrize("changes,expected", CASES)
def test_changes(changes: list[str], expected: dict) -> None:
    assert apply_changes({}, changes) == expected


def test_changes_do_not_touch_the_input() -> None:
    base = {"Env": ["A=1"]}
    assert apply_changes(base, ["ENV B=2"]) == {"Env": ["A=1", "B=2"]}
    assert base == {"Env": ["A=1"]}


@pytest.mark.parametrize("bad,message", [
    ("RUN make", '"RUN" is not a valid change command'),
    ("FROM x", '"FROM" is not a valid change command'),
    ("EXPOSE http", "invalid containerPort: http"),
    ("LABEL novalue", "expected KEY=VALUE"),
    ("ENV", "requires at least one argument"),
    ('ENV A="unclosed', "No closing quotation"),
])
def test_bad_changes(bad: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        apply_changes({}, [bad])
