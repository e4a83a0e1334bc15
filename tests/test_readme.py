"""The README's mounting snippets run as written (with the environment they name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import SECRET

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Mounting it", 1)[1].split("\n## ", 1)[0]
SNIPPETS = re.findall(r"```python\n(.*?)```", SECTION, re.S)


def test_the_section_has_the_starlette_fastapi_and_uvicorn_snippets() -> None:
    assert len(SNIPPETS) == 3


@pytest.mark.parametrize("source", SNIPPETS[:2], ids=["starlette", "fastapi"])
def test_mounting_snippet_serves_and_logs(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    monkeypatch.setenv("BEACONGUARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("BEACONGUARD_STORE", "memory://")
    monkeypatch.setenv("BEACONGUARD_ACCESS_LOG", str(tmp_path / "var" / "access.log"))
    namespace: dict[str, object] = {}
    exec(compile(source, "README.md", "exec"), namespace)
    with TestClient(namespace["app"]) as client:  # type: ignore[arg-type]
        client.get("/products/7")
    assert (tmp_path / "var" / "access.log").read_text().count("\n") == 1


def test_uvicorn_snippet_attaches_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from beaconguard import AnonymizingAccessFilter

    logger = logging.getLogger("uvicorn.access")
    before = list(logger.filters)
    try:
        exec(compile(SNIPPETS[2], "README.md", "exec"), {})
        assert any(isinstance(f, AnonymizingAccessFilter) for f in logger.filters)
    finally:
        logger.filters[:] = before
