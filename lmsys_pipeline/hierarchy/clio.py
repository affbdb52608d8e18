"""One level of the LLM hierarchy, after Clio: neighbourhoods → proposed parents → merged to
the level's target → each child assigned to its best parent (or none) → parents renamed.

1. The children (embedded title + description) are grouped by k-means into neighbourhoods of
   about ``neighborhood_size``.
2. Each neighbourhood is asked for candidate parents (up to 1.5 times its share of the target), with
   the titles of the nearest clusters outside it as contrast.
3. When there are more candidates than the target, their embeddings are grouped by k-means
   into exactly the target; each group of several is asked for the one category covering them.
4. Each child is offered the ``assign_choices`` parents nearest to it and "none of these
   fits": a child that answers none is kept at its level as an orphan, never forced.
5. A parent chosen by a single child is dropped and that child asked again among the parents
   with two or more children, so every parent has at least two.
6. Each parent is renamed from the children it finally got.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmsys_pipeline.hierarchy.asking import Asker, step_name
from lmsys_pipeline.hierarchy.params import HierarchyInputError, HierarchyParams
from lmsys_pipeline.hierarchy.prompts import (
    MERGE_FORMAT,
    NONE_FITS,
    PROPOSE_FORMAT,
    RENAME_FORMAT,
    Category,
    Member,
    assign_format,
    assign_messages,
    choice_parser,
    make_job,
    merge_messages,
    parse_answer,
    parse_category,
    parse_proposal,
    propose_messages,
    rename_messages,
)
from lmsys_pipeline.hierarchy.tree import Grouping, Node
from lmsys_pipeline.labeling.providers import Endpoint

OVERSHOOT = 1.5
MAX_RENAME_CHILDREN = 50


@dataclass
class LevelContext:
    ask: Asker
    embed: Callable[[list[str]], np.ndarray]
    endpoint: Endpoint
    params: HierarchyParams


def node_text(title: str, description: str) -> str:
    return f"{title}. {description}"


def kmeans_groups(vectors: np.ndarray, groups: int, seed: int) -> list[np.ndarray]:
    """Row indexes per k-means group (seeded), in label order; one group when asked for one."""
    if groups <= 1:
        return [np.arange(len(vectors))]
    if len(vectors) <= groups:
        return [np.array([i]) for i in range(len(vectors))]
    from sklearn.cluster import KMeans

    labels = KMeans(groups, n_init=3, random_state=seed).fit_predict(vectors)
    return [np.flatnonzero(labels == g) for g in range(groups) if (labels == g).any()]


def _nearest_outside(vectors: np.ndarray, inside: np.ndarray, count: int) -> list[int]:
    if count <= 0:
        return []
    similarity = vectors @ vectors[inside].mean(axis=0)
    similarity[inside] = -np.inf
    order = np.argsort(-similarity, kind="stable")[:count]
    return [int(i) for i in order if np.isfinite(similarity[i])]


def _propose(children, members, vectors, target, level, ctx) -> tuple[list[Category], dict]:
    params = ctx.params
    hoods = kmeans_groups(
        vectors, max(1, round(len(children) / params.neighborhood_size)), params.seed
    )
    jobs = []
    for number, inside in enumerate(hoods):
        wanted = min(
            max(1, len(inside) // 2),
            max(1, math.ceil(target * len(inside) / len(children) * OVERSHOOT)),
        )
        contrast = [
            children[i].title for i in _nearest_outside(vectors, inside, params.contrast_clusters)
        ]
        messages = propose_messages([members[i] for i in inside], contrast, wanted)
        jobs.append(
            make_job(
                ("propose", level, number),
                ctx.endpoint,
                params,
                messages,
                PROPOSE_FORMAT,
                parse_proposal,
            )
        )
    outcomes = ctx.ask(jobs)
    failures, candidates, seen = {}, [], set()
    for job in jobs:
        outcome = outcomes[job.key]
        if outcome.answer is None:
            failures[step_name(job.key)] = outcome.error or "no answer"
            continue
        for category in outcome.answer.categories:
            if category.name.casefold() not in seen:
                seen.add(category.name.casefold())
                candidates.append(category)
    if not candidates:
        reason = next(iter(failures.values()), "no answer")
        raise HierarchyInputError(
            f"No parent was proposed for level {level}: every request to "
            f"{ctx.endpoint.public_base_url} failed (first: {reason}); check that the server is "
            "running and the model name, then run the same command again."
        )
    return candidates, failures


def _merge(candidates: list[Category], target: int, level: int, ctx: LevelContext):
    """At most ``target`` parents: candidates grouped by k-means, each group of several
    merged into one by the model (its most central candidate if that request fails)."""
    if len(candidates) <= target:
        return candidates, {}
    vectors = ctx.embed([node_text(c.name, c.description) for c in candidates])
    groups = kmeans_groups(vectors, target, ctx.params.seed)
    jobs = {
        number: make_job(
            ("merge", level, number),
            ctx.endpoint,
            ctx.params,
            merge_messages([candidates[i] for i in group]),
            MERGE_FORMAT,
            parse_category,
        )
        for number, group in enumerate(groups)
        if len(group) > 1
    }
    outcomes = ctx.ask(list(jobs.values()))
    merged, failures = [], {}
    for number, group in enumerate(groups):
        if len(group) == 1:
            merged.append(candidates[group[0]])
            continue
        outcome = outcomes[jobs[number].key]
        if outcome.answer is None:
            failures[step_name(jobs[number].key)] = outcome.error or "no answer"
            central = group[int(np.argmax(vectors[group] @ vectors[group].mean(axis=0)))]
            merged.append(candidates[central])
        else:
            merged.append(outcome.answer)
    return merged, failures


def _assign(members, vectors, parents, parent_vectors, allowed, who, kind, level, ctx):
    """Each child in ``who`` → the index of the parent it chose among the nearest ``allowed``,
    None when none fits; children whose request failed are left out (with a failure)."""
    jobs = {}
    for child in who:
        similarity = parent_vectors[allowed] @ vectors[child]
        nearest = [
            allowed[i] for i in np.argsort(-similarity, kind="stable")[: ctx.params.assign_choices]
        ]
        choices = [parents[p] for p in nearest]
        jobs[child] = (
            make_job(
                (kind, level, child),
                ctx.endpoint,
                ctx.params,
                assign_messages(members[child], choices),
                assign_format(choices),
                choice_parser(choices),
            ),
            {parents[p].name: p for p in nearest},
        )
    outcomes = ctx.ask([job for job, _ in jobs.values()])
    chosen, failures = {}, {}
    for child, (job, by_name) in jobs.items():
        outcome = outcomes[job.key]
        if outcome.answer is None:
            failures[step_name(job.key)] = outcome.error or "no answer"
        else:
            name = outcome.answer.category
            chosen[child] = None if name == NONE_FITS else by_name[name]
    return chosen, failures


def llm_level(
    children: list[Node], vectors: np.ndarray, target: int, level: int, ctx: LevelContext
) -> Grouping:
    """Groups ``children`` (rows of ``vectors``: their embedded title + description) under at
    most ``target`` parents named by the model."""
    members = [Member(c.title, c.description, c.size) for c in children]
    candidates, failures = _propose(children, members, vectors, target, level, ctx)
    parents, merge_failures = _merge(candidates, target, level, ctx)
    failures |= merge_failures
    parent_vectors = ctx.embed([node_text(p.name, p.description) for p in parents])
    everyone = list(range(len(parents)))
    chosen, assign_failures = _assign(
        members,
        vectors,
        parents,
        parent_vectors,
        everyone,
        range(len(children)),
        "assign",
        level,
        ctx,
    )
    failures |= assign_failures
    counts = np.bincount([p for p in chosen.values() if p is not None], minlength=len(parents))
    kept = [p for p in everyone if counts[p] >= 2]
    alone = [c for c, p in chosen.items() if p is not None and counts[p] == 1]
    if alone and kept:
        again, again_failures = _assign(
            members, vectors, parents, parent_vectors, kept, alone, "reassign", level, ctx
        )
        failures |= again_failures
        for child in alone:
            chosen.pop(child)
        chosen |= again
    elif alone:
        for child in alone:
            chosen[child] = None
    return _renamed(children, members, parents, chosen, failures, level, ctx)


def _renamed(children, members, parents, chosen, failures, level, ctx) -> Grouping:
    by_parent: dict[int, list[int]] = {}
    for child, parent in sorted(chosen.items()):
        if parent is not None:
            by_parent.setdefault(parent, []).append(child)
    by_parent = {p: kids for p, kids in by_parent.items() if len(kids) >= 2}
    orphans = [children[c].node_id for c, p in chosen.items() if p is None or p not in by_parent]
    jobs = {}
    for parent, kids in sorted(by_parent.items()):
        shown = sorted(kids, key=lambda c: (-members[c].size, c))[:MAX_RENAME_CHILDREN]
        jobs[parent] = make_job(
            ("rename", level, parent),
            ctx.endpoint,
            ctx.params,
            rename_messages(parents[parent].name, [members[c] for c in shown]),
            RENAME_FORMAT,
            parse_answer,
        )
    outcomes = ctx.ask(list(jobs.values()))
    grouped = []
    for parent, kids in sorted(by_parent.items()):
        outcome = outcomes[jobs[parent].key]
        if outcome.answer is None:
            failures[step_name(jobs[parent].key)] = outcome.error or "no answer"
            title, description = parents[parent].name, parents[parent].description
        else:
            title, description = outcome.answer.title, outcome.answer.description
        grouped.append((title, description, [children[c].node_id for c in kids]))
    return Grouping(grouped, sorted(orphans), failures)
