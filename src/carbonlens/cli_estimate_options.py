"""The options of `carbonlens estimate`: parameter types for counts and sizes
(7B, 2T, 10MB) and the option groups its commands share (docs/estimate.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from carbonlens.errors import EstimateError
from carbonlens.estimate.flops import Precision, Training
from carbonlens.estimate.quantities import parse_bytes, parse_count

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any, float]
else:  # click < 8.2 has no generic ParamType at run time
    _ParamType = click.ParamType


class CountParam(_ParamType):
    """A count written as 7B, 70b, 2T, 1.5e12 or 13k (`quantities.parse_count`)."""

    name = "count"

    def __init__(self, minimum: float = 1.0) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse, or fail with the parser's message (exit status 2)."""
        if isinstance(value, float):
            return value
        try:
            return parse_count(str(value), what=_flag(param), minimum=self.minimum)
        except EstimateError as exc:
            self.fail(str(exc).removeprefix(f"{_flag(param)}: "), param, ctx)


class BytesParam(_ParamType):
    """A size written as 10MB, 1.5GiB or a number of bytes (`quantities.parse_bytes`)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse, or fail with the parser's message (exit status 2)."""
        try:
            return parse_bytes(str(value), what=_flag(param))
        except EstimateError as exc:
            self.fail(str(exc), param, ctx)


def _flag(param: click.Parameter | None) -> str:
    return param.opts[0] if isinstance(param, click.Option) else "value"


def apply_all(*options: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


PARAMS = click.option("--params", type=CountParam(1e3), help="Parameters N: 7B, 70b, 1.5e12.")
ACTIVE = click.option("--active-params", type=CountParam(1e3), help="Used per token (MoE).")
PRECISION = click.option(
    "--precision", type=click.Choice([p.value for p in Precision]), help="Default bf16 (fp16)."
)
MFU = click.option("--utilization", type=float, help="MFU 0-1 (default 0.35, range 0.2-0.5).")
DEVICE = apply_all(
    click.option("--device", help="Device as written: A100, H100 SXM, TPUv3, V100 (see hardware)."),
    click.option("--count", type=int, default=1, show_default=True, help="Number of devices."),
)
POWER = apply_all(
    click.option("--power-w", type=float, help="Average power per device, all-in (W)."),
    click.option("--load", type=float, help="Fraction of TDP drawn (default 1.0, range 0.5-1)."),
    click.option("--host-power-w", type=float, default=0.0, help="Power per server w/o devices."),
    click.option("--devices-per-node", type=int, help="Devices per server (default 8)."),
)
WHERE = apply_all(
    click.option("--location", help="Country (FR), zone (US-CAL-CISO), cloud (aws:us-east-1)."),
    click.option("--intensity", type=float, help="Grid intensity, gCO2e/kWh (instead)."),
)
PUE = click.option("--pue", type=float, help="PUE (default: cloud region's, else 1.0-1.56).")
OUT = apply_all(
    click.option("--no-embodied", is_flag=True, help="Leave embodied emissions out."),
    click.option("--lifetime-years", type=float, help="Hardware lifetime (default 4 y)."),
    click.option("--compare-regions", help="Same job in other locations: FR,US,IN."),
    click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout."),
)
ARCH = apply_all(
    click.option("--layers", type=int, help="Layers, for the attention term (with --d-model)."),
    click.option("--d-model", type=int, help="Attention width, for the attention term."),
)
COMPARE_MORE = apply_all(
    click.option("--compare-devices", help="Same job on other devices: A100,H100."),
    click.option("--compare-precisions", help="Same job at other precisions: bf16,fp8."),
)


HOURS = apply_all(
    click.option("--hours", type=float, help="Wall-clock hours."),
    click.option("--device-hours", type=float, help="Device-hours (count × hours): GPU-hours."),
)
TRAINING = apply_all(
    PARAMS,
    click.option("--tokens", type=CountParam(1e3), help="Training tokens D: 2T, 300B."),
    click.option("--flop", type=CountParam(1e6), help="Model FLOPs, instead of params and tokens."),
    ACTIVE,
    click.option(
        "--training",
        type=click.Choice([t.value for t in Training]),
        default="full",
        show_default=True,
        help="full, finetune (6·N·D), peft (4·N·D), sparse (6·N_active·D).",
    ),
    PRECISION,
    MFU,
    click.option("--context", type=int, help="Sequence length, for the attention term."),
    ARCH,
)
