"""`carbonlens schema [NAME]`: the JSON Schema of a `--json` document, or the list of them.

The schemas are bundled files (`carbonlens.schemas`); nothing is fetched.
"""

from __future__ import annotations

import click

from carbonlens._cli_common import CliFailure, print_json


@click.command("schema")
@click.argument("name", required=False)
def schema_command(name: str | None) -> None:
    """Print the JSON Schema of NAME's documents (`run`, `doctor`, ...), or list the names.

    Without NAME, one line per schema: its name and the command that prints such
    documents. Validate with any draft 2020-12 validator (docs/json.md#json-schemas).
    """
    from carbonlens.schemas import names, schema

    if name is None:
        width = max(map(len, names()))
        for each in names():
            click.echo(f"{each:<{width}}  {schema(each)['title']}")
        return
    if name not in names():
        raise CliFailure(f"no JSON schema {name!r}; the schemas are: {', '.join(names())}")
    print_json(schema(name))
