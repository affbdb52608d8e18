import numpy as np

from lmsys_pipeline.hierarchy.offline import (
    Features,
    interleaved,
    merged,
    offline_level,
    ward_groups,
)
from lmsys_pipeline.hierarchy.tree import Node
from lmsys_pipeline.labeling.keyphrases import rank_keyphrases
from lmsys_pipeline.labeling.phrases import MAX_WORDS, PARENT_MAX_WORDS


def _blobs(rng, centres, per, spread=0.05):
    rows = [c + spread * rng.standard_normal((per, len(c))) for c in centres]
    return np.vstack(rows)


def test_weighted_ward_finds_separated_groups_and_leaves_a_far_one_alone():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:3] * 3
    points = np.vstack([_blobs(rng, centres, 5), [[0, 0, 0, 9]]])  # one point far away
    labels = ward_groups(points @ points.T, np.ones(len(points)), 4)
    assert len(set(labels.tolist())) == 4
    for blob in range(3):
        assert len(set(labels[blob * 5 : blob * 5 + 5].tolist())) == 1
    assert np.bincount(labels)[labels[-1]] == 1


def test_ward_matches_a_plain_recomputation_on_random_data():
    """The partner bookkeeping merges the same pairs as recomputing every cost each time."""
    rng = np.random.default_rng(1)
    points = rng.standard_normal((40, 5))
    weights = rng.integers(1, 50, 40).astype(float)
    groups = [[i] for i in range(40)]
    means, sizes = points.copy(), weights.copy()
    alive = list(range(40))
    while len(alive) > 6:
        best = None
        for a_index, a in enumerate(alive):
            for b in alive[a_index + 1 :]:
                cost = sizes[a] * sizes[b] / (sizes[a] + sizes[b])
                cost *= ((means[a] - means[b]) ** 2).sum()
                if best is None or cost < best[0]:
                    best = (cost, a, b)
        _, a, b = best
        means[a] = (sizes[a] * means[a] + sizes[b] * means[b]) / (sizes[a] + sizes[b])
        sizes[a] += sizes[b]
        groups[a] += groups[b]
        alive.remove(b)
    expected = sorted(sorted(groups[a]) for a in alive)
    labels = ward_groups(points @ points.T, weights, 6)
    found = sorted(sorted(np.flatnonzero(labels == g).tolist()) for g in range(6))
    assert found == expected


