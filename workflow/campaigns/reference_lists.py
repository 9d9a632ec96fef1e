"""The official lists a campaign's choice field may take its values from
(`choices_from: specialites_des`), shipped as data files under campaigns/data/ with their
source, so that « Dermatologie » and « dermato » never split the instructors' filter."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parents[2] / "campaigns" / "data"
LISTS = {"specialites_des": "specialites-des.yaml"}


@functools.cache
def reference_list(name: str) -> tuple[str, ...]:
    """The labels of the official list `name`, in the file's order (each label is also the
    stored value); KeyError for a list that does not exist."""
    path = DATA_DIR / LISTS[name]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = data["specialites"]
    return tuple(label for labels in groups.values() for label in labels)
