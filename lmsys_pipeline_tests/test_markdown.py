from lmsys_pipeline.markdown import counts_table


def test_counts_table_ranks_and_shares():
    table = counts_table({"en": 3, "zh": 1, "ru": 0}, "language", top=2)
    assert table.splitlines() == [
        "| language | count | share |",
        "|---|---:|---:|",
        "| en | 3 | 75.0% |",
        "| zh | 1 | 25.0% |",
    ]


def test_counts_table_when_empty():
    assert counts_table({}, "model") == "_no model counted_"
