"""Candidate phrases: the words a title may be made of."""

from lmsys_pipeline.labeling.phrases import candidate_phrases, stop_words


def test_candidates_neither_start_nor_end_with_stop_words_and_skip_code():
    stops = stop_words()
    prompt = "Write a Python function that sorts a list\nimport numpy_thing\ndef fooBar(x):"
    found = candidate_phrases(prompt, stops)
    assert "python function" in found and "sorts a list" in found
    assert "write a python function that sorts" not in found  # six words
    assert not any(p.split()[0] in stops or p.split()[-1] in stops for p in found)
    assert not any("numpy" in p or "foobar" in p or "import" in p for p in found)
    assert "card hasn't arrived" in candidate_phrases("My card hasn\u2019t arrived yet", stops)
    assert "hasn't arrived" not in candidate_phrases("It hasn't arrived", stops)
    assert candidate_phrases("\u8bf7\u5e2e\u6211\u5199\u4e00\u7bc7" * 6, stops) == {}
    tail = candidate_phrases("How long will my transfer take to steal my neighbor's car", stops)
    assert "transfer" in tail and "neighbor's car" in tail
    assert not any(p.startswith("long") or p.endswith("neighbor's") for p in tail)


def test_no_candidate_is_a_question_s_tail():
    """Fragments the demo and Banking77 gave as titles ("ATMs can I use", "Approximately how
    long", "Alarms do i have set") are never candidates; the names inside them still are."""
    stops = stop_words()
    atms = candidate_phrases("Which ATMs can I use?", stops)
    assert "atms" in atms and not any("can i" in p for p in atms)
    how_long = candidate_phrases("Approximately how long does a transfer take", stops)
    assert "transfer" in how_long
    assert not any(p.split()[-1] == "long" for p in how_long)
    alarms = candidate_phrases("What alarms do I have set for tomorrow", stops)
    assert "alarms" in alarms and not any(" i " in f" {p} " for p in alarms)
    countries = candidate_phrases("Which countries do you support for card delivery", stops)
    assert "card delivery" in countries and "countries do you support" not in countries
    for question in ("Which fees do they charge", "Which cards can't I use", "Cards has she got"):
        found = candidate_phrases(question, stops)
        assert found and not any(len(p.split()) > 1 for p in found), found
