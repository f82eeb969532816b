"""Evaluation: the benchmark harness, Pareto fronts and leaderboards.

`benchmark` (also `carbonlens.benchmark`) measures a function per batch size;
`pareto` ranks runs on a quality metric and a cost; `leaderboard` exports the
ranking as Markdown, CSV or JSON. See docs/evaluate.md.
"""
