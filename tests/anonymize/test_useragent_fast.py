"""The fast UA route (ua-parser-rs) gives exactly the pure-Python parser's classification.

The reference is ``parse_legacy``: ``user_agents.parse`` then the same reduction, which is
what ``parse`` was before the fast route existed. The corpus is every real user agent at
hand: the crawler list's example strings, the benchmark log's user agents, and the
browser strings in the tests and benchmarks.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from beaconguard.anonymize import useragent
from beaconguard.anonymize.useragent import parse, parse_legacy
from benchmarks.logs import user_agents as benchmark_user_agents

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("fixtures") / "crawler-instances.txt"

# A crawler that names itself 212 characters in: uap-core's generic crawler pattern,
# ^.{0,200}?(...[Cc][Rr][Aa][Ww][Ll]...), does not reach it, but the Rust engine widens
# .{0,200} to .* and would call the browser "crawling".
READ_ALOUD = (
    "Mozilla/5.0 (Linux; Android 7.0; SM-G930V Build/NRD90M) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/59.0.3071.125 Mobile Safari/537.36 (compatible; Google-Read-Aloud; "
    "+https://developers.google.com/search/docs/crawling-indexing/overview-google-crawlers)"
)


def _corpus() -> list[str]:
    agents = [
        line for line in FIXTURE.read_text("utf-8").splitlines() if not line.startswith("#")
    ]
    for seed in range(3):
        agents += benchmark_user_agents(random.Random(seed))
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py"),
               *ROOT.glob("tests/offline/fixtures/*")]  # fmt: skip
    for path in sources:
        agents += re.findall(r"(Mozilla/[^\"\n]{10,400})", path.read_text("utf-8", "replace"))
    agents += [READ_ALOUD, "Mozilla/5.0 (Linux; Android 14; Pixel \uff18) Chrome/124.0 Mobile"]
    return list(dict.fromkeys(agents))


CORPUS = _corpus()


def test_corpus_is_large() -> None:
    assert len(CORPUS) > 3000


def test_same_classification_as_the_pure_python_parser() -> None:
    differ = [(ua, parse_legacy(ua), parse(ua)) for ua in CORPUS if parse(ua) != parse_legacy(ua)]
    assert differ == []


def test_fast_route_is_taken() -> None:
    engine = useragent._get_engine()
    if engine.extractors is None:
        pytest.skip("ua-parser-rs is not installed")
    taken = sum(engine._fast(ua) is not None for ua in CORPUS if ua.isascii())
    assert taken > 0.9 * len(CORPUS)


def test_widened_repetition_is_caught_and_the_later_patterns_tried() -> None:
    engine = useragent._get_engine()
    if engine.extractors is None:
        pytest.skip("ua-parser-rs is not installed")
    ua_extractor, ua_matchers = engine.extractors[0], engine.matchers[0]  # type: ignore[index]
    hit = ua_extractor.extract(READ_ALOUD)
    assert ua_matchers[int(hit.family)](READ_ALOUD) is None  # the Rust engine alone errs
    assert engine._fast(READ_ALOUD) is not None
    assert parse(READ_ALOUD).browser == "Chrome Mobile" == parse_legacy(READ_ALOUD).browser


def test_without_ua_parser_rs_every_string_takes_the_pure_python_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ua_parser_rs", None)  # import fails
    engine = useragent._Engine()
    assert engine.extractors is None
    for ua in CORPUS[::25]:
        assert useragent._parse_with(ua, engine) == parse_legacy(ua)


def test_nothing_heavy_is_imported_or_built_before_the_first_classification() -> None:
    code = (
        "import sys; import beaconguard.anonymize.useragent as u; "
        "heavy = [m for m in ('user_agents', 'ua_parser', 'ua_parser_rs') if m in sys.modules]; "
        "assert not heavy and u._engine is None, heavy; "
        "u.parse('Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'); "
        "assert u._engine is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_first_classifications_from_several_threads_agree() -> None:
    """The first use imports and builds the parsers; threads that arrive together (a
    threaded server's first requests) all get the real answer, never a cached "Other".
    In a child, so that this process's engine, already built, does not hide the race."""
    code = """
import threading
from beaconguard.anonymize import useragent as U
ua = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0 Safari/537.36")
out = {}
bar = threading.Barrier(4)
def go(i):
    bar.wait()
    out[i] = (U.parse_legacy if i % 2 else U.parse)(ua)
threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted({(r.browser, r.os, r.device) for r in out.values()}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('Chrome', 'Linux', 'desktop')]"
