"""What the browser end-to-end tests share: Debian's Chromium, real PDFs, and the real app
served on a free loopback port over a migrated SQLite database with the campaigns loaded.

Every page is watched: a Content-Security-Policy violation, a console error or warning, or an
uncaught script error fails the test (`assert_clean_console`, and again when the browser
closes), so that the policy never silently breaks a page.

Every page state is checked for accessibility: `check_accessibility` runs axe-core (npm
`axe-core`, injected by Playwright) with the WCAG 2.1 A and AA rules, fails on a serious or
critical violation and prints the others. The browser counts each page load, and when it
closes, a load that no check followed fails the test: a journey cannot skip a page."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from web import create_app
from web.shared.headers import QuietRequestHandler
from workflow.campaigns.store import store_directory
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.models import Dossier
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import ROOT, make_engine, make_session_factory, migrate, transaction
from workflow.plumbing.storage import Storage

CHROMIUM = Path("/usr/bin/chromium")
SECRET_KEY = "e2e-secret-key-long-enough-for-production"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium): .ci/run installs it "
    "with `apt-get install -y chromium`; this test never downloads a browser.",
)


def pdf_bytes(title: str) -> bytes:
    """A real one-page PDF, made here with pypdf."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@dataclass
class LiveApp:
    url: str
    sessions: sessionmaker[Session]
    smtp_url: str
    dossiers: dict[str, int] = field(default_factory=dict)  # candidate -> dossier id
    # The app's storage: decision letters attached to mails are archived there.
    uploads: Path | None = None

    def flush_outbox(self) -> None:
        """What the scheduler does in production: send the outbox over SMTP, signing the
        partners' links with the app's key."""
        send_pending(
            self.sessions,
            parse_smtp_url(self.smtp_url),
            mail_from="ne-pas-repondre@ars.example.fr",
            base_url=self.url,
            secret_key=SECRET_KEY,
            storage=Storage(self.uploads) if self.uploads else None,
        )

    def dossier(self, candidate: str) -> Dossier:
        with self.sessions() as session:
            found = session.get(Dossier, self.dossiers[candidate])
            assert found is not None
            session.expunge(found)
            return found


def database_with_campaigns(tmp_path: Path) -> tuple[str, Engine, sessionmaker[Session]]:
    """A migrated SQLite database holding every campaign of campaigns/ (demo copies open)."""
    database = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    migrate(database)
    engine = make_engine(database)
    sessions = make_session_factory(engine)
    with sessions() as session, transaction(session):
        store_directory(session, ROOT / "campaigns", paris_date(clock.now()))
    return database, engine, sessions


@contextmanager
def served(
    database: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    smtp_url: str,
    uploads: Path,
    dossiers: dict[str, int] | None = None,
    config: dict[str, Any] | None = None,
) -> Iterator[LiveApp]:
    """The real app, in a thread, until the block ends (`config` adds to its settings)."""
    app = create_app(
        {
            "DATABASE_URL": database,
            "SECRET_KEY": SECRET_KEY,
            "SMTP_URL": smtp_url,
            "UPLOAD_DIR": str(uploads),
            "RATELIMIT_STORAGE_URI": "memory://",
            **(config or {}),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveApp(base, sessions, smtp_url, dict(dossiers or {}), uploads)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["db_sessions"].kw["bind"].dispose()
        engine.dispose()


# Injected by Playwright before any script of the page (so not itself subject to the CSP):
# every violation the page's policy reports becomes a console error the watch collects.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("securitypolicyviolation: " + event.violatedDirective + " blocked " +
    (event.blockedURI || "inline") + " in " + event.sourceFile + ":" + event.lineNumber);
});
"""


@dataclass
class ConsoleWatch:
    """What the pages of one browser said that they should not have."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type not in ("error", "warning"):
                return
            # A page the app answers with its own 4xx (a refused action, a 404 the test asks
            # for) is the behaviour under test; a sub-resource failing to load is not.
            own_status = (
                message.text.startswith(
                    "Failed to load resource: the server responded with a status of 4"
                )
                and message.location.get("url") == page.url
            )
            if not own_status:
                self.problems.append(f"{page.url}: console {message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))


WATCHES: dict[int, ConsoleWatch] = {}

# --- accessibility ----------------------------------------------------------------------------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 levels A and AA: what the RGAA (the State's accessibility standard) refers to.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@dataclass
class AccessibilityWatch:
    """Loads of each page of one browser, which of them were checked, and what axe said."""

    loads: dict[int, int] = field(default_factory=dict)  # id(page) -> loads so far
    checked: dict[int, int] = field(default_factory=dict)  # id(page) -> loads checked
    urls: dict[int, str] = field(default_factory=dict)
    states: int = 0
    others: list[str] = field(default_factory=list)  # minor and moderate violations

    def attach(self, page: Any) -> None:
        def on_load(loaded: Any) -> None:
            self.loads[id(loaded)] = self.loads.get(id(loaded), 0) + 1
            self.urls[id(loaded)] = loaded.url

        page.on("load", on_load)

    def unchecked(self) -> list[str]:
        return [
            self.urls.get(key, "?")
            for key, count in self.loads.items()
            if self.checked.get(key, 0) < count
        ]


A11Y: dict[int, AccessibilityWatch] = {}


def _describe(violation: dict[str, Any]) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"{violation['impact']} {violation['id']} ({violation['help']}): {targets}"


# Contexts whose pages run without JavaScript (`java_script_enabled=False`).
NO_SCRIPT: set[int] = set()


def _axe(page: Any) -> list[dict[str, Any]]:
    # Injected through the DevTools protocol, so outside the page's Content-Security-Policy.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})""",
        WCAG_21_AA,
    )
    return results["violations"]


