"""The function's command line: the SDK's standard flags, serving FunctionRunner."""

import click
from crossplane.function import cli as sdkcli

from function import fn


@click.command()
@sdkcli.standard_options
def cli(**options: object) -> None:
    """Serve function-gitops-cluster over gRPC."""
    try:
        sdkcli.run(fn.FunctionRunner(), **options)  # type: ignore[arg-type]
    except Exception as exc:
        click.echo(f"Cannot run function: {exc}", err=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    cli()
