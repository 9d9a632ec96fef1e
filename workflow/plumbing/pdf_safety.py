"""What makes a PDF unsafe to hand to an instructeur: active content (JavaScript, launch
actions, automatic actions, embedded files, rich media, XFA forms), too many pages, or a
structure too large to check in a bounded time.

A PDF is checked twice. First its raw bytes: every name written in the file, `#xx` escapes
decoded (`/J#61vaScript` is `/JavaScript`), so that an object pypdf would not reach — an
older revision, an object outside the cross-reference table that another reader would repair
its way to — is seen too. Then its decoded objects through pypdf, which opens compressed
object streams the raw bytes hide. Both passes are bounded: the number of objects visited,
the pages counted, and the CPU time of the checking thread.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from workflow.plumbing.errors import InvalidInput

# Names that run something or carry another file: JavaScript (`/JS`, `/S /JavaScript`),
# programs (`/Launch`), actions run on opening a page or a field (`/AA`), files inside the
# PDF, Flash and video players, and XFA forms (scripted forms only Acrobat runs).
SCRIPTS = frozenset({"JS", "JavaScript", "Launch", "AA"})
CARRIED = frozenset({"EmbeddedFile", "EmbeddedFiles", "RichMedia", "XFA"})


def _spelt_any_way(word: str) -> str:
    """A regular expression for the name `word` with any of its letters written as a `#xx`
    escape (`/J#61vaScript`), hex digits in either case."""
    parts = []
    for char in word:
        code = "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{ord(char):02X}")
        parts.append(f"(?:{re.escape(char)}|#{code})")
    return "".join(parts)


# A forbidden name as a whole token: "/" then the name, then white space, a delimiter or the
# end (PDF 32000-1, 7.2.2), so that `/JSON` or `/AAAAAA+Calibri` is not `/JS` or `/AA`. One
# search in C over the bytes, rather than a Python loop over every name of the file.
_FORBIDDEN_NAME = re.compile(
    (
        "/(?:"
        + "|".join(_spelt_any_way(w) for w in sorted(SCRIPTS | CARRIED, key=len, reverse=True))
        + r")(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    ).encode()
)
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class PdfLimits:
    """How much of a PDF is checked before it is refused as too large or too complex."""

    # A thesis runs to about 300 pages, a scanned file of a few documents to a few dozen:
    # 1,000 is well above any real piece and keeps a 60,000-page file from costing seconds.
    max_pages: int = 1000
    # A 1,000-page text with links and fonts holds some tens of thousands of objects.
    max_objects: int = 100_000
    # CPU seconds of the checking thread (not wall-clock: a busy server must not refuse a
    # file because other requests took the processor).
    seconds: float = 3.0


PDF_LIMITS = PdfLimits()


def _messages(name: str) -> dict[str, str]:
    again = "Enregistrez-le sans contenu actif (Imprimer > PDF) puis joignez-le de nouveau."
    return {
        "scripts": (
            f"Le fichier PDF {name}contient du JavaScript ou des actions automatiques : il est "
            f"refusé. {again}"
        ),
        "carried": (
            f"Le fichier PDF {name}contient des fichiers incorporés, du multimédia ou un "
            f"formulaire dynamique (XFA) : il est refusé. {again}"
        ),
        "complex": (
            f"Le fichier PDF {name}est trop complexe pour être vérifié : il est refusé. "
            "Enregistrez-le à nouveau (Imprimer > PDF) puis joignez-le de nouveau."
        ),
    }


class _Budget:
    """Counts the objects visited and the CPU time spent; refuses the file past either."""

    def __init__(self, limits: PdfLimits, refusal: str):
        self.limits = limits
        self.refusal = refusal
        self.visited = 0
        self.until = time.thread_time() + limits.seconds

    def spend(self, objects: int = 1) -> None:
        self.visited += objects
        if self.visited > self.limits.max_objects or time.thread_time() > self.until:
            raise InvalidInput(self.refusal)


def refuse_active_raw(data: bytes, name: str = "") -> None:
    """Refuses a PDF whose bytes name active content anywhere, `#xx` escapes decoded; the
    first, cheap pass, blind to compressed object streams."""
    found = _FORBIDDEN_NAME.search(data)
    if found:
        token = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), found.group(0)[1:])
        _refuse_name(token.decode("latin-1"), _messages(name))


def check_objects(reader: PdfReader, name: str = "", limits: PdfLimits = PDF_LIMITS) -> int:
    """Refuses a PDF whose decoded objects — catalog, pages, annotations, form fields, name
    trees, objects inside compressed object streams, unreachable ones too — carry a name of
    active content as a key or a value, or that has more than `limits.max_pages` pages; then
    reads every page (its box and contents) to be sure an instructeur can open it.

    Raises InvalidInput with a French message naming the file; past `limits.max_objects`
    objects or `limits.seconds` of CPU time the file is refused as too complex to check.
    pypdf's own errors (a damaged file) pass through. Returns the number of pages.
    """
    messages = _messages(name)
    budget = _Budget(limits, messages["complex"])
    declared = _declared_pages(reader)
    if declared > limits.max_pages:
        raise InvalidInput(_too_many_pages(name, declared, limits))
    listed = sum(len(numbers) for numbers in reader.xref.values()) + len(reader.xref_objStm)
    if listed > limits.max_objects:
        raise InvalidInput(messages["complex"])
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    # Every object of the cross-reference tables, reachable or not: a reader that repairs a
    # damaged file may reach one the catalog does not.
    for generation, numbers in reader.xref.items():
        stack += [IndirectObject(number, generation, reader) for number in numbers]
    stack += [IndirectObject(number, 0, reader) for number in reader.xref_objStm]
    pages = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        budget.spend()
        if isinstance(item, DictionaryObject):  # stream dictionaries included
            if item.get("/Type") == "/Page":
                pages += 1
                if pages > limits.max_pages:
                    raise InvalidInput(_too_many_pages(name, None, limits))
            for key_name, value in item.items():
                _refuse_name(str(key_name)[1:], messages)
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)  # each item is counted when it is visited
        elif isinstance(item, NameObject):
            _refuse_name(str(item)[1:], messages)
    # The page tree may hold pages the walk counted under another /Type: pypdf's own count
    # is capped too before each page is read.
    count = len(reader.pages)
    if count > limits.max_pages:
        raise InvalidInput(_too_many_pages(name, count, limits))
    for page in reader.pages:
        budget.spend()
        _ = page.mediabox
        page.get_contents()
    return count


def _refuse_name(name: str, messages: dict[str, str]) -> None:
    if name in SCRIPTS:
        raise InvalidInput(messages["scripts"])
    if name in CARRIED:
        raise InvalidInput(messages["carried"])


def _declared_pages(reader: PdfReader) -> int:
    """The page count the file states (cheap, and only trusted to refuse early)."""
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]
        return int(count)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _too_many_pages(name: str, count: int | None, limits: PdfLimits) -> str:
    """`count` is None when the walk stopped counting past the limit."""
    most = f"{limits.max_pages:,}".replace(",", "\u202f")
    found = f"{count:,}".replace(",", "\u202f") if count is not None else f"plus de {most}"
    return (
        f"Le fichier PDF {name}compte {found} pages : une pièce en compte {most} au plus. "
        "Joignez seulement les pages utiles."
    )
