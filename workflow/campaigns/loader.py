"""Reading campaign files, with errors that name the file, the line and the key.

A campaign file comes from an administrator's upload as well as from `campaigns/`, so it is
read defensively: at most 1 Mo, no YAML anchors nor aliases (a few hundred bytes of aliases
expand to gigabytes; campaign files need none), at most 50 levels of nesting, no tags beyond
plain values, impossible dates refused. Every problem, whatever its cause, becomes a
`fichier:ligne: clé: message` line in French; none is a traceback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workflow.campaigns.commission import CommissionDef
from workflow.campaigns.messages import pydantic_message, yaml_message
from workflow.campaigns.schema import Campaign, Strict

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_CAMPAIGN_BYTES = 1024 * 1024
MAX_CAMPAIGN_LABEL = "1 Mo"
# The deepest real campaign file nests 7 levels (volets > fields > columns > choices).
MAX_DEPTH = 50
# The largest real campaign file holds about 1,000 keys and values; 1 Mo of one-character
# items would be 500,000 of them, and cost seconds of CPU and most of a gigabyte to read.
MAX_NODES = 20_000
# Past this many problems, the file is not a campaign file with mistakes: say how many more.
MAX_PROBLEMS = 100
# Model documents live here, next to the campaign files (`model: models/<campagne>/…`).
MODELS_FOLDER = "models"


@dataclass(frozen=True)
class LoadProblem:
    source: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.key or '(document)'}: {self.message}"


class CampaignFileError(Exception):
    """A campaign file that cannot be used; `problems` lists every error found."""

    def __init__(self, problems: list[LoadProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RelativeWindow(Strict):
    start: int
    end: int


class RelativeDates(Strict):
    """Days counted from the day a demo campaign is loaded."""

    opens: int
    deadline: int
    confirmation_window: RelativeWindow | None = None
    start_dates: tuple[int, ...] = ()


class DemoFile(Strict):
    """An open copy of a seed campaign, so that a newcomer can deposit at once."""

    demo_of: str
    slug: str
    title: str
    relative_dates: RelativeDates
    # A demo copy may fund posts so that the commission can be tried (`make run`).
    commission: CommissionDef | None = None


def load_campaign_file(path: str | Path, today: dt.date | None = None) -> Campaign:
    """Reads and validates one campaign file; raises CampaignFileError.

    A demo file (`demo_of: <slug>`) is its base file with the demo's slug, title and dates
    counted from `today`. The `model:` documents of its pieces must be files under the
    `models/` folder next to it.
    """
    path = Path(path)
    source = str(path)
    try:
        # Read no more than the limit allows, whatever the file claims (a pipe, a device).
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CAMPAIGN_BYTES + 1)
        if len(raw) > MAX_CAMPAIGN_BYTES:
            message = f"le fichier dépasse {MAX_CAMPAIGN_LABEL}"
            raise CampaignFileError([LoadProblem(source, None, "", message)])
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = "le fichier n'est pas un texte UTF-8 (enregistrez-le en UTF-8)"
        raise CampaignFileError([LoadProblem(source, None, "", message)]) from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            message = "fichier introuvable"
        elif isinstance(exc, PermissionError):
            message = "lecture du fichier non permise"
        else:
            message = "le fichier ne peut pas être lu"
        raise CampaignFileError([LoadProblem(source, None, "", message)]) from exc
    data, lines = _parse(text, source)
    if "demo_of" not in data:
        return _validate_campaign(data, lines, source, path.parent)
    demo = _validate(DemoFile, data, lines, source)
    base_path = path.parent / f"{demo.demo_of}.yaml"
    if not base_path.is_file():
        message = f"aucun fichier de campagne {base_path.name} à côté de celui-ci"
        line = lines.get(("demo_of",))
        raise CampaignFileError([LoadProblem(str(path), line, "demo_of", message)])
    base = load_campaign_file(base_path)
    copied = _demo_copy(base, demo, today or dt.date.today())
    # Problems of the copy (a bad slug, dates out of order) are the demo file's own.
    relative = {key: lines.get(("relative_dates", key)) for key in ("opens", "deadline")}
    demo_lines = {**lines, **{(key,): line for key, line in relative.items() if line}}
    return _validate_campaign(copied, demo_lines, source, path.parent)


def _demo_copy(base: Campaign, demo: DemoFile, today: dt.date) -> dict[str, Any]:
    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    rel = demo.relative_dates
    window = rel.confirmation_window
    data = base.model_dump()
    note = (
        "Copie de démonstration, ouverte pour essayer le dépôt : ses dates sont celles "
        "affichées ci-dessus, non celles du texte d'origine qui suit."
    )
    original = base.description
    data.update(
        slug=demo.slug,
        title=demo.title,
        description=f"{note}\n\n{original}" if original else note,
        demo=True,
        opens=day(rel.opens),
        deadline=day(rel.deadline),
        confirmation_window={"start": day(window.start), "end": day(window.end)}
        if window
        else None,
        start_dates=[day(offset) for offset in rel.start_dates],
    )
    data.update(_demo_addresses(data))
    if base.start_date is not None:
        data["start_date"] = _demo_start_date(base, [day(o) for o in rel.start_dates])
    if demo.commission is not None:
        data["commission"] = demo.commission.model_dump()
    return data


DEMO_MAIL_DOMAIN = "example.org"


def _demo_address(address: str) -> str:
    """A demo copy never mails a real ARS address: the same mailbox at example.org."""
    return f"{address.rsplit('@', 1)[0]}@{DEMO_MAIL_DOMAIN}"


def _demo_addresses(data: dict[str, Any]) -> dict[str, Any]:
    """The copy's contacts and ARS contact choices, at example.org."""
    contacts = [{**c, "email": _demo_address(c["email"])} for c in data["contacts"]]
    changed: dict[str, Any] = {"contacts": contacts}
    contact = data.get("ars_contact")
    if contact:
        by_value = {k: _demo_address(v) for k, v in contact["by_value"].items()}
        mailbox = _demo_address(contact["mailbox"]) if contact.get("mailbox") else None
        changed["ars_contact"] = {**contact, "by_value": by_value, "mailbox": mailbox}
    return changed


