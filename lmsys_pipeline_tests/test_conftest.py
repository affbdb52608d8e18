"""The suite's own machinery: ``_embeddings_computed_once`` (conftest.py) answers a repeated
``embed`` call from memory, and only with what the model computes for exactly that call; and
OpenMP threads wait passively in the workers and the programs they start."""

import subprocess
import sys

import numpy as np
import pytest

TEXTS = ["How do I reset my password?", "Write a haiku about autumn.", "What is 2 + 2?"]


def test_a_repeated_call_is_the_models_answer_bit_for_bit_and_a_private_copy(minilm):
    first = minilm.embed(TEXTS)
    assert np.array_equal(first, minilm.encoder.encode(TEXTS))  # the model itself, not memory
    first[:] = 0
    again = minilm.embed(TEXTS)
    assert np.array_equal(again, minilm.encoder.encode(TEXTS))  # a change to one answer stays
    assert again is not first


def test_another_list_of_texts_is_computed_for_itself(minilm):
    minilm.embed(TEXTS)
    for other in (TEXTS[::-1], TEXTS[:2], [*TEXTS, "One more."]):
        answer = minilm.embed(other)
        assert answer.shape == (len(other), minilm.dimension)
        assert np.array_equal(answer, minilm.encoder.encode(other))


@pytest.mark.subprocess
def test_openmp_threads_wait_passively_here_and_in_programs_the_tests_start():
    """Spinning threads took the other worker's core (benchmarks/omp_wait.py)."""
    started = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['OMP_WAIT_POLICY'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert started.stdout.strip() == "passive"
