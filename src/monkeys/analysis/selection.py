"""Selection without a verifier: majority vote, reward best-of-N, weighted vote, and their curves vs k.

A sample's vote is its verifier's `details["answer_key"]` (equivalent answers share a key; no key = no
vote); scores come from the `scores` table. Curves follow the paper: success at k is averaged over many
seeded random size-k subsets of the n samples (best-of-N and coverage in closed form, exactly).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from monkeys.analysis.passk import default_ks, pass_at_k
from monkeys.store.migrations import is_compact
from monkeys.store.read import checker_id, run_verifier

# ---- choosing one answer out of k ---------------------------------------------------------------------


def majority_vote(keys: Sequence[str | None], weights: Sequence[float] | None = None) -> int | None:
    """Index of the first sample of the class with the most votes (or weight); None if nobody answered.

    Ties go to the class whose first sample comes first: deterministic for a list, and for a random subset
    a uniform pick among the tied classes (which is what the curves average over).
    """
    total: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        total[key] = total.get(key, 0.0) + (1.0 if weights is None else float(weights[i]))
        first.setdefault(key, i)
    if not total:
        return None
    best = max(total, key=lambda key: (total[key], -first[key]))
    return first[best]


def best_of_n(scores: Sequence[float]) -> int:
    """Index of the highest-scored sample; ties go to the lowest index."""
    return int(np.argmax(np.asarray(scores, dtype=np.float64)))


def vote_weights(scores: np.ndarray) -> np.ndarray:
    """Weights for reward-weighted vote: exp(score - max), so log-probabilities and logits both work."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    if not finite.any():
        return np.zeros_like(scores)
    return np.where(finite, np.exp(scores - scores[finite].max()), 0.0)


# ---- curves on plain arrays ---------------------------------------------------------------------------


def _tie_share(votes: np.ndarray, class_ok: np.ndarray) -> float:
    """Mean over rows of P(pick a correct class) when ties among the top classes are broken uniformly."""
    top = votes.max(axis=1, initial=0.0)
    tied = (votes == top[:, None]) & (top[:, None] > 0)
    n_tied = tied.sum(axis=1)
    wins = (tied & class_ok[None, :]).sum(axis=1)
    return float(np.mean(np.where(n_tied > 0, wins / np.maximum(n_tied, 1), 0.0)))


