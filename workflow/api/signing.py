"""The webhook signature: `X-PostesPartages-Signature: t=<unix seconds>,v1=<hex>` where the hex
is HMAC-SHA256, keyed with the webhook's secret, of `<t>.<body>` (the timestamp, a dot, then
the exact bytes of the body). A receiver recomputes it, compares in constant time, and refuses
a timestamp older than the replay window (5 minutes), so a captured delivery cannot be played
again later; `X-PostesPartages-Delivery` is the delivery id, the same on every retry, to handle
an event once."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-PostesPartages-Signature"
DELIVERY_HEADER = "X-PostesPartages-Delivery"
EVENT_HEADER = "X-PostesPartages-Event"
REPLAY_WINDOW_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: int, window: int = REPLAY_WINDOW_SECONDS
) -> bool:
    """What a receiver does: whether `header` signs `body` with `secret` and its timestamp
    is within `window` seconds of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > window:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
