"""How faults reach the person at the terminal: the one sentence that says why a Dagster run
the CLI launched failed (the cause, not Dagster's wrapper), and whole numbers that the database
cannot hold refused before a command runs."""

import functools
from collections.abc import Callable, Iterator
from typing import Any

from lmsys_pipeline.errors import UserError


def bound_whole_numbers(group: Any) -> None:
    """Every command under ``group`` (sub-groups included) refuses a whole number that the
    database cannot hold (``within_database_range``)."""
    for command in group.commands.values():
        if hasattr(command, "commands"):
            bound_whole_numbers(command)
        elif command.callback is not None and not hasattr(command.callback, "bounded"):
            command.callback = within_database_range(command, command.callback)


def within_database_range(command: Any, callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` refusing, in one sentence, any whole number among its arguments that the
    database cannot hold (a 23-digit query id, ``--limit`` 10**30 ...), before it runs."""
    from lmsys_pipeline.db.faults import database_integer

    labels = {
        param.name: param.opts[0]
        if param.param_type_name == "option"
        else str(param.name).replace("_", " ").capitalize()
        for param in command.params
    }

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            for number in value if isinstance(value, list | tuple) else (value,):
                if isinstance(number, int) and not isinstance(number, bool):
                    database_integer(number, labels.get(name, name))
        return callback(*args, **kwargs)

    checked.bounded = True  # type: ignore[attr-defined]
    return checked


def run_failure_message(result: Any) -> str:
    """Why a run failed, in one sentence: the ``Failure`` a step raised for a ``UserError``, a
    ``UserError`` anywhere in a failure's chain of causes (resource set-up included), else the
    first error in that chain that is not Dagster's causeless wrapper."""
    fallback = None
    for event in result.all_events:
        data = event.event_specific_data
        described = getattr(data, "user_failure_data", None)
        if described is not None and described.description:
            return described.description
        error = getattr(data, "error", None)
        if error is None:
            continue
        chain = list(_causes(error))
        for link in chain:
            if link.cls_name in _user_error_names():
                return _error_text(link)
        cause = next((e for e in chain if not e.cls_name.startswith("Dagster")), chain[-1])
        fallback = fallback or f"{cause.cls_name}: {_error_text(cause)} (-v shows the run's log)"
    return fallback or "the run failed; see the Dagster UI for its logs."


def _causes(error: Any) -> Iterator[Any]:
    while error is not None:
        yield error
        error = error.cause or error.context


def _error_text(error: Any) -> str:
    """A serialized error's message without its ``module.Class: `` prefix, first line only."""
    lines = error.message.strip().splitlines() or [""]
    head, separator, rest = lines[0].partition(": ")
    return rest if separator and head.endswith(error.cls_name) else lines[0]


def _user_error_names() -> set[str]:
    names, pending = set(), [UserError]
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending.extend(kind.__subclasses__())
    return names
