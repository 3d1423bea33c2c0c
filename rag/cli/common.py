"""The CLI frame: every command's set-up, and one table from mmrag's errors to exit codes.

Exit codes, the same for every ``mmrag`` command (README, "Exit codes")::

    0    success
    1    some inputs failed while the rest succeeded, a check failed (eval gate, model
         probe), or an unexpected error
    2    usage or bad input: an option, argument, file, path, job id or message mmrag cannot
         use (BadInputError, NotFoundError)
    3    mmrag could not run: settings, a model, the store, a job that collides (any other
         MmragError)
    4    the upstream answered with a SOAP Fault (the fault is printed as JSON on stderr)
    5    an upstream failed: timeout, unreachable, invalid reply, overloaded
    6    a mapping that does not validate
    130  interrupted (Ctrl-C)

The table is looked up along the error's class hierarchy, most specific first, as the API's
(:mod:`rag.api.problems`) is for HTTP statuses. Only typer and the (light) error tree are
imported here, so ``mmrag --help`` stays instant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from rag.errors import (
    BadInputError,
    MappingError,
    MmragError,
    NotFoundError,
    OverloadedError,
    SoapFaultError,
    UpstreamError,
)

if TYPE_CHECKING:
    from rag.runtime import Runtime
    from rag.settings import Settings

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_FAULT",
    "EXIT_FOR_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID_MAPPING",
    "EXIT_OK",
    "EXIT_UPSTREAM",
    "EXIT_USAGE",
    "domain_errors",
    "exit_code_for",
    "fail",
    "runtime",
    "setup",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_FAULT = 4
EXIT_UPSTREAM = 5
EXIT_INVALID_MAPPING = 6
EXIT_INTERRUPTED = 130

# Most specific first: the first class in an error's MRO found here decides the code.
EXIT_FOR_ERROR: dict[type[MmragError], int] = {
    SoapFaultError: EXIT_FAULT,
    MappingError: EXIT_INVALID_MAPPING,
    UpstreamError: EXIT_UPSTREAM,
    OverloadedError: EXIT_UPSTREAM,
    BadInputError: EXIT_USAGE,
    NotFoundError: EXIT_USAGE,
    MmragError: EXIT_ERROR,
}

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(error: MmragError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_FOR_ERROR:
            return EXIT_FOR_ERROR[cls]
    return EXIT_ERROR


def fail(error: MmragError) -> typer.Exit:
    """Say what went wrong on stderr (a SOAP Fault as JSON, anything else in one line plus
    the fields it names) and return the exit to raise."""
    if isinstance(error, SoapFaultError):
        from translators.convert.jsonout import dumps  # keeps the fault's decimals exact

        fault = {"error": error.code, "fault": error.extra.get("fault")}
        typer.echo(dumps(fault, pretty=True), err=True)
        return typer.Exit(EXIT_FAULT)
    typer.echo(f"error ({error.code}): {error.detail}", err=True)
    errors = error.extra.get("errors")
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict):
                typer.echo(f"  {item.get('path')}: {item.get('reason')}", err=True)
    return typer.Exit(exit_code_for(error))


def domain_errors(func: F) -> F:
    """A command whose mmrag errors end it with :func:`fail` (message and exit code)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MmragError as exc:
            raise fail(exc) from exc

    return wrapper  # type: ignore[return-value]


def setup(console: Any = None) -> Settings:
    """Settings from the environment, logging configured (through ``console`` when one
    draws live progress)."""
    from rag.runtime import setup as setup_runtime

    return setup_runtime(console=console)


def runtime(console: Any = None) -> Runtime:
    """The composition root of this command (see :mod:`rag.runtime`), after :func:`setup`."""
    from rag.runtime import Runtime

    return Runtime(setup(console))
