"""Generate the command-line reference from the CLI's own command tree (never written by hand).

The docs site calls :func:`cli_reference` at build time (``mkdocs_hooks.py``)
and puts its Markdown where ``docs/cli.md`` says ``<!-- cli-reference -->``.
It walks the click command tree (``drs_orchestration.cli.build_command()``,
or a module whose ``main`` is itself a ``click.Command``) and prints every
command's own ``--help``, so the reference is the help an operator sees.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

WIDTH = "80"


def cli_reference(module: str = "drs_orchestration.cli") -> str:
    """Markdown: the top-level help, then a section per command with its help text."""
    # argparse and click wrap help to the terminal's width: fix it, and put it back after.
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return _reference(importlib.import_module(module), module)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _reference(cli: Any, module: str) -> str:
    if hasattr(cli, "build_command"):
        commands = list(_click_commands(cli.build_command()))
    elif hasattr(getattr(cli, "main", None), "get_help"):
        commands = list(_click_commands(cli.main))
    else:
        raise RuntimeError(f"{module} has neither build_command() nor a click command main")
    parts = []
    for prog, summary, help_text in commands:
        heading = "#" * min(2 + prog.count(" "), 4)
        parts += [f"{heading} `{prog}`", ""]
        if summary:
            parts += [summary, ""]
        parts += ["```text", help_text.rstrip(), "```", ""]
    return "\n".join(parts)


def _click_commands(
    command: Any, parent: Any = None, name: str | None = None
) -> Iterator[tuple[str, str, str]]:
    import click

    context = click.Context(
        command,
        info_name=name or command.name or "drs-orchestration",
        parent=parent,
        **(command.context_settings or {}),
    )
    yield context.command_path, command.get_short_help_str(100), command.get_help(context)
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(context):
            sub = command.get_command(context, sub_name)
            if sub is not None and not sub.hidden:
                yield from _click_commands(sub, context, sub_name)


if __name__ == "__main__":
    print(cli_reference())
