"""How large a label and an answer may be: one set of limits for the summarizer, the hierarchy
and hand edits (``lmsys edit rename-cluster``).

A title is one line in a table, a terminal and a tree: the prompt asks for at most 10 words,
and 120 characters hold ten long words (the bundled sample's LLM titles are 20-60) beside a
cluster's size in a 120-column terminal. A description is two sentences (a category's one or
two): 1,000 characters hold two long ones, several times what models write. Without these
bounds a server answering a 5,000,000-character one-word title grew the database 30-fold and
made ``list-clusters --limit 2`` print 42 MB. An answer body is read up to ``MAX_ANSWER_BYTES``:
a valid one is a few kilobytes (a hierarchy proposal of ``MAX_CATEGORIES`` categories at most
about 115 KB), so anything larger is cut off there and counted as an invalid answer.
"""

MAX_TITLE_WORDS = 10
MAX_TITLE_CHARS = 120
MAX_DESCRIPTION_CHARS = 1_000
MAX_CATEGORIES = 100
MAX_ANSWER_BYTES = 1 << 20


def collapsed(value: str) -> str:
    return " ".join(value.split())


def bounded_title(value: str, what: str = "title") -> str:
    """``value`` with its whitespace collapsed; ``ValueError`` when it is empty or longer than
    ``MAX_TITLE_CHARS``."""
    value = collapsed(value)
    if not value:
        raise ValueError(f"the {what} is empty")
    if len(value) > MAX_TITLE_CHARS:
        raise ValueError(
            f"the {what} is {len(value):,} characters long, more than {MAX_TITLE_CHARS}"
        )
    return value


def bounded_description(value: str) -> str:
    """``value`` with its whitespace collapsed; ``ValueError`` when it is longer than
    ``MAX_DESCRIPTION_CHARS``."""
    value = collapsed(value)
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise ValueError(
            f"the description is {len(value):,} characters long, more than "
            f"{MAX_DESCRIPTION_CHARS:,}"
        )
    return value
