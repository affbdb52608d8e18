"""The suite's own machinery: ``_embeddings_computed_once`` (conftest.py) answers a repeated
``embed`` call from memory, and only with what the model computes for exactly that call."""

import numpy as np

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
