"""Every route, fuzzed: each route of `app.url_map` (a new route is fuzzed without editing
this file) gets hostile path parameters, query strings and form fields — digits of other
scripts, huge and negative numbers, empty strings, NUL characters, very long strings, SQL and
HTML metacharacters, a name sent twice where one value is expected, files, wrong methods —
against a scene of real objects (a campaign, a deposited dossier, a brouillon, another
organisation's dossier, an avis link). No answer is a 5xx, and a 4xx is a French page,
never Werkzeug's English one.

Three passes, bounded for CI:
- a sweep: each value of SWEPT in every query and form parameter at once, on every route,
  signed in as the route's own audience (SQLite; on PostgreSQL the déposant's and the
  instruction routes, where input reaches the database);
- hypothesis, derandomized, a few examples per route for each role (anonymous, déposant,
  déposant of another organisation, instructeur, administrateur) on SQLite, the déposant
  and the instructeur on PostgreSQL;
- with CSRF on: every POST without its token, or with a wrong one, is refused with the
  French page, then one hypothesis example per route still gets French pages.
On SQLite the file takes about 45 s of CPU."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import (
    COMPLETE_VALUES,
    TEST_SECRET_KEY,
    AuthActions,
    at_paris,
    definition,
    pdf_bytes,
)
from web import create_app
from workflow.administration.instructors import follow
from workflow.api.tokens import create_token
from workflow.api.webhooks import register_webhook
from workflow.commission.links import member_token
from workflow.commission.sessions import create_session, invite_member
from workflow.instruction.avis import avis_token, invite_avis
from workflow.models import Attachment, User
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

DURING = at_paris(2026, 2, 10)
ROLES = ["anonyme", "deposant", "deposant_autre", "instructeur", "administrateur"]
AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]
# A third volet with the kinds of input the default campaign lacks: an integer and a table.
EXPERIENCE = {
    "key": "experience",
    "title": "Expérience",
    "fields": [
        {"key": "annees", "label": "Années d'exercice", "type": "integer", "maximum": 60},
        {
            "key": "stages",
            "label": "Stages",
            "type": "table",
            "columns": [
                {"key": "lieu", "label": "Lieu", "required": True},
                {"key": "mois", "label": "Mois", "type": "integer"},
            ],
        },
    ],
}

HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "²",
    "٣",
    "１２",
    "1.5",
    "1e400",
    "nan",
    "9223372036854775808",
    "99999999999999999999999999",
    "1" * 400,
    "\x00",
    "1\x00",
    "' OR 1=1 --",
    "1; DROP TABLE dossiers",
    '"><script>alert(1)</script>',
    "%",
    "_",
    "\\",
    "../../../etc/passwd",
    "A" * 5000,
    "🙂",
    "2026-02-30",
    "31/12/9999",
    "0001-01-01",
    "deposer",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))
# The names the pages read, and the fields of the scene's volets.
FORM_NAMES = [
    "version",
    "event",
    "message",
    "due_date",
    "motivation",
    "reason",
    "verdict",
    "comment",
    "avis_key",
    "giver_name",
    "giver_email",
    "campagnes",
    "dossiers",
    "direction",
    "attestations",
    "consent",
    "action",
    "retour",
    "ligne",
    "email",
    "password",
    "password_confirmation",
    "current_password",
    "full_name",
    "organisation_type",
    "organisation_name",
    "finess",
    "siret",
    "date",
    "time",
    "active",
    "next",
    *COMPLETE_VALUES["identification"],
    *COMPLETE_VALUES["candidat"],
    "annees",
    "stages.rows",
    "stages.0.lieu",
    "stages.0.mois",
]
QUERY_NAMES = ["page", "q", "etat", "specialite", "tri", "ordre", "next"]
WRONG_METHODS = ["PUT", "DELETE", "PATCH"]
PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass
class Scene:
    """Real objects to aim at: each path parameter is drawn from these or from HOSTILE."""

    users: dict[str, User]
    values: dict[str, list[str]]
    new_brouillon: Callable[[], int]

    def renew(self) -> None:
        """A brouillon of its own for each route: a fuzzed « Supprimer » of the previous
        one must not leave the next routes nothing to edit."""
        self.values["dossier_id"][1] = str(self.new_brouillon())


def build_scene(world: Any, session: Any, app: Any) -> Scene:
    campaign = world.campaign(
        avis=AVIS, volets=[*(v.model_dump() for v in definition().volets), EXPERIENCE]
    )
    hospital, other = world.organisation(), world.organisation()
    deposited = world.dossier(campaign, hospital, "en_instruction")
    brouillon = world.dossier(campaign, hospital)
    theirs = world.dossier(campaign, other, complete=False)
    admin = world.actor("administrateur")
    users = {
        "deposant": world.user("deposant", hospital),
        "deposant_autre": world.user("deposant", other),
        "instructeur": world.user("instructeur"),
        "administrateur": world.user("administrateur"),
    }
    storage = Storage(app.config["UPLOAD_DIR"])
    with transaction(session):
        attachment = session.scalars(
            select(Attachment).where(Attachment.dossier_id == deposited.id)
        ).one()
        attachment.storage_name = storage.save(pdf_bytes())
        follow(session, users["instructeur"], campaign, admin)
        avis = invite_avis(
            session,
            deposited,
            "coordonnateur",
            "coordo@chu.fr",
            "",
            admin,
            secret_key=app.config["SECRET_KEY"],
            base_url="http://localhost",
        )
        api_token, _ = create_token(session, "outil", "lecture", [campaign.id], admin)
        hook, _ = register_webhook(
            session, campaign.id, "https://outil.ars.sante.fr/", ["dossier.etat_change"], admin
        )
    ids = [deposited.id, brouillon.id, theirs.id]
    # A commission session with the deposited dossier on its agenda, and an invited member.
    with transaction(session):
        sitting = create_session(session, campaign, admin, "Commission", DURING.date())
        member = invite_member(
            session,
            sitting,
            "Dr Invitée",
            "présidente de CME",
            "invitee@chu.fr",
            admin,
            secret_key=app.config["SECRET_KEY"],
            base_url="http://localhost",
        )
    return Scene(
        users,
        {
            "dossier_id": [str(i) for i in ids],
            "avis_id": [str(avis.id)],
            "user_id": [str(users["instructeur"].id), str(users["deposant"].id)],
            "mail_id": ["1", "2"],
            "token_id": [str(api_token.id)],
            "webhook_id": [str(hook.id)],
            "slug": [campaign.slug],
            "token": [
                avis_token(avis.id, app.config["SECRET_KEY"]),
                member_token(member.id, app.config["SECRET_KEY"]),
            ],
            "sitting_id": [str(sitting.id)],
            "promotion_id": ["1"],
            "piece_key": ["cv"],
            "volet_key": ["identification", "candidat", "experience"],
            "event": ["confirmer_maintien", "renoncer", "accepter", "deposer"],
            "filename": ["app.css", "dsfr.min.css", "../web/__init__.py"],
        },
        lambda: world.dossier(campaign, hospital).id,
    )


def fuzzed_rules(app: Any) -> list[Any]:
    return sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)


def request_for(rule: Any, scene: Scene, hostile_path: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy of requests for one rule: its path, a method, a query and a form. With
    `hostile_path`, the path parameters and the method are hostile too; without, they are
    the scene's own objects, so that the hostile query and form reach the view's logic."""
    own = {name: st.sampled_from(scene.values.get(name, ["x"])) for name in rule.arguments}
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    if hostile_path:
        path = {name: st.one_of(TEXT, values) for name, values in own.items()}
        method = st.sampled_from(methods + WRONG_METHODS)
    else:
        path, method = own, st.sampled_from(methods)
    files = st.one_of(
        st.none(),
        st.sampled_from([b"", b"%PDF-1.4 tronque", b"\x00" * 64]),
        st.just(pdf_bytes()),
    )
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path),
            "method": method,
            "query": st.lists(st.tuples(st.sampled_from(QUERY_NAMES), TEXT), max_size=4),
            # A name drawn twice is a list where one value is expected.
            "form": st.lists(st.tuples(st.sampled_from(FORM_NAMES), TEXT), max_size=10),
            "file": files,
        }
    )


