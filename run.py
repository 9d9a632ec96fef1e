"""Entry point: `python run.py` serves the web app with the scheduler in-process;
sub-commands administer the database and the campaigns, or run the scheduler alone."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

from workflow.campaigns.loader import CampaignFileError, load_campaign_file
from workflow.campaigns.store import store_directory
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import make_engine, make_session_factory, migrate, transaction

ROOT = Path(__file__).resolve().parent


def campaigns_dir() -> Path:
    return Path(os.environ.get("CAMPAIGNS_DIR", ROOT / "campaigns"))


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate()
    print("Database schema is up to date.")
    return 0


def cmd_check_campaign(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            campaign = load_campaign_file(path)
        except CampaignFileError as exc:
            print(exc, file=sys.stderr)
            status = 1
        else:
            fields = sum(len(v.fields) for v in campaign.volets)
            print(
                f"{path}: ok — {campaign.slug}: {len(campaign.volets)} volets, "
                f"{fields} fields, {len(campaign.pieces)} pieces"
            )
    return status


def _sessions():  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine())


def cmd_load_campaigns(args: argparse.Namespace) -> int:
    session = _sessions()()
    try:
        with transaction(session):
            loaded = store_directory(session, Path(args.directory), paris_date(clock.now()))
    except CampaignFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    for item in loaded:
        change = "created" if item.created else ("new version" if item.new_version else "same")
        print(f"campaign {item.campaign.slug} v{item.version.version}: {change}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workflow.administration.demo import ensure_demo_accounts

    session = _sessions()()
    with transaction(session):
        accounts = ensure_demo_accounts(session)
    print("Demo accounts (development only):")
    for account in accounts:
        print(f"  {account.email:40} {account.password:24} {account.note}")
    return 0


def cmd_close_due(args: argparse.Namespace) -> int:
    from workflow.scheduling.jobs import close_due_campaigns

    for campaign_id in close_due_campaigns(_sessions(), clock.now()):
        print(f"campaign {campaign_id} closed")
    return 0


def cmd_set_deadline(args: argparse.Namespace) -> int:
    """An administrator's audited change of a deadline, from the command line."""
    import datetime as dt

    from sqlalchemy import select

    from workflow.administration.campaigns import change_deadline
    from workflow.models import Campaign
    from workflow.people.actors import Actor
    from workflow.plumbing.errors import TransitionRefused

    value = args.deadline
    deadline = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    session = _sessions()()
    actor = Actor("administrateur", None, None, "ligne de commande")
    try:
        with transaction(session):
            campaign = session.scalar(select(Campaign).where(Campaign.slug == args.slug))
            if campaign is None:
                print(f"no campaign {args.slug!r}", file=sys.stderr)
                return 1
            change_deadline(session, campaign, deadline, actor, args.reason)
    except TransitionRefused as refused:
        print(refused.message, file=sys.stderr)
        return 1
    print(f"{args.slug}: deadline now {value} (Paris time)")
    return 0


def upload_storage():  # type: ignore[no-untyped-def]
    """The service's storage: STORAGE_URL (file or s3://), or the folder UPLOAD_DIR."""
    from workflow.plumbing.storage_url import open_storage

    return open_storage(
        os.environ.get("STORAGE_URL")
        or os.environ.get("UPLOAD_DIR")
        or ROOT / "instance" / "uploads"
    )


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent copy of the database and the uploaded files, while the service runs."""
    from workflow.plumbing.backup import BackupError, backup
    from workflow.plumbing.db import database_url

    try:
        manifest = backup(database_url(), upload_storage(), args.directory)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    rows = sum(manifest["tables"].values())
    print(
        f"Backup in {args.directory}: schema {manifest['schema_revision']}, {rows} rows in "
        f"{len(manifest['tables'])} tables, {len(manifest['files'])} files"
    )
    for problem in ("missing", "corrupt"):
        for name in manifest[problem]:
            print(f"  {problem} in the upload store: {name}", file=sys.stderr)
    return 1 if manifest["missing"] or manifest["corrupt"] else 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restores a backup into an empty database (DATABASE_URL) and upload store (UPLOAD_DIR)."""
    from workflow.plumbing.backup import BackupError, check, restore
    from workflow.plumbing.db import database_url

    storage = upload_storage()
    try:
        manifest = restore(args.directory, database_url(), storage)
    except BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    report = check(database_url(), storage, manifest)
    print(
        f"Restored {args.directory} (schema {manifest['schema_revision']}, taken "
        f"{manifest['created_at']}): {report.checked} pieces checked"
    )
    print("Run `python run.py migrate` if the code's schema is newer than the backup's.")
    return 0 if report.clean else _report_problems(report)


def cmd_check(args: argparse.Namespace) -> int:
    """Every piece the database names is in the upload store with its hash."""
    from workflow.plumbing.backup import BackupError, check, read_manifest
    from workflow.plumbing.db import database_url

    try:
        manifest = read_manifest(args.directory) if args.directory else None
    except BackupError as exc:
        print(f"check failed: {exc}", file=sys.stderr)
        return 1
    report = check(database_url(), upload_storage(), manifest)
    if report.clean:
        print(f"All {report.checked} pieces are present with their hash.")
        return 0
    return _report_problems(report)


