"""Energy and carbon per request of a model server, measured live.

Each sampling interval's measured energy is shared among the requests in flight
during it, in proportion to their overlap (and tokens, when reported); the time
with no request in flight is idle energy, reported apart. See docs/serving.md.

    tracker = carbonlens.Tracker(project="chat-api", country="FR").start()
    ledger = Ledger.for_tracker(tracker)
    app.add_middleware(CarbonMiddleware, ledger=ledger)   # Starlette / FastAPI
    PrometheusExporter(ledger).serve(port=9464)

Names are imported on first use, so `import carbonlens.serving` loads neither
the ASGI code nor prometheus-client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carbonlens.serving.asgi import CarbonMiddleware
    from carbonlens.serving.ledger import Ledger, Settlement
    from carbonlens.serving.prometheus import PrometheusExporter
    from carbonlens.serving.request import ServedRequest, current_request
    from carbonlens.serving.store import WindowWriter, summaries_from_points
    from carbonlens.serving.summary import (
        EstimateComparison,
        RequestRecord,
        RouteStats,
        ServingSummary,
        compare,
    )

_LAZY = {
    "CarbonMiddleware": "carbonlens.serving.asgi",
    "EstimateComparison": "carbonlens.serving.summary",
    "Ledger": "carbonlens.serving.ledger",
    "PrometheusExporter": "carbonlens.serving.prometheus",
    "RequestRecord": "carbonlens.serving.summary",
    "RouteStats": "carbonlens.serving.summary",
    "ServedRequest": "carbonlens.serving.request",
    "ServingSummary": "carbonlens.serving.summary",
    "Settlement": "carbonlens.serving.ledger",
    "WindowWriter": "carbonlens.serving.store",
    "compare": "carbonlens.serving.summary",
    "current_request": "carbonlens.serving.request",
    "summaries_from_points": "carbonlens.serving.store",
}

__all__ = [
    "CarbonMiddleware",
    "EstimateComparison",
    "Ledger",
    "PrometheusExporter",
    "RequestRecord",
    "RouteStats",
    "ServedRequest",
    "ServingSummary",
    "Settlement",
    "WindowWriter",
    "compare",
    "current_request",
    "summaries_from_points",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
