"""`check` and three audience renderings of an issue with one very large section, against one Markdown parse of it.

Everything after reading the files should cost about one parse of each section plus the HTML work; the ratio
`check / one parse` shows how many times the Markdown is worked through (it was about 7 parses before the
parse was shared). Run in one process, taking turns.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.golden import copy_repo_project  # noqa: E402

RUNS = 3
SIZE = 3 * 2**20  # under the 4 MB limit of a section


def _body() -> str:
    """Ordinary section text (paragraphs, lists, links, emphasis) repeated to SIZE bytes."""
    paragraph = (
        "## Rubrik\n\nUtvecklingsarbetet fokuserar på *samverkan* och tidiga insatser, se "
        "[sidan](https://example.se/sida). Förra året startade arbetet.\n\n"
        "- första punkten med **fetstil**\n- andra punkten\n\n> Ett citat.\n\n"
    )
    return paragraph * (SIZE // len(paragraph.encode("utf-8")))


def main() -> None:
    from markdown_it import MarkdownIt

    from nyhetsbrev.publish import pipeline
    from nyhetsbrev.render import checks, markdown

    parse_count = 0
    real_parse = MarkdownIt.parse

    def counting(self, src, env=None):
        nonlocal parse_count
        parse_count += 1
        return real_parse(self, src, env)

    MarkdownIt.parse = counting
    body = _body()
    times: dict[str, list[float]] = {"one parse": [], "check": [], "check + 3 audiences": []}
    with tempfile.TemporaryDirectory() as tmp:
        project_dir = copy_repo_project(Path(tmp) / "project")
        (project_dir / "issues" / "22-1" / "04-stor.md").write_text(body, encoding="utf-8")
        for _ in range(RUNS):
            start = time.perf_counter()
            markdown.parse(body)
            times["one parse"].append(time.perf_counter() - start)

            start = time.perf_counter()
            pipeline.check(project_dir, "22:1")
            times["check"].append(time.perf_counter() - start)

            start = time.perf_counter()
            parse_count = 0
            project, issue = pipeline.load(project_dir, "22:1")
            checks.inspect(issue, pipeline.render(project, issue))
            for audience in ("politiker", "profession", "övriga"):
                pipeline.render(project, issue, frozenset({audience}))
            times["check + 3 audiences"].append(time.perf_counter() - start)
            parses = parse_count
            del project, issue  # the next run parses afresh (a parse is shared only while its section is in use)
    floor = min(times["one parse"])
    print(f"big-section benchmark: a {len(body.encode()) / 2**20:.1f} MB section, best of {RUNS} runs")
    for name, values in times.items():
        print(f"  {name:<22} {min(values) * 1000:8.0f} ms   ratio to one parse {min(values) / floor:.2f}")
    print(f"Markdown parses per check + 3 audience renderings: {parses} for 4 sections (target: 4)")


if __name__ == "__main__":
    main()