def _demo_start_date(base: Campaign, demo_dates: list[dt.date]) -> dict[str, Any]:
    """The base's start-date field, each answer given the demo date that stands where the
    base's date stood in its `start_dates` (an answer whose date is not one of them keeps
    it), so that a demo dossier's start date moves with the copy's dates."""
    source = base.start_date
    assert source is not None
    moved = dict(zip(base.start_dates, demo_dates, strict=False))
    choices = base.field(source.field).choices
    dates: dict[str, dt.date] = {}
    for value in [c.value for c in choices] or list(source.dates):
        day = source.day_for(value)
        if day is not None:
            dates[value] = moved.get(day, day)
    return {"field": source.field, "dates": dates}


def load_campaign_text(
    text: str, source: str = "<campagne>", campaigns_dir: str | Path | None = None
) -> Campaign:
    """Validates a campaign given as YAML text; `source` names it in errors.

    `model:` paths must stay under `models/`; with `campaigns_dir`, they must also name an
    existing file there (symbolic links resolved)."""
    data, lines = _parse(text, source)
    return _validate_campaign(data, lines, source, campaigns_dir)


def _validate_campaign(
    data: dict[str, Any],
    lines: dict[Path_, int],
    source: str,
    campaigns_dir: str | Path | None,
) -> Campaign:
    """Validates the shape, then the references between parts and the model documents,
    each problem at its line."""
    context = {"loader_checks_references": True}
    campaign = _validate(Campaign, data, lines, source, context)
    found = campaign.reference_problems()
    for index, piece in enumerate(campaign.pieces):
        if piece.model is not None:
            message = model_problem(piece.model, campaigns_dir)
            if message:
                found.append((("pieces", index, "model"), message))
    for index, document in enumerate(campaign.reference_documents):
        if document.model is not None:
            message = model_problem(document.model, campaigns_dir)
            if message:
                found.append((("reference_documents", index, "model"), message))
    problems = [
        LoadProblem(source, _line(path, lines), _dotted(path), message) for path, message in found
    ]
    if problems:
        raise CampaignFileError(problems)
    return campaign


