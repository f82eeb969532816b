"""What every `carbonlens` command shares: the error form and JSON output."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import IO, Any, NoReturn, ParamSpec, TypeVar

import click

from carbonlens.errors import CarbonLensError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USAGE = 2
MAX_LIMIT = 2**63 - 1
"""The largest `--limit` (runs to list): SQLite's largest integer."""
LIMIT = click.IntRange(min=1, max=MAX_LIMIT)
"""The type of every `--limit` option."""


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


def is_stream(output: Path) -> bool:
    """Whether `output` names a stream rather than a file to replace: `-` (stdout),
    a path under /dev or /proc (`/dev/stdout`, `/dev/fd/3`), or an existing
    file that is not a regular one (a named pipe)."""
    if str(output) == "-" or output.parts[1:2] in (("dev",), ("proc",)):
        return True
    try:
        return not stat.S_ISREG(output.expanduser().stat().st_mode)
    except OSError:
        return False


def write_output(text: str, output: Path) -> Path:
    """Write `text` to the user's file `output` atomically, and return where it went.

    The path is resolved (`~`, symlinks, `..`), the text written to a temporary
    file in the same directory and renamed over `output`, so a failed write
    leaves the old file (or none), never half a document. A new file gets the
    usual permissions (0666 less the umask); an existing one keeps its own.

    A stream (`is_stream`: `-`, `/dev/stdout`, a named pipe) is written to, not
    replaced: renaming a file over `/dev/stdout` would replace the file the shell
    redirected stdout to, losing what the command wrote there.

    Raises:
        CliFailure: the directory is missing or not writable, or the disk is full.
    """
    if is_stream(output):
        try:
            if str(output) == "-":
                click.echo(text, nl=False)
            else:
                with open(output, "a", encoding="utf-8") as stream:
                    stream.write(text)
        except OSError as exc:
            raise CliFailure(f"cannot write {output}: {exc.strerror or exc}") from None
        return output
    target = output.expanduser().resolve()
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise CliFailure(f"cannot write {output}: {exc.strerror or exc}") from None
    return target


STORE_HELP = "Store: a path, a sqlite:/// URL or a postgresql:// URL."
store_option = click.option("--store", help=STORE_HELP)
"""The `--store` option of the commands that read or write runs."""


def json_text(document: Any) -> str:
    """One JSON document as text (non-JSON values as text, a number that is not
    finite as null: a figure that is not known, as docs/json.md says)."""
    return json.dumps(_finite(document), indent=2, ensure_ascii=False, default=str)


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (see `json_text`)."""
    click.echo(json_text(document))


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None, in lists and mappings too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def parse_since(text: str) -> datetime:
    """A `--since` value: a span back from now (30m, 12h, 7d, 2w) or an ISO date.

    Returns:
        The moment in UTC (an ISO date without an offset is read as UTC).

    Raises:
        click.BadParameter: neither, or a moment outside years 1 to 9999 in UTC.
    """
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    try:
        if match:
            seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
            return datetime.now(UTC) - timedelta(seconds=int(match.group(1)) * seconds)
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a span like 30m, 12h, 7d, 2w nor an ISO date (2026-11-01)",
            param_hint="'--since'",
        ) from None
    except OverflowError:
        raise click.BadParameter(
            f"{text!r} is outside years 1 to 9999 (UTC): give a shorter span or another date",
            param_hint="'--since'",
        ) from None
