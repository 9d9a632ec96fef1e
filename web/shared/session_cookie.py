"""Flask's signed session cookie, read and written at a smaller cost per request: the same
cookie (same JSON, same salt, same HMAC-SHA1 signature, the same fallback keys), so a
cookie signed before a deploy still opens after it, and the other way round.

Profiled on the deadline rush (bench/rush_profile.py), Flask's own interface spent about
an eighth of a volet's save on the cookie: it builds its itsdangerous serializer twice per
request (each construction serialises an empty dict to test the serializer), derives the
signing key through Python's pure-Python HMAC (Flask's `_lazy_sha1` is not a function
`hmac` recognises, so OpenSSL's is not used), and tags every value of the session through
its generic, class-by-class tagger. Here the serializer is built once per key set, SHA-1 is
hashlib's own, and a session of plain values (what this app stores: the sign-in's id, the
CSRF token, flash messages) is tagged by a direct walk; anything else (bytes, Markup, dates,
UUIDs, nested dicts) goes through Flask's tagger as before."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_PLAIN = frozenset({str, int, float, bool, type(None)})


class _NotPlain(Exception):
    pass


def _tagged(value: Any) -> Any:
    """What TaggedJSONSerializer.tag returns for plain values, lists and tuples."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [_tagged(item) for item in value]
    if kind is tuple:
        return {" t": [_tagged(item) for item in value]}
    raise _NotPlain


class SessionSerializer(TaggedJSONSerializer):
    """Flask's tagged JSON, written by a direct walk when every value is plain. Its output is
    Flask's byte for byte: the tags of tuples, and the provider's defaults (sorted keys,
    ASCII only, compact separators)."""

    def dumps(self, value: Any) -> str:
        if type(value) is dict and not (len(value) == 1 and next(iter(value)) in self.tags):
            try:
                tagged = {key: _tagged(item) for key, item in value.items()}
            except _NotPlain:
                pass
            else:
                if all(type(key) is str for key in tagged):
                    return json.dumps(
                        tagged, separators=(",", ":"), ensure_ascii=True, sort_keys=True
                    )
        return super().dumps(value)


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions with the serializer kept between requests."""

    serializer = SessionSerializer()
    # The same HMAC-SHA1 as Flask's `_lazy_sha1`, computed by OpenSSL.
    digest_method = staticmethod(hashlib.sha1)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        cached = app.extensions.get("session_serializer")
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            app.extensions["session_serializer"] = cached
        return cached[1]
