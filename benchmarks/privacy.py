"""The privacy gate (issue 26): recall of planted personal data in titles and descriptions,
false findings on clean Banking77 and HWU64, and the gate's speed over 1,000 clusters.

1. A planted set: ``--sample`` queries of the bundled sample plus 300 synthetic ones on five
   topics (billing e-mail changes with e-mail addresses; call-back requests with phone numbers
   in three formats; card disputes with card numbers; transfers with IBANs; introductions with
   person names), embedded with all-MiniLM-L6-v2, KMeans (k = queries / 20), summarized twice:
   offline (``local/keywords``: the central query quoted in each description) and by a leaky
   "LLM" on a loopback server that ignores the privacy instruction (``leaky_label``: titles end
   with the central query's last words, descriptions quote it). Every planted value that
   reaches a stored title or description is an item; recall: the items a finding of the right
   kind covers. The same over the planted queries themselves, and the findings left in public
   fields (``privacy/view.py``: what ``publish`` would show).
2. Clean data: every Banking77 and HWU64 text, their intent names, and offline titles and
   descriptions of each intent's queries (``keyword_labels`` over the labelled groups, as a
   perfect clustering would get them): the number of findings (goal: 0).
   Near-verbatim quotes (``quotes.NearQuotes``): the same offline labels, and the default
   offline summarizer's (``local/keyphrase``, ranked with all-MiniLM-L6-v2 against each
   intent's centroid), after whole quotes of the 20 shown queries are withheld, against every
   text of their intent as members: titles withheld (goal: 0) and descriptions withheld.
3. Speed: the detector over 1,000 clusters' titles and descriptions, and the whole public pass
   (detector + quote withholding against 20 representative queries per cluster); the
   near-verbatim pass over all 24,116 clean texts as members.

    .venv/bin/python benchmarks/privacy.py [--sample 3000]
"""

import argparse
import csv
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.embedding.embedders import load_embedder
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.labeling.keyphrases import rank_keyphrases
from lmsys_pipeline.labeling.phrases import stop_words
from lmsys_pipeline.privacy.detect import CARD, EMAIL, IBAN, PHONE, find, luhn_valid
from lmsys_pipeline.privacy.quotes import NearQuotes, QuoteFinder
from lmsys_pipeline.privacy.view import public_view
from lmsys_pipeline.summarizing.keyphrase import MEMBER_TEXTS, describe
from lmsys_pipeline.summarizing.keywords import keyword_labels
from lmsys_pipeline.summarizing.selection import ClusterBrief
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import summarize
from lmsys_pipeline_tests.support.rows import message, row, write_parquet

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
PER_KIND = 60
FIRST = ["Maria", "James", "Aisha", "Chen", "Olga", "Diego", "Fatima", "Lukas", "Priya", "Tom"]
LAST = ["Garcia", "Okafor", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Haddad", "Silva"]


def _card(rng: random.Random) -> str:
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    digits = body + check
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [("DE", "".join(str(rng.randrange(10)) for _ in range(18))),
         ("GB", "WEST" + "".join(str(rng.randrange(10)) for _ in range(14))),
         ("FR", "".join(str(rng.randrange(10)) for _ in range(23)))]
    )  # fmt: skip
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _phone(rng: random.Random, i: int) -> str:
    import phonenumbers

    while True:
        area, line = rng.choice(["212", "415", "617", "312"]), rng.randrange(2000, 9999)
        number = (
            f"({area}) {rng.randrange(200, 999)}-{line}",
            f"+44 20 7{rng.randrange(100, 999)} {line}",
            f"{area}.{rng.randrange(200, 999)}.{line}",
        )[i % 3]
        region = "GB" if number.startswith("+44") else "US"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
            return number