def model_problem(model: str, campaigns_dir: str | Path | None) -> str | None:
    """Why a piece's `model:` path cannot be served, or None: it must be a relative path
    under `models/` without `..`, and, when the campaigns' folder is known, an existing file
    that stays under its `models/` once symbolic links are resolved."""
    outside = (
        f"le document modèle doit être un fichier du dossier {MODELS_FOLDER}/ des campagnes "
        f"(par exemple {MODELS_FOLDER}/ma-campagne/annexe.docx), pas « {model} »"
    )
    parts = PurePosixPath(model).parts
    windows_drive = len(model) > 1 and model[1] == ":"
    if (
        not parts
        or model.startswith("/")
        or "\\" in model
        or windows_drive
        or ".." in parts
        or parts[0] != MODELS_FOLDER
        or any(not part.isprintable() for part in parts)
    ):
        return outside
    if campaigns_dir is None:
        return None
    root = (Path(campaigns_dir) / MODELS_FOLDER).resolve()
    target = (Path(campaigns_dir) / model).resolve()
    if root not in target.parents:
        return outside
    if not target.is_file():
        return f"document modèle introuvable : « {model} »"
    return None


def _line(path: Path_, lines: dict[Path_, int]) -> int | None:
    """The line of the deepest part of `path` present in the document."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


class _Refused(Exception):
    """A YAML construct campaign files do not allow, at its place in the document."""

    def __init__(self, mark: yaml.Mark | None, path: Path_ | None, message: str):
        self.mark, self.path, self.message = mark, path, message


class _CampaignYaml(yaml.SafeLoader):
    """PyYAML's safe loader, narrowed to what a campaign file needs: no anchors nor aliases
    (aliases are how a few bytes expand to gigabytes), a bounded nesting, and impossible
    values (a 13th month, a number of a million digits) refused at their line."""

    def __init__(self, text: str):
        super().__init__(text)
        self.path: Path_ = ()
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        saved = self.path
        if isinstance(index, yaml.ScalarNode):
            self.path = (*saved, index.value)
        elif isinstance(index, int):
            self.path = (*saved, index)
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            message = "les alias YAML (*nom) ne sont pas acceptés : recopiez la valeur"
            raise _Refused(event.start_mark, self.path, message)
        if getattr(event, "anchor", None) is not None:
            message = "les ancres YAML (&nom) ne sont pas acceptées : recopiez la valeur"
            raise _Refused(event.start_mark, self.path, message)
        if len(self.path) > MAX_DEPTH:
            message = f"imbrication trop profonde : {MAX_DEPTH} niveaux au plus"
            raise _Refused(event.start_mark, self.path[:3], message)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            message = f"trop de clés et de valeurs : {MAX_NODES:,} au plus".replace(",", "\u202f")
            raise _Refused(event.start_mark, self.path[:3], message)
        try:
            return super().compose_node(parent, index)
        finally:
            self.path = saved

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            if node.tag == "tag:yaml.org,2002:timestamp":
                problem = f"date impossible : {node.value}"
            else:
                problem = f"valeur impossible : {str(node.value)[:40]}"
            raise _Refused(node.start_mark, None, problem) from exc


def _parse(text: str, source: str) -> tuple[dict[str, Any], dict[Path_, int]]:
    if len(text.encode("utf-8")) > MAX_CAMPAIGN_BYTES:
        message = f"le fichier dépasse {MAX_CAMPAIGN_LABEL}"
        raise CampaignFileError([LoadProblem(source, None, "", message)])
    lines: dict[Path_, int] = {}
    try:
        loader = _CampaignYaml(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow, found before parsing
        raise CampaignFileError([_yaml_problem(source, exc, lines)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise CampaignFileError([LoadProblem(source, None, "", "le fichier est vide")])
        problems: list[LoadProblem] = []
        _walk(node, (), lines, problems, source)
        if problems:
            raise CampaignFileError(problems)
        data = loader.construct_document(node)
    except _Refused as refused:
        line = refused.mark.line + 1 if refused.mark else None
        path = refused.path if refused.path is not None else _path_on_line(line, lines)
        problem = LoadProblem(source, line, _dotted(path), refused.message)
        raise CampaignFileError([problem]) from None
    except yaml.YAMLError as exc:
        raise CampaignFileError([_yaml_problem(source, exc, lines)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        message = "le fichier doit être une suite de clés (clé: valeur)"
        raise CampaignFileError([LoadProblem(source, 1, "", message)])
    return data, lines


def _yaml_problem(source: str, exc: yaml.YAMLError, lines: dict[Path_, int]) -> LoadProblem:
    if isinstance(exc, yaml.reader.ReaderError):
        message = f"caractère non permis dans le fichier (code {exc.character!r})"
        return LoadProblem(source, None, "", f"YAML : {message}")
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    message = yaml_message(str(getattr(exc, "problem", None) or ""))
    return LoadProblem(source, line, _dotted(_path_on_line(line, lines)), f"YAML : {message}")


def _path_on_line(line: int | None, lines: dict[Path_, int]) -> Path_:
    """The deepest key written on `line`, for a value refused once the document is read."""
    on_line = [path for path, at in lines.items() if at == line and path]
    return max(on_line, key=len) if on_line else ()


def _validate(
    model: type[M],
    data: dict[str, Any],
    lines: dict[Path_, int],
    source: str,
    context: dict[str, Any] | None = None,
) -> M:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = [_problem(source, error, lines) for error in exc.errors()]
        # A union (a day or a date and time) reports each of its members: say it once.
        unique = list(dict.fromkeys(problems))
        if len(unique) > MAX_PROBLEMS:
            more = f"… et {len(unique) - MAX_PROBLEMS} autres problèmes, non affichés"
            unique = [*unique[:MAX_PROBLEMS], LoadProblem(source, None, "", more)]
        raise CampaignFileError(unique) from None


def _walk(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    problems: list[LoadProblem],
    source: str,
) -> None:
    """Records the line of every key and item; PyYAML would silently keep the last of two
    identical keys, which hides a typo, so duplicates are errors."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                message = "une clé doit être un simple mot, pas une liste ni des clés"
                problems.append(LoadProblem(source, line, _dotted(path), message))
                continue
            key = key_node.value
            if key in seen:
                dotted = _dotted((*path, key))
                problems.append(LoadProblem(source, line, dotted, "clé en double"))
            seen.add(key)
            _walk(value_node, (*path, key), lines, problems, source)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, source)


def _problem(source: str, error: Any, lines: dict[Path_, int]) -> LoadProblem:
    # Pydantic adds the name of a union member or validator to the location; keep only the
    # parts that exist in the document so that the key reads as the administrator wrote it.
    loc: Path_ = tuple(error["loc"])
    found: Path_ = ()
    for part in loc:
        if (*found, part) in lines:
            found = (*found, part)
    return LoadProblem(source, lines.get(found), _dotted(found), pydantic_message(error))


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_directory(
    directory: str | Path, today: dt.date | None = None
) -> list[tuple[Path, Campaign]]:
    """Every campaign file of a directory, sorted by name; raises on the first bad file
    only after collecting the problems of all of them."""
    loaded: list[tuple[Path, Campaign]] = []
    problems: list[LoadProblem] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            loaded.append((path, load_campaign_file(path, today)))
        except CampaignFileError as exc:
            problems += exc.problems
    if problems:
        raise CampaignFileError(problems)
    return loaded
