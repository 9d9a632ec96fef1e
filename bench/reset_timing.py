"""How long « Mot de passe oublié » takes for an address that has an account and for one that
has none; prints figures, asserts nothing. The answer must not tell them apart by its time.

    python bench/reset_timing.py [--requests 400]

Requests go through the Flask app (test client, throttling off), known and unknown
interleaved so that machine noise falls on both alike. PostgreSQL is measured when
BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import migrated_databases  # noqa: E402

from web import create_app  # noqa: E402
from workflow.models import Organisation, User  # noqa: E402
from workflow.plumbing.db import transaction  # noqa: E402

KNOWN = "bam@ch-bench.example.fr"


def measure(url: str, requests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as uploads:
        app = create_app(
            {
                "DATABASE_URL": url,
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "SECRET_KEY": "bench",
                "UPLOAD_DIR": uploads,
                "SMTP_URL": None,
            }
        )
        with app.extensions["db_sessions"]() as session, transaction(session):
            organisation = Organisation(type="candidat", name="Bench")
            session.add(organisation)
            session.flush()
            session.add(
                User(
                    email=KNOWN,
                    password_hash="!unused",
                    role="deposant",
                    organisation_id=organisation.id,
                    active=True,
                )
            )
        client = app.test_client()
        samples: dict[str, list[float]] = {"known": [], "unknown": []}
        for index in range(requests):
            for kind in ("known", "unknown") if index % 2 else ("unknown", "known"):
                email = KNOWN if kind == "known" else f"personne{index}@example.fr"
                start = time.perf_counter()
                response = client.post("/compte/mot-de-passe-oublie", data={"email": email})
                samples[kind].append(time.perf_counter() - start)
                assert response.status_code == 200
        app.extensions["db_sessions"].kw["bind"].dispose()
        return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    for name, url in migrated_databases():
        samples = measure(url, args.requests)
        known, unknown = (statistics.median(samples[k]) * 1000 for k in ("known", "unknown"))
        print(
            f"{name}: median known {known:.2f} ms, unknown {unknown:.2f} ms, "
            f"difference {known - unknown:+.2f} ms ({args.requests} requests each)"
        )


if __name__ == "__main__":
    main()
