"""The one error type for what a user must fix.

Every stage raises a subclass of ``UserError`` for input, settings or state that the user can
fix, with a one-sentence message. The CLI prints it as ``Error: <sentence>`` and exits 1
(``cli/app.py``); Dagster reports it as a user failure without retries
(``defs/failures.py``). Anything else is a bug and keeps its traceback.
"""

from pydantic import ValidationError


class UserError(Exception):
    """Input, settings or state the user must fix, explained in one sentence."""


def settings_error(error: ValidationError, options: dict[str, str] | None = None) -> UserError:
    """A pydantic validation error as one sentence naming the option the user typed.

    ``options`` maps field names to the way the user gave them (``--min-samples``); fields not
    in it are shown as ``--field-name``. Messages from the project's own validators are already
    sentences and pass through unchanged.
    """
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "value_error":
        return UserError(message)
    field = str(first["loc"][-1]) if first["loc"] else ""
    option = (options or {}).get(field) or "--" + field.replace("_", "-")
    given = first.get("input")
    shown = "" if given is None or isinstance(given, dict) else f" {given}"
    return UserError(f"{option}{shown}: {message[:1].lower()}{message[1:]}.")
