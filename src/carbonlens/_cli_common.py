"""What every `carbonlens` command shares: the error form and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import IO, Any, ParamSpec, TypeVar

import click

from carbonlens.errors import CarbonLensError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USAGE = 2


class CliFailure(click.ClickException):
    """A carbonlens error on the command line: one line on stderr, exit status 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message as `carbonlens: error: ...`."""
        click.echo(f"carbonlens: error: {self.format_message()}", err=True, file=file)


def carbonlens_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn carbonlens errors raised by a command into `CliFailure`."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CarbonLensError as exc:
            raise CliFailure(str(exc)) from exc

    return wrapper


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (non-JSON values as text)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
