"""The offline keyphrase summarizer (local/keyphrase) on real embedded queries."""

from lmsys_pipeline.labeling.keyphrases import rank_keyphrases
from lmsys_pipeline.labeling.measures import LABEL_MEASURES
from lmsys_pipeline.labeling.phrases import MAX_WORDS
from lmsys_pipeline.summarizing.selection import fetch_texts, load_run_view
from lmsys_pipeline_tests.summarizing.conftest import CLUSTERS
from lmsys_pipeline_tests.support.llm import rows
from lmsys_pipeline_tests.support.pipeline_data import summarize


def _plain(text: str) -> str:
    return " ".join(text.casefold().replace("\u2019", "'").split())


def test_titles_are_distinct_phrases_of_the_members_and_measures_are_stored(clustered):
    db, run_id = clustered
    report = summarize(db, run_id, "kp")
    found = rows(db, report.entry.summary_run_id)
    assert len(found) == CLUSTERS and report.entry.model == "local/keyphrase"
    titles = [r.title for r in found]
    assert len({t.casefold() for t in titles}) == CLUSTERS
    view = load_run_view(db, run_id)
    texts = fetch_texts(db, view.query_ids)
    for row in found:
        members = [_plain(texts[int(q)]) for q in view.query_ids[view.members[row.cluster_id]]]
        words = len(row.title.split())
        assert words > 0, row.title
        assert words <= 5, row.title  # the promised length
        assert any(_plain(row.title) in member for member in members), row.title
        assert row.description.split(" ", 2)[1:2] == ["queries"]
        assert "The most central queries are" in row.description
    assert MAX_WORDS == 5  # the module keeps the promise the titles above were held to
    measures = report.entry.parameters[LABEL_MEASURES]
    assert 0 < measures["member_fit"] <= 1 and measures["member_fit_queries"] > 0
    assert 0 <= measures["sibling_overlap"] <= 1 and measures["duplicate_titles"] == 0


def test_groups_with_the_same_best_phrase_never_share_a_title(minilm):
    texts = {
        0: ["my card was stolen", "stolen card abroad", "card stolen yesterday"],
        1: ["my card was stolen", "stolen card at home", "someone stole my card"],
        2: ["refund for my order", "how to get a refund", "refund not received"],
    }
    centroids = {g: minilm.embed(t).mean(axis=0) for g, t in texts.items()}
    found = rank_keyphrases(texts, centroids, minilm)
    titles = [found[g].title.casefold() for g in texts]
    assert len(set(titles)) == 3
    assert "refund" in titles[2]
    taken = rank_keyphrases(texts, centroids, minilm, taken={found[2].title})
    assert taken[2].title.casefold() != titles[2]
    holding = [found[2].phrases[0] in text for text in texts[2]]
    assert found[2].coverage[0] == sum(holding) / 3  # share of the group's texts with it


def test_text_vectors_keep_the_phrases_whose_texts_sit_firmly_in_the_group(minilm, monkeypatch):
    import lmsys_pipeline.labeling.keyphrases as keyphrases

    monkeypatch.setattr(keyphrases, "FIT_SHORTLIST", 1)
    texts = {
        0: ["card delivery late", "card delivery late", "refund request now", "refund request now"],
        1: ["refund status please", "refund status please", "money back"],
    }
    vectors = {g: minilm.embed(t) for g, t in texts.items()}
    centroids = {g: v.mean(axis=0) for g, v in vectors.items()}
    # both phrases of group 0 are used twice; only 'card delivery late' texts sit near group 0
    found = rank_keyphrases(texts, centroids, minilm, text_vectors=vectors)
    assert set(found[0].title.casefold().split()) <= {"card", "delivery", "late"}
    assert found[0].phrases == [found[0].phrases[0]]  # one phrase embedded: the firmest
    unnarrowed = rank_keyphrases(texts, centroids, minilm)
    assert len(unnarrowed[0].phrases) > 1


def test_a_title_gives_way_not_to_share_a_word_with_a_nearest_groups(minilm, monkeypatch):
    import lmsys_pipeline.labeling.keyphrases as keyphrases

    texts = {
        0: ["card stolen abroad", "card stolen abroad", "my card stolen"],
        1: ["card stolen yesterday", "stolen wallet yesterday", "card stolen yesterday"],
    }
    centroids = {g: minilm.embed(t).mean(axis=0) for g, t in texts.items()}
    words = {}
    for margin in (0.0, 1.0):
        monkeypatch.setattr(keyphrases, "SIBLING_MARGIN", margin)
        found = rank_keyphrases(texts, centroids, minilm)
        words[margin] = [set(found[g].title.casefold().split()) for g in texts]
    assert words[0.0][0] & words[0.0][1]  # the best phrases share a word...
    assert not words[1.0][0] & words[1.0][1]  # ...which a sibling gives way on


def _sample_prompts(source: str, pattern: str, count: int) -> list[str]:
    from importlib.resources import files

    import polars as pl

    sample = pl.read_parquet(str(files("lmsys_pipeline") / "data" / "sample.parquet"))
    texts = sample.with_columns(
        text=pl.col("conversation").list.first().struct.field("content")
    ).filter((pl.col("source") == source) & pl.col("text").str.contains(pattern))
    return texts["text"].head(count).to_list()


def test_real_code_prompts_are_named_by_their_task_not_an_identifier(minilm):
    """Chatbot Arena prompts that ask for Python (the bundled sample's) against two other
    real families: the title says what is asked ("Write a Python script"), not "Python"."""
    texts = {
        "python": _sample_prompts("arena_hard", r"(?i)\bwrite\b.*\bpython\b", 40),
        "card": _sample_prompts("banking77", r"(?i)\bcard\b", 40),
        "redteam": _sample_prompts("hh_rlhf", r"(?i)\bhow\b", 40),
    }
    assert len(texts["python"]) >= 10
    vectors = {k: minilm.embed(v) for k, v in texts.items()}
    centroids = {k: v.mean(axis=0) for k, v in vectors.items()}
    title = rank_keyphrases(texts, centroids, minilm, text_vectors=vectors)["python"].title
    words = title.casefold().split()
    assert words[0] in {"write", "create", "generate", "implement"} and "python" in words, title


def test_a_group_is_named_in_the_script_most_of_its_texts_use(minilm):
    chinese = "\u8bf7\u7528\u4e2d\u6587\u56de\u7b54"  # one sentence, repeated below
    texts = {
        0: ["reset my card pin", "card pin blocked", "new card pin please", chinese, chinese],
        1: [chinese, chinese, f"{chinese}\u4e00", "hola que tal"],
    }
    centroids = {g: minilm.embed(t).mean(axis=0) for g, t in texts.items()}
    found = rank_keyphrases(texts, centroids, minilm)
    assert found[0].title.isascii()
    assert not found[1].title.isascii()
