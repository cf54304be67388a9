"""``env.example`` and the README's settings table, written from the settings' declarations.

    python -m pipeline.settings_docs --env-example     print env.example
    python -m pipeline.settings_docs --readme-table    print the README's table
    python -m pipeline.settings_docs --write           rewrite env.example and the README block
    python -m pipeline.settings_docs --check           exit 1 when either is out of date

(``make settings-docs`` runs ``--write``.) The README's table lies between the markers
:data:`BEGIN` and :data:`END`; everything outside them is left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .declare import Declared, declared
from .settings import Settings

__all__ = ["BEGIN", "END", "env_example", "readme_table", "rewrite_readme"]

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- settings-table: begin (`make settings-docs` writes it from pipeline/settings.py) -->"
END = "<!-- settings-table: end -->"

_INTRO = """\
# Flyer Studio configuration. Copy to .env and adjust; the real environment wins over .env.
# Every variable is optional; empty counts as unset. Run `flyer-studio keygen` to write a fresh
# API_MASTER_KEY here. Generated from pipeline/settings.py by `make settings-docs`: edit the
# declarations there, not this file.
"""
_WIDTH = 95


def typed(value: Any) -> str:
    """``value`` as it would be typed into the environment."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        if not all(isinstance(item, str) for item in value):
            raise TypeError(f"give the declaration an example= for {value!r}")
        return ",".join(value)
    return str(value)


def _example(item: Declared) -> str:
    if item.var.secret:
        return ""
    return item.var.example if item.var.example is not None else typed(item.default)


def _plain(markdown: str) -> str:
    """Markdown help as plain text: links keep their words, backticks go."""
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown).replace("`", "")


def _groups() -> Iterator[tuple[str, list[Declared]]]:
    groups: dict[str, list[Declared]] = {}
    for item in declared(Settings):
        groups.setdefault(item.var.group, []).append(item)
    yield from groups.items()


def env_example() -> str:
    """The whole env.example."""
    lines = [_INTRO.rstrip("\n")]
    for group, items in _groups():
        lines.append("")
        lines.append(f"# --- {group} ".ljust(_WIDTH, "-"))
        for item in items:
            lines.extend(textwrap.wrap(_plain(item.var.help), _WIDTH - 2,
                                       initial_indent="# ", subsequent_indent="# ",
                                       break_on_hyphens=False))
            lines.append(f"{item.var.name}={_example(item)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_table() -> str:
    """The README's table of every variable, grouped as in env.example."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for group, items in _groups():
        rows.append(f"| **{_cell(group)}** | | |")
        for item in items:
            shown = item.var.shown_default
            if shown is None:
                example = "" if item.var.secret else _example(item)
                shown = f"`{example}`" if example else "*(none)*"
            secret = " *Secret: never shown in logs.*" if item.var.secret else ""
            rows.append(f"| `{item.var.name}` | {_cell(shown)} | "
                        f"{_cell(item.var.help)}{secret} |")
    return "\n".join(rows) + "\n"


def rewrite_readme(text: str) -> str:
    """``text`` (the README) with the block between the markers replaced by the table."""
    try:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} ... {END!r}") from None
    return f"{head}{BEGIN}\n{readme_table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.settings_docs",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--env-example", action="store_true", help="print env.example")
    what.add_argument("--readme-table", action="store_true", help="print the README's table")
    what.add_argument("--write", action="store_true", help="rewrite env.example and README.md")
    what.add_argument("--check", action="store_true", help="exit 1 when either is stale")
    args = parser.parse_args(argv)
    if args.env_example:
        sys.stdout.write(env_example())
        return 0
    if args.readme_table:
        sys.stdout.write(readme_table())
        return 0
    env_path, readme_path = ROOT / "env.example", ROOT / "README.md"
    wanted = {env_path: env_example(), readme_path: rewrite_readme(readme_path.read_text())}
    stale = [path for path, text in wanted.items() if path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.name} is out of date: run `make settings-docs`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"rewrote {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