def send(client: Any, rule: Any, drawn: dict[str, Any]):  # type: ignore[no-untyped-def]
    values = drawn["path"]
    path = PARAMETER.sub(lambda found: quote(values[found.group(1)], safe=""), rule.rule)
    data: MultiDict[str, Any] = MultiDict(drawn["form"])
    if drawn["file"] is not None:
        data.add("fichier", (io.BytesIO(drawn["file"]), "piece.pdf"))
    return client.open(
        path,
        method=drawn["method"],
        query_string=drawn["query"],
        data=data if drawn["method"] != "GET" else None,
        content_type="multipart/form-data" if drawn["method"] != "GET" else None,
    )


def check(response: Any, rule: Any, drawn: dict[str, Any]) -> None:
    where = f"{drawn['method']} {rule.rule} {drawn}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        body = response.get_data(as_text=True)
        if rule.rule.startswith("/api/"):
            # The API answers its clients in JSON: problem+json with a French detail.
            assert response.mimetype == "application/problem+json", where
            assert response.get_json()["detail"], where
            return
        assert '<html lang="fr"' in body, where
        assert "<title>" in body and "Not Found" not in body, where


def fuzz_every_route(app: Any, client: Any, auth: AuthActions, scene: Scene, role: str, n: int):
    """Runs `n` derandomized examples on every route of the URL map, signed in as `role`
    again before each one (a fuzzed « Se déconnecter » must not end the run)."""
    for rule in fuzzed_rules(app):
        scene.renew()
        fuzz_route(rule, client, auth, scene, role, n)


