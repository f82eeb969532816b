"""The local web dashboard (the `dashboard` extra): runs, a run, a comparison, a project.

It reads the run store only, never a sensor: `queries` shapes the store's runs
into plain data, `app` serves them as pages and JSON (Starlette, Jinja
templates, inline SVG charts, no request beyond its own server), `security`
checks the host or token of every request and `server` binds 127.0.0.1 unless a
token is given. Nothing here is imported by `import carbonlens`.
"""
