"""The request handle handlers see, and the context variable that finds it."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from carbonlens.errors import ConfigError
from carbonlens.serving.attribution import Attributed

__all__ = ["ServedRequest", "check_tokens", "current_request"]

_CURRENT: ContextVar[ServedRequest | None] = ContextVar("carbonlens_request", default=None)


def current_request() -> ServedRequest | None:
    """The request being served in this context (set by the middleware, `request`, `track`)."""
    return _CURRENT.get()


def check_tokens(name: str, value: int | None) -> None:
    """Refuse a token count that is not a whole number >= 0 (ConfigError)."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ConfigError(f"{name} must be a whole number >= 0, not {value!r}", setting=name)


class ServedRequest(Attributed):
    """One request in the ledger; handlers report tokens and the first token on it.

    Times are seconds since the run started. The ledger sets `end_t_s` when the
    request ends, or when it is cut at the timeout (`cut` then True). The energy
    fields inherited from `Attributed` are complete in its `RequestRecord`.
    """

    __slots__ = ("_time_s", "cut", "failed", "model", "route", "status_code")

    def __init__(self, time_s: Callable[[], float], route: str, model: str) -> None:
        """Create an open request on the clock `time_s`; use `Ledger.begin` rather than this."""
        super().__init__()
        self._time_s = time_s
        self.route = route
        self.model = model
        self.failed = False
        self.cut = False
        self.status_code: int | None = None

    def set_tokens(self, tokens_in: int | None = None, tokens_out: int | None = None) -> None:
        """Report prompt (`tokens_in`) and generated (`tokens_out`) tokens; None leaves one as is.

        Tokens reported after the request ended are ignored.

        Raises:
            ConfigError: a count is negative or not a whole number.
        """
        check_tokens("tokens_in", tokens_in)
        check_tokens("tokens_out", tokens_out)
        if self.end_t_s is None:
            self.tokens_in = self.tokens_in if tokens_in is None else tokens_in
            self.tokens_out = self.tokens_out if tokens_out is None else tokens_out

    def first_token(self) -> None:
        """Mark the end of prefill (the first output token): what follows is decode."""
        if self.first_token_t_s is None and self.end_t_s is None:
            self.first_token_t_s = self._time_s()
