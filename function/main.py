"""The function's command line: the SDK's standard flags, serving FunctionRunner."""

import ctypes
import ctypes.util

import click
from crossplane.function import cli as sdkcli

from function import fn

# glibc mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Buffers this large come from mmap and go back to the OS when freed.
_MMAP_THRESHOLD = 128 * 1024
_ARENA_MAX = 2


def bound_malloc() -> None:
    """Keep freed request buffers from staying resident (SPEC §5: memory bounded in bytes).

    glibc raises its mmap threshold after the first large buffer is freed, so later
    ones (a near-1 MiB kubeconfig, its translation, the answer) come from heap arenas,
    one per gRPC thread, which fragment and rarely shrink: 600 such requests left the
    server about 20 MB larger at its peak. A fixed threshold and two arenas keep it near
    what is live. Elsewhere than glibc this does nothing.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        mallopt(_M_ARENA_MAX, _ARENA_MAX)


@click.command()
@sdkcli.standard_options
def cli(**options: object) -> None:
    """Serve function-gitops-cluster over gRPC."""
    bound_malloc()
    try:
        sdkcli.run(fn.FunctionRunner(), **options)  # type: ignore[arg-type]
    except Exception as exc:
        click.echo(f"Cannot run function: {exc}", err=True)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    cli()
