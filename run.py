"""Entry point: `python run.py` serves the web app with the scheduler in-process;
sub-commands administer the database and the campaigns, or run the scheduler alone."""

from __future__ import annotations

import argparse
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


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The production scheduler: one process; a second one waits as a standby."""
    import signal

    from workflow.scheduling.scheduler import from_environment, start

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheduler, interval = from_environment(_sessions())

    def stop(signum: int, frame: object) -> None:
        if scheduler.sender is not None:
            scheduler.sender.stopping.set()  # the mail job puts its unsent rows back and ends
        scheduler.leadership.release()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"Scheduler {scheduler.leadership.holder}: a tick every {interval:g} s", flush=True)
    try:
        start(scheduler, interval, blocking=True)
    except (KeyboardInterrupt, SystemExit):
        scheduler.leadership.release()
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    from workflow.machine.states import mermaid

    print(mermaid(), end="")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from web import create_app

    app = create_app()
    if os.environ.get("SCHEDULER", "on") != "off":
        from workflow.scheduling.scheduler import from_environment, start

        scheduler, interval = from_environment(app.extensions["db_sessions"])
        start(scheduler, interval, blocking=False)
        print(f"In-process scheduler: a tick every {interval:g} s (SCHEDULER=off to disable)")
    print(f"Serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)")
    app.run(host=args.host, port=args.port, debug=False)
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
    sub.add_parser("scheduler", help="run the scheduler alone (production)").set_defaults(
        func=cmd_scheduler
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
