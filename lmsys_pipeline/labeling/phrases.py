"""Candidate phrases of a text, the words a title may be made of.

A candidate is a run of 1 to ``MAX_WORDS`` words of prose (code-like lines and identifiers are
skipped, and a long prompt gives only its first ``PROSE_WORDS`` words, so a programming task
is named by what it asks, not by its first identifiers) that reads as a name: it neither
starts nor ends with a stop word or a word of a question's tail, holds no question's inversion
and ends with no possessive. labeling/keyphrases.py ranks them by meaning.
"""

import re
import unicodedata
from functools import cache
from itertools import pairwise

from lmsys_pipeline.labeling.tfidf import CHAT_STOP_WORDS

# Words in a cluster's candidate phrase: 5 names "Fee for exchanging foreign currencies" and
# raised title -> intent by 4 / 2 points on Banking77 / HWU64 over 4 (benchmarks/RESULTS.md).
# A parent category keeps 4: its name spans its children, and longer ones read as one child's.
MAX_WORDS = 5
PARENT_MAX_WORDS = 4
PROSE_WORDS = 60  # words of prose read from each text: a long prompt states its task first
PROSE_CHARS = 2_000  # and never more than its first characters
MAX_WORD_CHARS = 24  # longer "words" (unspaced scripts, run-together strings) end a run
# words that start or end the tail of a question ("how long will...", "am I able to...",
# "approximately how long") or a state, never a name
QUESTION_TAIL = frozenset(
    {"able", "long", "much", "many", "possible", "sure", "going", "trying", "tried"}
    | {"currently", "already", "still", "really", "actually", "wanted", "getting"}
)
# an auxiliary then its subject inverts a question inside a phrase ("ATMs can I use", "Alarms
# do I have set"): the phrase is a question's tail, never a name
AUXILIARIES = frozenset(
    {"can", "could", "do", "does", "did", "will", "would", "should", "shall", "may", "might"}
    | {"must", "am", "is", "are", "was", "were", "have", "has", "had"}
)
SUBJECTS = frozenset({"i", "you", "we", "they", "he", "she", "it"})
NEGATED = {"ca": "can", "wo": "will", "sha": "shall"}  # "can't", "won't", "shan't"

# a word, or any other single character (punctuation, a digit), which ends a run of words
WORD = re.compile("[^\\W\\d_][\\w'\u2019-]*|\\S")
PROSE_WORD = re.compile("[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+)*")
CAMEL_CASE = re.compile("[a-z][A-Z]")
CODE_LINE = re.compile(r"[{};=<>]|^\s*(?:import|from|def|class|return|#include)\b|\w\(")
GENERIC = frozenset(
    {"answer", "help", "question", "questions", "thing", "things", "way", "ways", "yes", "ok"}
)


@cache
def stop_words() -> frozenset[str]:
    """Built once per process: every title's content words are read against them."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS | CHAT_STOP_WORDS | GENERIC)


def _prose_chunks(text: str) -> list[list[str]]:
    """Runs of plain words (no identifiers, digits or code lines), at most ``PROSE_WORDS``."""
    chunks: list[list[str]] = []
    words = 0
    for line in text[:PROSE_CHARS].splitlines():
        if CODE_LINE.search(line):
            continue
        run: list[str] = []
        for token in WORD.findall(line):
            if (
                len(token) <= MAX_WORD_CHARS
                and PROSE_WORD.fullmatch(token)
                and not CAMEL_CASE.search(token)
            ):
                run.append(token)
                words += 1
                continue
            chunks.append(run)
            run = []
        chunks.append(run)
        if words >= PROSE_WORDS:
            break
    return [c for c in chunks if c]


def candidate_phrases(
    text: str, stops: frozenset[str], max_words: int = MAX_WORDS
) -> dict[str, str]:
    """Lower-cased phrase → its first spelling in ``text``: 1 to ``max_words`` words that
    neither start nor end with a stop word, neither start nor end with a word of a question's
    tail ("Long will my transfer", "Approximately how long"), never hold a question's
    inversion ("ATMs can I use") and never end with a possessive ("Steal my neighbor's")."""
    found: dict[str, str] = {}
    for words in _prose_chunks(text):
        lowered = [w.lower().replace("\u2019", "'") for w in words]
        # a contraction of a stop word ("didn't", "what's") is one too
        edge = [w not in stops and w.partition("'")[0] not in stops for w in lowered]
        for start, first in enumerate(lowered):
            if not edge[start] or len(first) < 2 or first in QUESTION_TAIL:
                continue
            for end in range(start + 1, min(start + max_words, len(words)) + 1):
                last = lowered[end - 1]
                if (
                    not edge[end - 1]
                    or last.endswith("'s")
                    or last in QUESTION_TAIL
                    or (end - start == 1 and len(first) < 3)
                    or _inverted(lowered[start:end])
                ):
                    continue
                found.setdefault(" ".join(lowered[start:end]), " ".join(words[start:end]))
    return found


def _auxiliary(word: str) -> bool:
    stem = word.removesuffix("n't")
    return NEGATED.get(stem, stem) in AUXILIARIES


def _inverted(words: list[str]) -> bool:
    """An auxiliary followed by its subject: "can I", "don't you", "does she", "have I"."""
    return any(_auxiliary(a) and b in SUBJECTS for a, b in pairwise(words))


@cache
def _letter_script(letter: str) -> str:
    return unicodedata.name(letter, "?").split(" ")[0]


def script(phrase: str) -> str:
    """The writing system of a phrase's first letter: LATIN, CJK, CYRILLIC, HANGUL..."""
    return _letter_script(next((c for c in phrase if c.isalpha()), "?"))
