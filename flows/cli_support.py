"""Console helpers shared by the CLI modules."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)
out = Console(soft_wrap=True)  # long result lines must not be cut in logs


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one readable error line to stderr and return the Exit to raise (no stack trace)."""
    # The message is plain text: paths and library errors may hold square brackets ("[Errno 111]").
    console.print("[bold red]error:[/] ", end="")
    console.print(message, highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(code)