def fuzz_route(rule: Any, client: Any, auth: AuthActions, scene: Scene, role: str, n: int):
    """`n` requests at the scene's objects with hostile queries and forms (twice as many on
    a route that takes forms), then `n` with hostile path parameters and methods."""
    for hostile_path, examples in ((False, n * 2 if "POST" in rule.methods else n), (True, n)):

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(drawn=request_for(rule, scene, hostile_path))
        def one_request(drawn: dict[str, Any]) -> None:
            if role == "anonyme":
                auth.logout()
            else:
                auth.login(scene.users[role])
            check(send(client, rule, drawn), rule, drawn)

        one_request()


@pytest.fixture
def fuzz_app(app, tmp_path):  # type: ignore[no-untyped-def]
    script = tmp_path / "mermaid.min.js"
    script.write_text("window.mermaid = {};")
    app.config["MERMAID_JS"] = str(script)
    return app


def test_the_fuzzed_routes_are_every_route_of_every_blueprint(app):
    rules = fuzzed_rules(app)
    assert len(rules) > 50
    fuzzed = {rule.endpoint.split(".")[0] for rule in rules if "." in rule.endpoint}
    assert fuzzed == set(app.blueprints)
    assert "static" in {rule.endpoint for rule in rules}


# The role each blueprint is meant for: the sweep reaches each view's logic as it.
NATURAL_ROLE = {"deposant": "deposant", "instruction": "instructeur", "admin": "administrateur"}
# The values most likely to break a parser, each sent in every parameter of every route.
SWEPT = [
    "",
    "-1",
    "²",
    "٣",
    "9223372036854775808",
    "1" * 400,
    "\x00",
    "' OR 1=1 --",
    '"><script>alert(1)</script>',
    "A" * 5000,
]


