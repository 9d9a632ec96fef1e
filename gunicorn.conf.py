"""Gunicorn's settings for production: `gunicorn -c gunicorn.conf.py "web:create_app()"`
(Gunicorn also reads this file by itself when started from this folder).

Gunicorn writes `Server: gunicorn` on every response and has no setting to leave it out
(benoitc/gunicorn#825): its response class is replaced here, in the master before the workers
fork, by one that writes every default header but that one.
"""

from gunicorn.http import wsgi

bind = "0.0.0.0:8000"
workers = 4


class ResponseWithoutServer(wsgi.Response):
    def default_headers(self) -> list[str]:
        return [
            line for line in super().default_headers() if not line.lower().startswith("server:")
        ]


wsgi.Response = ResponseWithoutServer  # type: ignore[misc]
