import logging

from beaconguard.accesslog.uvicorn import AnonymizingAccessFilter
from beaconguard.settings import Settings


def make_record(args: tuple) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )


def test_uvicorn_access_record_is_anonymized() -> None:
    f = AnonymizingAccessFilter(Settings())
    record = make_record(
        ("203.0.113.77:51234", "GET", "/u/alice%40example.com/8812?token=abc123&utm_source=x",
         "1.1", 200)
    )
    assert f.filter(record)
    message = record.getMessage()
    assert message == '203.0.113.0 - "GET /u/{email}/{int}?utm_source=x HTTP/1.1" 200'


def test_ipv6_client_and_unknown_shapes() -> None:
    f = AnonymizingAccessFilter(Settings())
    record = make_record(("[2001:db8:1:2::5]:443", "GET", "/", "2", 404))
    f.filter(record)
    assert record.getMessage().startswith("2001:db8:1:: - ")
    odd = make_record(("203.0.113.77", "GET"))
    f.filter(odd)
    assert "203.0.113.77" not in odd.getMessage()
