"""The aggregation threshold: a cluster with too few distinct conversations is not shown alone.

Clio shows a cluster only when enough distinct people and conversations stand behind it, so
that no title describes one person. Here a node (a cluster, or a parent category of the
hierarchy) with fewer than ``min_conversations`` distinct conversations — or, when the source
gives users, fewer than ``min_users`` distinct users — is folded: into its parent, which is
shown with its size unchanged (a parent's size is its children's sum) and says how many small
clusters it holds, or, without a parent (no hierarchy, an orphan, the top), into "Other (small
clusters)". HDBSCAN's noise is never a cluster and always goes to "Other". Folding runs from
the clusters up, so a parent whose children were all small is judged by their sum (a small
parent's children are all small: it never hides a public one).
"""

from dataclasses import dataclass, field

from lmsys_pipeline.db.models import NOISE
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.hierarchy.tree import Tree

# Default: 10 distinct conversations (README, "The privacy gate" says why).
MIN_CONVERSATIONS = 10
OTHER_TITLE = "Other (small clusters)"
NOISE_REASON = "not in any cluster (noise)"


class PrivacyError(UserError, ValueError):
    """A setting of the gate, or a refusal to publish, in one sentence."""


@dataclass(frozen=True)
class Folded:
    """A node that is not shown on its own; ``into`` is its parent's id, None for Other."""

    node_id: int
    level: int
    conversations: int
    into: int | None
    reason: str


@dataclass
class Folding:
    min_conversations: int
    min_users: int | None
    conversations: dict[int, int]
    public: list[int] = field(default_factory=list)
    folded: list[Folded] = field(default_factory=list)

    @property
    def other_conversations(self) -> int:
        return sum(f.conversations for f in self.folded if f.into is None)

    def folded_into(self, node_id: int) -> list[Folded]:
        return [f for f in self.folded if f.into == node_id]


def _reason(conversations: int, users: int | None, min_conversations: int, min_users) -> str:
    if conversations < min_conversations:
        return f"fewer than {min_conversations} distinct conversations"
    if min_users is not None and users is not None and users < min_users:
        return f"fewer than {min_users} distinct users"
    return ""


def fold_small(
    tree: Tree,
    conversations: dict[int, int],
    min_conversations: int = MIN_CONVERSATIONS,
    *,
    users: dict[int, int] | None = None,
    min_users: int | None = None,
) -> Folding:
    """Which nodes of ``tree`` are public and which are folded, and where. ``conversations``
    (and ``users``) count distinct conversations (users) per cluster (level 0); a parent's
    conversations are its clusters' sum (each conversation is in one cluster). Users are not
    additive, so a parent is judged by conversations only unless ``users`` counts it too."""
    if min_conversations < 1:
        raise PrivacyError(f"--min-conversations {min_conversations}: it must be at least 1.")
    counts = {n.node_id: conversations.get(n.node_id, 0) for n in tree.level(0)}
    for level in range(1, tree.top_level + 1):
        for node in tree.level(level):
            counts[node.node_id] = sum(counts.get(c, 0) for c in node.children)
    folding = Folding(min_conversations, min_users, counts)
    for level in range(tree.top_level + 1):
        for node in tree.level(level):
            if node.node_id == NOISE and level == 0:
                reason = NOISE_REASON
            else:
                users_here = (users or {}).get(node.node_id)
                reason = _reason(counts[node.node_id], users_here, min_conversations, min_users)
            if not reason:
                folding.public.append(node.node_id)
                continue
            into = None if reason == NOISE_REASON else node.parent
            folding.folded.append(Folded(node.node_id, level, counts[node.node_id], into, reason))
    return folding