def _axe_on_copy(page: Any) -> list[dict[str, Any]]:
    """axe-core needs JavaScript (its promises never settle in a page without it): the page
    as served without JavaScript is copied, its scripts left out, into a page of its own that
    loads the same style sheets, and checked there."""
    html = re.sub(r"<script\b.*?</script>", "", page.content(), flags=re.S | re.I)
    html = html.replace("<head>", f'<head><base href="{page.url}">', 1)
    context = page.context.browser.new_context(locale="fr-FR")
    try:
        copy = context.new_page()
        copy.set_content(html, wait_until="load")
        return _axe(copy)
    finally:
        context.close()


def check_accessibility(page: Any, state: str = "") -> list[dict[str, Any]]:
    """Runs axe-core on the page as it is now (after a navigation, a form error or a change
    a script made), with the WCAG 2.1 A and AA rules. A serious or critical violation fails
    the test at once; the others are printed, and kept for the browser's summary. Returns
    every violation axe found."""
    assert AXE.is_file(), (
        f"{AXE} is missing: `npm install` (or `make assets`) installs axe-core, which the "
        "browser tests need to check every page's accessibility"
    )
    page.wait_for_load_state()
    violations = _axe_on_copy(page) if id(page.context) in NO_SCRIPT else _axe(page)
    # Read after axe's round trips to the page: its « load » event, sent before their
    # answers, has been counted by then.
    watch = A11Y.get(id(page.context.browser))
    loads = watch.loads.get(id(page), 0) if watch else 0
    where = f"{page.url}{' (' + state + ')' if state else ''}"
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [f"{where}: {_describe(v)}" for v in violations if v["impact"] not in BLOCKING]
    for line in others:
        print(f"axe: {line}")
    if watch is not None:
        watch.checked[id(page)] = max(watch.checked.get(id(page), 0), loads)
        watch.states += 1
        watch.others.extend(others)
    assert not blocking, f"axe-core at {where}:\n" + "\n".join(
        _describe(v) + "\n" + json.dumps([n["html"] for n in v["nodes"][:3]], ensure_ascii=False)
        for v in blocking
    )
    return violations


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright, with the flags this machine needs; it
    fails the test if a page of it reported a CSP violation or a console error."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        WATCHES[id(browser)] = ConsoleWatch()
        A11Y[id(browser)] = AccessibilityWatch()
        try:
            yield browser
            assert_clean_console(browser)
            assert_every_page_checked(browser)
        finally:
            WATCHES.pop(id(browser), None)
            A11Y.pop(id(browser), None)
            browser.close()


def new_page(browser: Any, **options: Any) -> Any:
    """A page in its own browser context: one person, one set of cookies, French and Paris;
    its console and CSP violations are watched."""
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", **options)
    if options.get("java_script_enabled") is False:
        NO_SCRIPT.add(id(context))
    context.add_init_script(REPORT_VIOLATIONS)
    # Every page of the context, the first one and any a link opens, is watched.
    context.on("page", WATCHES[id(browser)].attach)
    context.on("page", A11Y[id(browser)].attach)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def assert_clean_console(browser: Any) -> None:
    """No page of this browser reported a CSP violation, a console error or a script error."""
    problems = WATCHES[id(browser)].problems
    assert not problems, "the browser reported:\n" + "\n".join(problems)


def assert_every_page_checked(browser: Any) -> None:
    """Every page load of this browser was followed by `check_accessibility`; prints the
    summary: page states checked and the minor or moderate violations found."""
    watch = A11Y[id(browser)]
    print(
        f"axe: {watch.states} page state(s) checked (WCAG 2.1 A/AA), no serious or critical "
        f"violation, {len(watch.others)} minor or moderate"
    )
    unchecked = watch.unchecked()
    assert not unchecked, "pages loaded but never checked by axe-core:\n" + "\n".join(unchecked)
