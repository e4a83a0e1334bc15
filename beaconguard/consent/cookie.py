"""The signed consent cookie: the visitor's explicit choice, kept by the browser.

It is signed with itsdangerous using the ``secret_key`` list (the newest key signs, every
key verifies, so rotating keys keeps earlier choices valid). Whatever cannot be trusted
(a bad signature, an expired or truncated value, an oversized one, a payload of the wrong
shape, a choice made under an older policy revision) reads as *no decision*: the banner
asks again. Reading never raises.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from itsdangerous import BadData, URLSafeTimedSerializer

from beaconguard.consent.categories import OPTIONAL
from beaconguard.consent.state import ConsentState
from beaconguard.settings import Settings

#: Longer values are refused before any parsing: a real one is about 150 characters.
MAX_COOKIE_LEN = 512
_SALT = "beaconguard.consent"
_VERIFIED_CACHE = 1024


class ConsentCookie:
    """Encode and decode the consent cookie for one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.name = settings.consent_cookie
        self.revision = settings.policy_revision
        self.max_age = settings.consent_max_age_days * 86400
        self._serializer = URLSafeTimedSerializer(list(settings.require_secret()), salt=_SALT)
        # Verifying costs two HMACs per key; a visitor sends the same value on every
        # request, so remember recent answers (bounded; each with its own expiry).
        self._verified: dict[str, tuple[ConsentState, float]] = {}

    def dumps(
        self, decisions: Mapping[str, bool], consent_id: str | None = None
    ) -> tuple[str, ConsentState]:
        """Sign ``decisions`` now; returns the cookie value and the state it stands for."""
        now = int(time.time())
        cid = consent_id or new_consent_id()
        payload = {
            "d": {name: int(bool(decisions.get(name, False))) for name in OPTIONAL},
            "r": self.revision,
            "t": now,
            "s": "explicit",
            "i": cid,
        }
        value = self._serializer.dumps(payload)
        return value, ConsentState(payload["d"], "explicit", self.revision, now, cid)  # type: ignore[arg-type]

    def loads(self, value: str | None) -> ConsentState | None:
        """The explicit state a cookie value carries, or ``None`` for no valid decision."""
        if not value or len(value) > MAX_COOKIE_LEN:
            return None
        hit = self._verified.get(value)
        if hit is not None:
            if hit[1] > time.time():
                return hit[0]
            del self._verified[value]
            return None
        state = self._verify(value)
        if state is not None and state.decided_at is not None:
            if len(self._verified) >= _VERIFIED_CACHE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[value] = (state, state.decided_at + self.max_age)
        return state

    def _verify(self, value: str) -> ConsentState | None:
        try:
            payload = self._serializer.loads(value, max_age=self.max_age)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        if not isinstance(payload, dict) or payload.get("r") != self.revision:
            return None
        decisions = payload.get("d")
        stamp = payload.get("t")
        cid = payload.get("i")
        if (
            not isinstance(decisions, dict)
            or set(decisions) != set(OPTIONAL)
            or not all(v in (0, 1) and not isinstance(v, float) for v in decisions.values())
            or not isinstance(stamp, int)
            or isinstance(stamp, bool)
            or not (isinstance(cid, str) and 0 < len(cid) <= 64)
        ):
            return None
        return ConsentState(
            {k: bool(v) for k, v in decisions.items()}, "explicit", self.revision, stamp, cid
        )


def new_consent_id() -> str:
    """A random id for one visitor's chain of decisions (receipts refer to it)."""
    return secrets.token_urlsafe(12)