def _majority_curve(labels: np.ndarray, class_ok: np.ndarray, ks: list[int], n_subsets: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Majority vote needs only each class's count in the subset: drawn directly from the multivariate
    hypergeometric (O(classes) per subset, not O(k)). `labels` are 0..C-1, C for "no answer"."""
    n_classes = len(class_ok)
    sizes = np.bincount(labels, minlength=n_classes + 1).astype(np.int64)
    out = np.empty(len(ks))
    for j, k in enumerate(ks):
        if k == len(labels):
            votes = sizes[None, :n_classes]
        else:
            votes = rng.multivariate_hypergeometric(sizes, k, size=n_subsets)[:, :n_classes]
        out[j] = _tie_share(votes, class_ok)
    return out


def _weighted_curve(labels: np.ndarray, class_ok: np.ndarray, perms: np.ndarray, ks: list[int],
                    weights: np.ndarray) -> np.ndarray:
    """Weighted vote over the prefixes `perms[:k].T` (uniform size-k subsets), added to segment by segment.

    `perms` is (n, subsets): position-major, so each segment `[prev:k]` is one contiguous block (no copies);
    within a subset the weights are still summed in position order, as with subset-major rows."""
    n_classes = len(class_ok)
    s, width = perms.shape[1], n_classes + 1
    lab = labels[perms]
    lab += (np.arange(s, dtype=np.int64) * width)[None, :]
    wts = weights[perms]
    sums = np.zeros(s * width)
    out, prev = np.empty(len(ks)), 0
    for j, k in enumerate(ks):
        sums += np.bincount(lab[prev:k].ravel(), weights=wts[prev:k].ravel(), minlength=s * width)
        prev = k
        out[j] = _tie_share(sums.reshape(s, width)[:, :n_classes], class_ok)
    return out


_log_fact_cache: dict[int, np.ndarray] = {}


def _best_of_n_curve(correct: np.ndarray, scores: np.ndarray, ks: list[int]) -> np.ndarray:
    """Exact E[success] of best-of-k over all k-subsets: rank r wins with prob C(n-1-r, k-1) / C(n, k).

    Ranks order samples by score, highest first, ties to the lower index; a NaN score ranks last.
    """
    n = len(correct)
    if n not in _log_fact_cache:
        from scipy.special import gammaln
        _log_fact_cache[n] = gammaln(np.arange(n + 2, dtype=np.float64))  # lf[m] = log (m-1)!
    lf = _log_fact_cache[n]
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    ok = correct[order].astype(np.float64)
    below = n - 1 - np.arange(n)  # samples ranked below rank r
    out = np.empty(len(ks))
    for j, k in enumerate(ks):
        m = below[: n - k + 1]  # ranks that can be the best of k
        log_p = lf[m + 1] - lf[k] - lf[m - k + 2] - (lf[n + 1] - lf[k + 1] - lf[n - k + 1])
        out[j] = float(np.dot(ok[: n - k + 1], np.exp(log_p)))
    return out


def _encode(keys: Sequence[str | None], correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class ids per sample (C = no answer) and whether each class is correct (most of its samples pass)."""
    ids: dict[str, int] = {}
    for key in keys:
        if key is not None and key not in ids:
            ids[key] = len(ids)
    uniq = ids
    labels = np.fromiter((len(ids) if k is None else ids[k] for k in keys), dtype=np.int64, count=len(keys))
    passes = np.bincount(labels, weights=correct.astype(np.float64), minlength=len(uniq) + 1)[:len(uniq)]
    sizes = np.bincount(labels, minlength=len(uniq) + 1)[:len(uniq)]
    return labels, passes * 2 >= np.maximum(sizes, 1)


def selection_curves_from_arrays(
    keys: Sequence[Sequence[str | None]], correct: Sequence[np.ndarray], ks: Sequence[int] | None = None,
    scores: Sequence[np.ndarray] | None = None, n_subsets: int = 100, seed: int = 0,
) -> dict[str, dict[int, float]]:
    """Success rate vs k per method, averaged over problems: `coverage` (oracle), `majority`, and with
    `scores` also `best_of_n` and `weighted_vote`.

    Problem i has answer keys `keys[i]` (None = no answer), correctness `correct[i]` and optional scores.
    Only k <= every problem's n is reported. Majority vote draws each subset's class counts directly
    (multivariate hypergeometric); weighted vote needs which samples were drawn, so the same `n_subsets`
    seeded permutations serve every problem with the same n and every k (their prefixes are uniform
    size-k subsets). Each problem's estimate is unbiased; n = 10,000 x 500 problems takes seconds.
    """
    correct = [np.asarray(c, dtype=bool) for c in correct]
    ns = np.array([len(c) for c in correct], dtype=np.int64)
    if len(ns) == 0 or ns.min() == 0:
        return {}
    ks = sorted({int(k) for k in (ks or default_ks(int(ns.min()))) if 1 <= k <= ns.min()})
    rng = np.random.default_rng(seed)
    perms_by_n: dict[int, np.ndarray] = {}
    methods = ["coverage", "majority"] + (["best_of_n", "weighted_vote"] if scores is not None else [])
    totals = {m: np.zeros(len(ks)) for m in methods}
    c_counts = np.array([int(c.sum()) for c in correct])
    for j, k in enumerate(ks):
        totals["coverage"][j] = float(np.sum(pass_at_k(ns, c_counts, k)))
    for i, ok in enumerate(correct):
        n = len(ok)
        labels, class_ok = _encode(keys[i], ok)
        totals["majority"] += _majority_curve(labels, class_ok, ks, n_subsets, rng)
        if scores is not None:
            s = np.asarray(scores[i], dtype=np.float64)
            totals["best_of_n"] += _best_of_n_curve(ok, s, ks)
            if n not in perms_by_n:
                perms_by_n[n] = np.ascontiguousarray(
                    rng.permuted(np.tile(np.arange(n, dtype=np.int64), (n_subsets, 1)), axis=1).T)
            totals["weighted_vote"] += _weighted_curve(labels, class_ok, perms_by_n[n], ks, vote_weights(s))
    return {m: {k: float(v / len(correct)) for k, v in zip(ks, totals[m], strict=True)} for m in methods}


# ---- curves from the run store ------------------------------------------------------------------------


def selection_curves(
    db: sqlite3.Connection, ks: Sequence[int] | None = None, scorer: str | None = None,
    verifier: str | None = None, n_subsets: int = 100, seed: int = 0,
) -> dict[str, dict[int, float]]:
    """`selection_curves_from_arrays` over a run store: verdicts of `verifier` (default: the run's),
    vote keys from their `details`, scores of `scorer` (a sample without a score ranks last).

    Returns {} when the run has no verdicts with answer keys (not a math run): callers skip the section.
    """
    if verifier is None:
        verifier = run_verifier(db)
    if is_compact(db):  # verdict keys in rowid order: by problem position, then sample index
        rows = [(key >> 40, outcome == 1, answer, score) for key, outcome, answer, score in db.execute(
            "SELECT v.key, v.outcome, json_extract(v.details, '$.answer_key'), sc.value FROM verdict_rows v"
            " LEFT JOIN score_rows sc ON sc.key = (v.key >> 8 << 8) | ? WHERE (v.key & 255) = ? ORDER BY v.key",
            (checker_id(db, "scorer", scorer), checker_id(db, "verifier", verifier)))]
    else:
        rows = [(pid, outcome == "pass", answer, score) for pid, outcome, answer, score in db.execute(
            "SELECT s.problem_id, v.outcome, json_extract(v.details, '$.answer_key'), sc.value"
            " FROM verdicts v JOIN samples s ON s.sample_id = v.sample_id"
            " JOIN problems p ON p.problem_id = s.problem_id"
            " LEFT JOIN scores sc ON sc.sample_id = v.sample_id AND sc.scorer = ?"
            " WHERE v.verifier = ? ORDER BY p.position, s.sample_index", (scorer or "", verifier))]
    if not rows or all(r[2] is None for r in rows):
        return {}
    keys: list[list[str | None]] = []
    correct: list[list[bool]] = []
    scores: list[list[float]] = []
    last = None
    for pid, outcome, key, score in rows:
        if pid != last:
            keys.append([])
            correct.append([])
            scores.append([])
            last = pid
        keys[-1].append(key)
        correct[-1].append(outcome)
        scores[-1].append(-np.inf if score is None else score)
    return selection_curves_from_arrays(
        keys, [np.array(c) for c in correct], ks, [np.array(s) for s in scores] if scorer else None,
        n_subsets, seed)