def planted(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, value, query text): 60 per kind, each kind one topic."""
    found = []
    for i in range(PER_KIND):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{name.lower().replace(' ', '.')}{rng.randrange(100)}@example.com"
        found += [
            (EMAIL, email, f"Please change the billing e-mail on my account to {email}"),
            (PHONE, (p := _phone(rng, i)), f"Can your support team call me back at {p} today?"),
            (CARD, (c := _card(rng)), f"I want to dispute a charge on my card {c}"),
            (IBAN, (b := _iban(rng)), f"Send my refund by bank transfer to IBAN {b}"),
            ("name", name, f"Hi, my name is {name}, write me a short introduction for work"),
        ]
    return found


def covered(text: str, value: str, kind: str) -> bool:
    start = text.find(value)
    return any(f.kind == kind and f.start <= start and f.end >= start + len(value)
               for f in find(text))  # fmt: skip


def leaky_label(prompt: str) -> dict[str, str]:
    """An LLM that ignores the privacy instruction: its title is the last seven words of the
    most central query, its description quotes that query and paraphrases the second."""
    queries = re.findall(r"^(\d+)\. (.+)$", prompt, re.MULTILINE)
    first = queries[0][1] if queries else "queries"
    second = queries[1][1] if len(queries) > 1 else first
    title = " ".join(first.split()[-7:])[:120]
    return {
        "title": title,
        "description": f"Users ask things like: {first[:300]}. Another writes {second[:300]}.",
    }


def _measure(items: list, labels: list) -> dict:
    fields = {"title": [t or "" for t, _ in labels], "description": [d or "" for _, d in labels]}
    reached: dict[str, int] = {}
    hits: dict[str, int] = {}
    for kind, value, _ in items:
        for name, texts in fields.items():
            for text in texts:
                if value in text:
                    key = f"{kind}/{name}"
                    reached[key] = reached.get(key, 0) + 1
                    hits[key] = hits.get(key, 0) + (kind != "name" and covered(text, value, kind))
    pattern = [k for k in reached if not k.startswith("name/")]
    return {
        "reached": dict(sorted(reached.items())),
        "recall": {k: round(hits[k] / reached[k], 4) for k in sorted(pattern)},
        "recall_all_pattern_kinds": round(
            sum(hits[k] for k in pattern) / max(1, sum(reached[k] for k in pattern)), 4
        ),
    }


def _labels(db: DatabaseManager, run_id: str, alias: str) -> list:
    with db.engine.connect() as connection:
        return connection.execute(
            select(ClusterSummary.title, ClusterSummary.description).where(
                ClusterSummary.run_id == run_id, ClusterSummary.alias == alias
            )
        ).all()


def planted_run(sample: int, workdir: Path) -> dict:
    rng = random.Random(26)
    items = planted(rng)
    db = DatabaseManager(workdir / "planted.db")
    ingest_batches(db, open_source(None).batches(10_000), limit=sample)
    rows = [row(f"planted-{i}", [message("user", q)]) for i, (_, _, q) in enumerate(items)]
    ingest_batches(db, open_source(str(write_parquet(workdir / "p.parquet", rows))).batches(500))
    started = time.perf_counter()
    embed_pending(db, load_embedder())
    embed_s = time.perf_counter() - started
    run = register_run(db, KMeansParams(n_clusters=max(10, (sample + len(items)) // 20)))
    materialize_run(db, run.run_id)
    summarize(db, run.run_id, "kw", label_quality_queries=0)
    with openai_server(ServerState(chat_label=leaky_label)) as url:
        summarize(
            db,
            run.run_id,
            "leaky",
            model="openai/leaky",
            base_url=url,
            api_key="sk-local",
            concurrency=8,
            label_quality_queries=0,
        )
    raw = {
        k: [covered(q, v, k) for kind, v, q in items if kind == k]
        for k in (EMAIL, PHONE, CARD, IBAN)
    }
    found = {
        "queries": sample + len(items),
        "clusters": len(_labels(db, run.run_id, "kw")),
        "embed_s": round(embed_s, 1),
        "planted_queries_recall": {k: sum(v) / len(v) for k, v in raw.items()},
    }
    for alias in ("kw", "leaky"):
        started = time.perf_counter()
        view = public_view(db, run.run_id, alias, 10)
        found[alias] = {
            **_measure(items, _labels(db, run.run_id, alias)),
            "stored_findings": len(view.stored_findings),
            "public_findings": len(view.findings),
            "quotes_withheld": len(view.quotes_withheld),
            "folded": len(view.folding.folded),
            "public_view_s": round(time.perf_counter() - started, 3),
        }
    db.dispose()
    return found


def clean_sets() -> dict:
    banking = []
    for name in ("train.csv", "test.csv"):
        with open(DATA / "banking77" / name, newline="") as handle:
            banking += [(r["category"], r["text"]) for r in csv.DictReader(handle)]
    with open(DATA / "hwu64" / "hwu64.jsonl") as handle:
        hwu = [(f"{d['scenario']}_{d['intent']}", d["text"]) for d in map(json.loads, handle)]
    found = {}
    for set_name, pairs in (("banking77", banking), ("hwu64", hwu)):
        groups: dict[str, list[str]] = {}
        for label, text in pairs:
            groups.setdefault(label, []).append(text)
        ids = {label: i for i, label in enumerate(sorted(groups))}
        briefs = {
            ids[label]: ClusterBrief(ids[label], len(texts), texts[:20], [], {})
            for label, texts in groups.items()
        }
        labels = keyword_labels(briefs, sorted(briefs))
        fields = [x for lab in labels.values() for x in (lab.title, lab.description)]
        found[set_name] = {
            "texts": len(pairs),
            "text_findings": sum(bool(find(t)) for _, t in pairs),
            "label_names": len(groups),
            "label_name_findings": sum(bool(find(n.replace("_", " "))) for n in groups),
            "offline_fields": len(fields),
            "offline_field_findings": sum(bool(find(f)) for f in fields),
        }
        found[set_name]["_pairs"] = pairs
        found[set_name]["near_quotes"] = {
            "local/keywords": near_quotes(labels, groups, ids),
            "local/keyphrase": near_quotes(keyphrase_labels(groups, ids), groups, ids),
        }
    return found


def keyphrase_labels(groups: dict[str, list[str]], ids: dict[str, int]) -> dict:
    """``local/keyphrase``'s labels of each intent, as a perfect clustering would get them:
    phrases from up to ``MEMBER_TEXTS`` of its texts, against the mean of their vectors."""
    embedder = load_embedder()
    texts = {ids[label]: members[:MEMBER_TEXTS] for label, members in groups.items()}
    centroids = {}
    for key, members in texts.items():
        mean = np.asarray(embedder.embed(members), dtype=np.float32).mean(axis=0)
        centroids[key] = mean / np.linalg.norm(mean)
    found = rank_keyphrases(texts, centroids, embedder)
    sizes = {ids[label]: len(members) for label, members in groups.items()}
    return {key: describe(sizes[key], found[key], texts[key][:20]) for key in texts}


def near_quotes(labels: dict, groups: dict[str, list[str]], ids: dict[str, int]) -> dict:
    """Labels after whole quotes of the 20 shown queries are withheld, then near-verbatim runs
    shared with any text of the intent: how many titles and descriptions lose words, and the
    pass's time."""
    shown = {ids[label]: texts[:20] for label, texts in groups.items()}
    quotes = QuoteFinder(q for texts in shown.values() for q in texts)
    fields = {
        (key, name): quotes.withhold(getattr(label, name))[0]
        for key, label in labels.items()
        for name in ("title", "description")
    }
    started = time.perf_counter()
    near = NearQuotes(fields, stop_words())
    for label, texts in groups.items():
        for text in texts:
            near.read(text, (ids[label],))
    changed = near.withheld()
    return {
        "titles": len(labels),
        "titles_withheld": sum(name == "title" for _, name in changed),
        "descriptions_withheld": sum(name == "description" for _, name in changed),
        "members": sum(len(texts) for texts in groups.values()),
        "pass_s": round(time.perf_counter() - started, 3),
        "examples": [text for (_, name), text in sorted(changed.items())][:3],
    }