def _report_problems(report) -> int:  # type: ignore[no-untyped-def]
    for name in report.missing:
        print(f"missing: {name}", file=sys.stderr)
    for name in report.corrupt:
        print(f"corrupt (hash differs): {name}", file=sys.stderr)
    print(
        f"{len(report.missing)} missing, {len(report.corrupt)} corrupt of {report.checked} pieces",
        file=sys.stderr,
    )
    return 1


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The production scheduler: one process; a second one waits as a standby."""
    import signal

    from web.shared.config import ConfigurationError, secret_key_from_environment
    from workflow.scheduling.scheduler import from_environment, start

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        # The key signs the links of the mails; a reminder must never carry a forgeable one.
        secret_key = secret_key_from_environment(ROOT / "instance")
    except ConfigurationError as refused:
        print(refused, file=sys.stderr)
        return 2
    if not os.environ.get("SMTP_URL"):
        logging.getLogger("scheduler").warning(
            "SMTP_URL is not set: mails stay queued in the outbox table and none is sent"
        )
    scheduler, interval = from_environment(_sessions(), secret_key, upload_storage())

    def stop(signum: int, frame: object) -> None:
        if scheduler.sender is not None:
            scheduler.sender.stopping.set()  # the mail job puts its unsent rows back and ends
        scheduler.leadership.release()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if os.environ.get("EXPORT_WORKER", "on") != "off":
        # Exports run in this process, beside the ticks, never in a web worker.
        from workflow.scheduling.export_worker import start_export_worker

        start_export_worker(scheduler.sessions, upload_storage())
    print(f"Scheduler {scheduler.leadership.holder}: a tick every {interval:g} s", flush=True)
    try:
        start(scheduler, interval, blocking=True)
    except (KeyboardInterrupt, SystemExit):
        scheduler.leadership.release()
    return 0


def cmd_export_worker(args: argparse.Namespace) -> int:
    """Exports alone, in a process of their own (several may run, on several hosts)."""
    from workflow.scheduling.export_worker import start_export_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Stopped by Ctrl+C or SIGTERM; a job cut short is queued again after STALE_AFTER.
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        start_export_worker(_sessions(), upload_storage(), blocking=True)
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    from workflow.machine.states import mermaid

    print(mermaid(), end="")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from web import create_app
    from web.shared.config import ConfigurationError
    from web.shared.headers import QuietRequestHandler

    try:
        app = create_app()
    except ConfigurationError as refused:
        print(refused, file=sys.stderr)
        return 2
    if os.environ.get("SCHEDULER", "on") != "off":
        from workflow.plumbing.storage_url import open_storage
        from workflow.scheduling.export_worker import start_export_worker
        from workflow.scheduling.scheduler import from_environment, start

        storage = open_storage(app.config["STORAGE_URL"])
        scheduler, interval = from_environment(
            app.extensions["db_sessions"], app.config["SECRET_KEY"], storage
        )
        start(scheduler, interval, blocking=False)
        print(f"In-process scheduler: a tick every {interval:g} s (SCHEDULER=off to disable)")
        start_export_worker(app.extensions["db_sessions"], storage)
    print(f"Serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)")
    app.run(host=args.host, port=args.port, debug=False, request_handler=QuietRequestHandler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("migrate", help="apply the Alembic migrations").set_defaults(func=cmd_migrate)
    check = sub.add_parser("check-campaign", help="validate campaign files")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check_campaign)
    load = sub.add_parser("load-campaigns", help="load or update every campaign file")
    load.add_argument("directory", nargs="?", default=str(campaigns_dir()))
    load.set_defaults(func=cmd_load_campaigns)
    sub.add_parser("demo", help="create the demo accounts").set_defaults(func=cmd_demo)
    sub.add_parser("close-due", help="close campaigns past their deadline").set_defaults(
        func=cmd_close_due
    )
    deadline = sub.add_parser("set-deadline", help="extend or shorten a deadline (audited)")
    deadline.add_argument("slug")
    deadline.add_argument("deadline", help="2026-12-01 (that day inclus) or 2026-12-01T18:00")
    deadline.add_argument("--reason", required=True)
    deadline.set_defaults(func=cmd_set_deadline)
    saving = sub.add_parser("backup", help="back up the database and the uploaded files")
    saving.add_argument("directory")
    saving.set_defaults(func=cmd_backup)
    restoring = sub.add_parser("restore", help="restore a backup into an empty database")
    restoring.add_argument("directory")
    restoring.set_defaults(func=cmd_restore)
    checking = sub.add_parser("check", help="check that every piece is stored with its hash")
    checking.add_argument("directory", nargs="?", help="a backup whose manifest gives hashes")
    checking.set_defaults(func=cmd_check)
    sub.add_parser("scheduler", help="run the scheduler alone (production)").set_defaults(
        func=cmd_scheduler
    )
    sub.add_parser("export-worker", help="run queued exports alone").set_defaults(
        func=cmd_export_worker
    )
    sub.add_parser("diagram", help="print the state machine (Mermaid)").set_defaults(
        func=cmd_diagram
    )
    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve"])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