def test_offline_level_names_parents_by_keyphrases_and_reports_orphans(minilm):
    cards = ["my card was declined", "card payment declined", "declined card at shop"]
    pins = ["change my pin", "reset pin number", "forgot my pin"]
    poems = ["write a poem about the sea"]
    documents = [cards, cards[::-1], pins, pins[::-1], poems]
    vectors = np.array([minilm.embed(d).mean(axis=0) for d in documents], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    titles = ["Declined card", "Card declined", "Change PIN", "Forgot PIN", "Sea poem"]
    children = [Node(i, 0, 10 + i, titles[i], "") for i in range(5)]
    profiles = np.eye(5) * 0.6 + 0.1  # each cluster's queries lean to itself
    features = [Features(v, p, d) for v, p, d in zip(vectors, profiles, documents, strict=True)]
    grouping = offline_level(
        children, features, 3, keyword_weight=0.2, profile_weight=0.3, embedder=minilm
    )
    titles = {tuple(sorted(kids)): title for title, _, kids in grouping.parents}
    assert len(set(titles.values())) == 2
    assert set(titles) == {(0, 1), (2, 3)}
    assert "card" in titles[(0, 1)].lower() or "declined" in titles[(0, 1)].lower()
    assert "pin" in titles[(2, 3)].lower()
    assert grouping.orphans == [4]  # alone: kept at its level, not a parent of one


def test_interleaved_takes_children_in_turn():
    assert interleaved([["a1", "a2", "a3"], ["b1"], ["c1", "c2"]]) == [
        "a1",
        "b1",
        "c1",
        "a2",
        "c2",
        "a3",
    ]


def test_a_parent_is_described_by_its_children_weighted_by_size():
    small = Features(np.array([1.0, 0.0]), np.array([1.0, 0.0]), ["a1", "a2"])
    large = Features(np.array([0.0, 1.0]), np.array([0.0, 1.0]), ["b1"])
    parent = merged([large, small], [3, 1])
    assert np.allclose(parent.centroid, np.array([1.0, 3.0]) / np.sqrt(10))
    assert np.allclose(parent.profile, [0.25, 0.75]) and parent.documents == ["b1", "a1", "a2"]


def test_parents_are_named_in_at_most_four_words_where_a_cluster_gets_five(minilm):
    fees = [
        "fee for exchanging foreign currencies",
        "is there a fee for exchanging foreign currencies",
        "what fee for exchanging foreign currencies abroad",
    ]
    pins = ["change my pin", "reset pin number", "forgot my pin"]
    documents = [fees, fees[::-1], pins, pins[::-1]]
    vectors = np.array([minilm.embed(d).mean(axis=0) for d in documents], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    as_clusters = rank_keyphrases(
        {0: fees + fees, 1: pins + pins}, {0: vectors[0], 1: vectors[2]}, minilm
    )
    assert MAX_WORDS == 5
    assert len(as_clusters[0].title.split()) == 5  # as a cluster: 5 words
    children = [Node(i, 0, 10 + i, t, "") for i, t in enumerate(["Fee", "Fees", "PIN", "Pin"])]
    features = [
        Features(v, np.eye(4)[i], d)
        for i, (v, d) in enumerate(zip(vectors, documents, strict=True))
    ]
    grouping = offline_level(
        children, features, 2, keyword_weight=0.2, profile_weight=0.3, embedder=minilm
    )
    titles = [title for title, _, _ in grouping.parents]
    assert len(titles) == 2
    assert PARENT_MAX_WORDS == 4
    assert all(1 <= len(title.split()) <= 4 for title in titles), titles


def test_a_parent_is_named_by_what_its_children_share_not_by_its_largest_child(minilm, monkeypatch):
    """Declines, double charges and fees are "Payment"; with a cluster's weight of how many
    queries hold a phrase, the parent took its largest child's topic."""
    import lmsys_pipeline.hierarchy.offline as offline
    from lmsys_pipeline.labeling.keyphrases import COVERAGE

    declined = [
        "my payment has been declined",
        "why has my payment been declined",
        "payment has been declined again",
        "card payment declined at the shop",
    ]
    twice = [
        "a payment was charged twice",
        "payment taken twice from my account",
        "charged twice for one payment",
    ]
    fee = ["fee on my card payment", "why is there a fee on this payment", "payment fee too high"]
    pins = [["change my pin", "reset pin number", "forgot my pin"], ["pin blocked", "unblock pin"]]
    documents = [declined, twice, fee, *pins]
    vectors = np.array([minilm.embed(d).mean(axis=0) for d in documents], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    titles = ["Payment declined", "Charged twice", "Fee on my card", "Change PIN", "PIN blocked"]
    children = [Node(i, 0, 40 - i, title, "") for i, title in enumerate(titles)]
    features = [
        Features(v, np.eye(5)[i] * 0.6 + 0.1, d)
        for i, (v, d) in enumerate(zip(vectors, documents, strict=True))
    ]

    def parent_of_payments() -> str:
        grouping = offline_level(
            children, features, 2, keyword_weight=0.2, profile_weight=0.3, embedder=minilm
        )
        return {tuple(sorted(kids)): title for title, _, kids in grouping.parents}[(0, 1, 2)]

    assert parent_of_payments() == "Payment"
    monkeypatch.setattr(offline, "PARENT_COVERAGE", COVERAGE)
    assert "declined" in parent_of_payments().lower()
