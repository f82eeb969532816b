"""What every `carbonlens` command shares: the error form and JSON output."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import IO, Any, NoReturn, ParamSpec, TypeVar

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


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print `carbonlens: error: message` on stderr and exit with `code`."""
    click.echo(f"carbonlens: error: {message}", err=True)
    sys.exit(code)


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


def parse_since(text: str) -> datetime:
    """A `--since` value: a span back from now (30m, 12h, 7d, 2w) or an ISO date (UTC)."""
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    if match:
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
        return datetime.now(UTC) - timedelta(seconds=int(match.group(1)) * seconds)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a span like 30m, 12h, 7d, 2w nor an ISO date (2026-11-01)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
