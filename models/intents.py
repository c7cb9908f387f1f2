"""The intent table (intents.toml: per intent its examples, slots, and the tool that serves it,
or for what this line doesn't do an honest answer) and a classifier trained on it at import:
multinomial naive Bayes over word, word-pair and character-trigram features. Deterministic,
no downloads, and it generalises past exact phrasings; below the confidence threshold the
desk asks one short question instead of guessing."""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from .offline_text import VOCABULARY


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str | None  # the tool that serves it; None: not something this bank desk does
    slots: tuple[str, ...]
    examples: tuple[str, ...]
    answer: str = ""  # out of scope: what we honestly say instead
    urgency: int = 0  # several asks in one sentence: the most urgent is served first
    kind: str = ""  # request, card_write or small_talk: how understanding weighs it


def _intent(
    name: str, examples: str, tool: str | None = None, slots: Sequence[str] = (), **rest: Any
) -> Intent:
    said = tuple(line.strip() for line in examples.splitlines() if line.strip())
    return Intent(name, tool, tuple(slots), said, **rest)  # rest: answer, urgency, kind


_ROWS = tomllib.loads(Path(__file__).with_name("intents.toml").read_text(encoding="utf-8"))
TABLE: tuple[Intent, ...] = tuple(_intent(name, **row) for name, row in _ROWS.items())
INTENTS: dict[str, Intent] = {i.name: i for i in TABLE}
THRESHOLD = 0.4  # below this posterior the desk asks one short question

_WORD = re.compile(r"[a-z0-9']+")
_APOSTROPHE = re.compile(r"\b(don|isn|didn|wasn|can|won|doesn|haven|aren|wouldn|couldn)(t)\b")

WORDS = {key: frozenset(words) for key, words in VOCABULARY.items()}
_STOP, _SLOT_WORDS, _NAMES = WORDS["stop"], WORDS["slot"], WORDS["names"]


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    if word in _SLOT_WORDS:  # "checking" is an account, not "check"
        return word
    end = next((e for e in ("ing", "s") if word.endswith(e) and len(word) > len(e) + 2), "")
    return word[: len(word) - len(end)]


def _words(text: str, *, stop: bool = False, slots: bool = True) -> list[str]:
    """The words said, stemmed, without digits and names; stop and slot words kept or not."""
    found = _WORD.findall(_APOSTROPHE.sub(r"\1'\2", text.lower().replace("\u2019", "'")))
    return [
        _stem(w)
        for w in found
        if not w.isdigit()
        and w not in _NAMES
        and (stop or w not in _STOP)
        and (slots or _stem(w) not in _SLOT_WORDS)
    ]


def features(text: str) -> list[str]:
    """Content words and their letter trigrams, and pairs of every word said ("is my card
    locked" is not "lock my card")."""
    words = _words(text)
    grams = [f"w:{w}" for w in words] + [f"b:{a}_{b}" for a, b in pairwise(_words(text, stop=True))]
    return grams + [
        f"c:{p[i : i + 3]}" for p in (f" {w} " for w in words) for i in range(len(p) - 2)
    ]


@dataclass(frozen=True)
class Guess:
    intent: str
    confidence: float  # posterior probability of the best intent
    evidence: int = 0  # distinct words said (not stop or slot words) the intent's examples use
    known: int = 0  # distinct words said (not stop or slot words) that any examples use
    whole: bool = False  # what was said is one of the intent's examples ("card", "balance")

    @property
    def sure(self) -> bool:
        # A word shared by chance ("again", "the big one") is not a request: at least half of
        # the known words said must be the intent's own, or the whole of one of its examples.
        return self.confidence >= THRESHOLD and (self.whole or 1 <= self.evidence >= self.known / 2)


class NaiveBayes:
    """Multinomial naive Bayes with Laplace smoothing and uniform priors."""

    def __init__(self, table: tuple[Intent, ...], alpha: float = 0.3) -> None:
        self._counts = {i.name: Counter(f for e in i.examples for f in features(e)) for i in table}
        self._vocab = {f for c in self._counts.values() for f in c}
        self._alpha = alpha
        size = len(self._vocab)
        self._totals = {name: sum(c.values()) + alpha * size for name, c in self._counts.items()}
        self._said = {tuple(_words(e, stop=True)): i.name for i in table for e in i.examples}

    def classify(self, text: str) -> Guess:
        if (said := self._said.get(tuple(_words(text, stop=True)))) is not None:
            return Guess(said, 1.0, whole=True)  # one of the table's own examples, as is
        feats = [f for f in features(text) if f in self._vocab]
        if not feats:
            return Guess("unknown", 0.0)
        scores = {
            name: sum(math.log((counts[f] + self._alpha) / self._totals[name]) for f in feats)
            for name, counts in self._counts.items()
        }
        best = max(scores, key=lambda n: scores[n])
        # Feature counts grow with the sentence; scale so confidence is per-feature evidence.
        scale = 1.0 / max(1.0, len(feats) / 8)
        norm = sum(math.exp((s - scores[best]) * scale) for s in scores.values())
        known = {w for w in _words(text, slots=False) if f"w:{w}" in self._vocab}
        evidence = {w for w in known if self._counts[best][f"w:{w}"]}
        return Guess(best, 1.0 / norm, len(evidence), len(known))


CLASSIFIER = NaiveBayes(TABLE)
classify = functools.lru_cache(maxsize=2048)(CLASSIFIER.classify)