def sweep_every_route(
    app: Any, client: Any, auth: AuthActions, scene: Scene, blueprints: set[str] | None = None
) -> int:
    """Each value of SWEPT in every query and form parameter at once, on every route (of
    `blueprints`, or all) at each combination of the scene's objects, signed in as the
    route's natural role. Returns how many requests were sent."""
    sent = 0
    for rule in fuzzed_rules(app):
        blueprint = rule.endpoint.split(".")[0]
        if blueprints is not None and blueprint not in blueprints:
            continue
        role = NATURAL_ROLE.get(blueprint, "anonyme")
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        names = sorted(rule.arguments)
        own = [scene.values.get(name, ["x"]) for name in names]
        if "dossier_id" in names:
            # The déposant edits its brouillon; the ARS instructs the deposited dossier.
            own[names.index("dossier_id")] = ["brouillon" if role == "deposant" else "0"]
        for combination in itertools.product(*own):
            for value, method in itertools.product(SWEPT, methods):
                path = dict(zip(names, combination, strict=True))
                if path.get("dossier_id") == "brouillon" and method == "POST":
                    scene.renew()  # the previous value may have deleted it
                if path.get("dossier_id") == "brouillon":
                    path["dossier_id"] = scene.values["dossier_id"][1]
                elif path.get("dossier_id") == "0":
                    path["dossier_id"] = scene.values["dossier_id"][0]
                drawn = {
                    "path": path,
                    "method": method,
                    "query": [(name, value) for name in QUERY_NAMES],
                    "form": [(name, value) for name in FORM_NAMES],
                    "file": None,
                }
                if role == "anonyme":
                    auth.logout()
                else:
                    auth.login(scene.users[role])
                check(send(client, rule, drawn), rule, drawn)
                sent += 1
    return sent


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_answers_each_hostile_value_without_a_server_error(
    db_url, fuzz_app, client, session, world
):
    with time_machine.travel(DURING, tick=False):
        scene = build_scene(world, session, fuzz_app)
        sent = sweep_every_route(fuzz_app, client, AuthActions(client, session), scene)
    assert sent > len(SWEPT) * len(fuzzed_rules(fuzz_app))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_postgresql_the_dossier_routes_answer_each_hostile_value_without_a_server_error(
    db_url, fuzz_app, client, session, world
):
    with time_machine.travel(DURING, tick=False):
        scene = build_scene(world, session, fuzz_app)
        auth = AuthActions(client, session)
        sent = sweep_every_route(fuzz_app, client, auth, scene, {"deposant", "instruction"})
    assert sent > len(SWEPT) * 20


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_hostile_request_with_a_server_error(
    role, db_url, fuzz_app, client, session, world
):
    with time_machine.travel(DURING, tick=False):
        scene = build_scene(world, session, fuzz_app)
        fuzz_every_route(fuzz_app, client, AuthActions(client, session), scene, role, 2)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("role", ["deposant", "instructeur"])
def test_on_postgresql_no_route_answers_a_hostile_request_with_a_server_error(
    role, db_url, fuzz_app, client, session, world
):
    with time_machine.travel(DURING, tick=False):
        scene = build_scene(world, session, fuzz_app)
        fuzz_every_route(fuzz_app, client, AuthActions(client, session), scene, role, 2)


@pytest.mark.parametrize("role", ["anonyme", "deposant", "administrateur"])
def test_with_csrf_on_a_post_without_its_token_is_refused_with_the_french_page(
    role, sqlite_url, tmp_path, session_for_sqlite
):
    app = create_app(
        {
            "DATABASE_URL": sqlite_url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET_KEY,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SMTP_URL": None,
        }
    )
    try:
        client = app.test_client()
        world, session = session_for_sqlite
        with time_machine.travel(DURING, tick=False):
            scene = build_scene(world, session, app)
            auth = AuthActions(client, session)
            posted = 0
            for rule in fuzzed_rules(app):
                if "POST" not in rule.methods:
                    continue
                path = {name: scene.values.get(name, ["x"])[0] for name in rule.arguments}
                for token in (None, "", "faux", "\x00", "A" * 5000):
                    if role == "anonyme":
                        auth.logout()
                    else:
                        auth.login(scene.users[role])
                    form = [("version", "1")] + (
                        [("csrf_token", token)] if token is not None else []
                    )
                    drawn = {
                        "path": path,
                        "method": "POST",
                        "query": [],
                        "form": form,
                        "file": None,
                    }
                    response = send(client, rule, drawn)
                    if rule.rule.startswith("/api/"):
                        # No CSRF on the API: a session is never enough there, only a
                        # bearer token, which a forged form cannot carry.
                        assert response.status_code == 401, (rule.rule, token)
                        assert response.mimetype == "application/problem+json"
                        continue
                    assert response.status_code == 400, (rule.rule, token)
                    assert "Le formulaire a expiré" in response.get_data(as_text=True)
                    posted += 1
            assert posted > 5 * 20
            # And with CSRF on, hostile requests of every kind still get French pages.
            fuzz_every_route(app, client, auth, scene, role, 1)
    finally:
        app.extensions["db_sessions"].kw["bind"].dispose()


@pytest.fixture
def session_for_sqlite(sqlite_url):  # type: ignore[no-untyped-def]
    from tests.conftest import World
    from workflow.plumbing.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        yield World(session), session
    engine.dispose()