def speed(pairs: list[tuple[str, str]]) -> dict:
    """1,000 clusters: a title (the first 8 words of a text), a two-sentence description and
    20 representative queries each, drawn from real texts."""
    rng = random.Random(1)
    texts = [t for _, t in pairs]
    clusters = []
    for _ in range(1000):
        reps = rng.sample(texts, 20)
        title = " ".join(reps[0].split()[:8])
        description = f'Users ask about {reps[1][:80]}. Most central: "{reps[2]}".'
        clusters.append((title, description, reps))
    started = time.perf_counter()
    titles = sum(bool(find(t)) for t, _, _ in clusters)
    titles_s = time.perf_counter() - started
    started = time.perf_counter()
    quotes = QuoteFinder(q for *_, reps in clusters for q in reps)
    withheld = 0
    for title, description, _ in clusters:
        for value in (title, description):
            shown, quoted = quotes.withhold(value)
            withheld += quoted
            find(shown)
    whole_s = time.perf_counter() - started
    return {"titles_s": titles_s, "title_findings": titles, "whole_s": whole_s,
            "quotes_withheld": withheld}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=3000)
    args = parser.parse_args()
    clean = clean_sets()
    pairs = clean["banking77"].pop("_pairs") + clean["hwu64"].pop("_pairs")
    print(json.dumps({"clean": clean}, indent=1))
    print(json.dumps({"speed": speed(pairs)}, indent=1))
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps({"planted": planted_run(args.sample, Path(workdir))}, indent=1))


if __name__ == "__main__":
    main()
