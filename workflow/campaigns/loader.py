"""Reading campaign files, with errors that name the file, the line and the key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workflow.campaigns.schema import Campaign, Strict

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


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


def load_campaign_file(path: str | Path, today: dt.date | None = None) -> Campaign:
    """Reads and validates one campaign file; raises CampaignFileError.

    A demo file (`demo_of: <slug>`) is its base file with the demo's slug, title and dates
    counted from `today`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError([LoadProblem(str(path), None, "", str(exc))]) from exc
    data, lines = _parse(text, str(path))
    if "demo_of" not in data:
        return _validate_campaign(data, lines, str(path))
    demo = _validate(DemoFile, data, lines, str(path))
    base_path = path.parent / f"{demo.demo_of}.yaml"
    if not base_path.is_file():
        message = f"no campaign file {base_path.name} next to this one"
        line = lines.get(("demo_of",))
        raise CampaignFileError([LoadProblem(str(path), line, "demo_of", message)])
    base = load_campaign_file(base_path)
    copied = _demo_copy(base, demo, today or dt.date.today())
    # Problems of the copy (a bad slug, dates out of order) are the demo file's own.
    relative = {key: lines.get(("relative_dates", key)) for key in ("opens", "deadline")}
    demo_lines = {**lines, **{(key,): line for key, line in relative.items() if line}}
    return _validate_campaign(copied, demo_lines, str(path))


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
    return data


def load_campaign_text(text: str, source: str = "<campagne>") -> Campaign:
    """Validates a campaign given as YAML text; `source` names it in errors."""
    data, lines = _parse(text, source)
    return _validate_campaign(data, lines, source)


def _validate_campaign(data: dict[str, Any], lines: dict[Path_, int], source: str) -> Campaign:
    """Validates the shape, then the references between parts, each problem at its line."""
    context = {"loader_checks_references": True}
    campaign = _validate(Campaign, data, lines, source, context)
    problems = [
        LoadProblem(source, _line(path, lines), _dotted(path), message)
        for path, message in campaign.reference_problems()
    ]
    if problems:
        raise CampaignFileError(problems)
    return campaign


def _line(path: Path_, lines: dict[Path_, int]) -> int | None:
    """The line of the deepest part of `path` present in the document."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _parse(text: str, source: str) -> tuple[dict[str, Any], dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        message = getattr(exc, "problem", None) or str(exc)
        raise CampaignFileError([LoadProblem(source, line, "", f"YAML: {message}")]) from exc
    if node is None:
        raise CampaignFileError([LoadProblem(source, None, "", "the file is empty")])
    lines: dict[Path_, int] = {}
    problems: list[LoadProblem] = []
    _walk(node, (), lines, problems, source)
    if problems:
        raise CampaignFileError(problems)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CampaignFileError([LoadProblem(source, 1, "", "expected a mapping of keys")])
    return data, lines


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
        raise CampaignFileError([_problem(source, error, lines) for error in exc.errors()]) from exc


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
            key = key_node.value
            if key in seen:
                dotted = _dotted((*path, key))
                line = key_node.start_mark.line + 1
                problems.append(LoadProblem(source, line, dotted, "duplicate key"))
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
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = f"missing key '{loc[-1]}'"
    elif error["type"] == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'"
    return LoadProblem(source, lines.get(found), _dotted(found), message)


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
