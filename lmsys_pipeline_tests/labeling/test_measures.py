from lmsys_pipeline.labeling.measures import (
    content_words,
    duplicate_titles,
    member_fit,
    sibling_overlap,
)


def test_content_words_drop_stop_words_and_plurals():
    assert content_words("Transfers of my Card") == {"transfer", "card"}


def test_sibling_overlap_and_duplicates():
    titles = {1: "Card activation", 2: "Lost cards", 3: "Refund", 4: "refund "}
    assert sibling_overlap(titles, [(1, 2), (2, 3), (3, 4)]) == round(2 / 3, 4)
    assert sibling_overlap(titles, []) is None
    assert duplicate_titles(titles.values()) == 1


def test_member_fit_counts_members_nearest_their_own_title(minilm):
    titles = {0: "Lost or stolen card", 1: "Weather forecast"}
    members = {
        0: minilm.embed(["someone stole my card", "I lost my card"]),
        1: minilm.embed(["will it rain tomorrow", "my card was stolen"]),
    }
    assert member_fit(titles, members, minilm) == 0.75
    assert member_fit({0: "x"}, members, minilm) is None
