"""Benchmark of the PDF check on hostile sizes; prints figures, asserts nothing.

A PDF of many blank pages (60,000 by default, about 7 MB: within the 10 MB upload limit) is
checked by `check_pdf` as it is, and by the check it replaced (every page read, no limit),
in CPU seconds of the checking thread; then a real-sized piece (30 pages) for comparison.

    python bench/pdf_check.py [--pages 60000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader, PdfWriter  # noqa: E402

from workflow.plumbing.errors import InvalidInput  # noqa: E402
from workflow.plumbing.storage import check_pdf  # noqa: E402


def many_pages(pages: int) -> bytes:
    cached = Path(tempfile.gettempdir()) / f"bench-pdf-{pages}-pages.pdf"
    if cached.is_file():
        return cached.read_bytes()
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    cached.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def unbounded_check(data: bytes) -> int:
    """The check before issue 15: open, then read every page's box and contents."""
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        _ = page.mediabox
        page.get_contents()
    return len(reader.pages)


def bounded_check(data: bytes) -> str:
    try:
        return f"accepted, {check_pdf(data).pages} pages"
    except InvalidInput as refused:
        return f"refused: {refused.message}"


def cpu(function, data: bytes, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        start = time.thread_time()
        result = function(data)
        times.append(time.thread_time() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for pages in (args.pages, 30):
        data = many_pages(pages)
        print(f"{pages} pages, {len(data) / 1024 / 1024:.1f} MB")
        before, counted = cpu(unbounded_check, data, args.repeat)
        print(f"  unbounded check (before): {before:.3f} s CPU, {counted} pages read")
        after, outcome = cpu(bounded_check, data, args.repeat)
        print(f"  check_pdf (now):          {after:.3f} s CPU, {outcome}")


if __name__ == "__main__":
    main()
