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
    from carbonlens.serving.cost import ServingCost, serving_cost, serving_totals
    from carbonlens.serving.ledger import Ledger, Settlement
    from carbonlens.serving.prometheus import PrometheusExporter
    from carbonlens.serving.request import ServedRequest, current_request
    from carbonlens.serving.store import WindowWriter, summaries_from_points
    from carbonlens.serving.summary import RequestRecord, RouteStats, ServingSummary

_LAZY = {
    "CarbonMiddleware": "carbonlens.serving.asgi",
    "Ledger": "carbonlens.serving.ledger",
    "PrometheusExporter": "carbonlens.serving.prometheus",
    "RequestRecord": "carbonlens.serving.summary",
    "RouteStats": "carbonlens.serving.summary",
    "ServedRequest": "carbonlens.serving.request",
    "ServingCost": "carbonlens.serving.cost",
    "ServingSummary": "carbonlens.serving.summary",
    "Settlement": "carbonlens.serving.ledger",
    "WindowWriter": "carbonlens.serving.store",
    "current_request": "carbonlens.serving.request",
    "serving_cost": "carbonlens.serving.cost",
    "serving_totals": "carbonlens.serving.cost",
    "summaries_from_points": "carbonlens.serving.store",
}

__all__ = [
    "CarbonMiddleware",
    "Ledger",
    "PrometheusExporter",
    "RequestRecord",
    "RouteStats",
    "ServedRequest",
    "ServingCost",
    "ServingSummary",
    "Settlement",
    "WindowWriter",
    "current_request",
    "serving_cost",
    "serving_totals",
    "summaries_from_points",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
