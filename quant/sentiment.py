"""Lexicon-based sentiment scoring of English and Japanese financial headlines.

Matching: all lexicon terms are tried longest first and a match is kept only if it does not overlap an earlier one,
so "上方修正" wins over "修正"-like fragments and "net loss" over "loss". Japanese has no word boundaries, so Japanese
terms match as substrings; English terms need ASCII word boundaries and single words also match simple inflections.

Negation: an English negator ("not", "no", "never", "...n't") flips the next sentiment term within 3 words; a Japanese
term is flipped when the hiragana directly after it contains ない/ません/なかった (e.g. 好調ではない, 上昇しません).

Score: tanh(sum of signed weights), so it stays in (-1, 1) and several agreeing terms count for more than one.
"""

import bisect
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from quant._model import QuantModel
from quant.lexicon import Lexicon, load_default_lexicon

Label = Literal["positive", "negative", "neutral"]

POSITIVE_THRESHOLD = 0.15
NEGATIVE_THRESHOLD = -0.15
# Words allowed between an English negator and the term it flips: "not a strong quarter", "no sign of recovery".
NEGATION_WINDOW = 3
# Longest hiragana tail inspected for Japanese negation: "ではなかった" fits, a whole following clause does not.
JA_NEGATION_LOOKAHEAD = 8

_VOWELS = frozenset("aeiou")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HIRAGANA = re.compile(r"[\u3041-\u309f]*")


class TermMatch(QuantModel):
    """One lexicon term found in a headline."""

    term: str  # the lexicon entry
    matched_text: str  # as it appears in the normalised headline (e.g. an inflected form)
    language: Literal["en", "ja"]
    weight: float  # lexicon weight
    negated: bool
    contribution: float  # weight, sign-flipped when negated


class HeadlineSentiment(QuantModel):
    """Sentiment of one headline."""

    text: str
    score: float  # in (-1, 1)
    label: Label
    matches: list[TermMatch]


class SentimentReport(QuantModel):
    """Per-headline sentiment and the aggregate over all headlines."""

    headlines: list[HeadlineSentiment]
    score: float  # mean headline score; headlines without any match count as 0
    label: Label
    n_positive: int
    n_negative: int
    n_neutral: int


@dataclass(frozen=True)
class _Entry:
    term: str
    language: Literal["en", "ja"]
    weight: float
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _CompiledLexicon:
    entries: tuple[_Entry, ...]  # longest term first
    en_negators: frozenset[str]
    ja_negators: tuple[str, ...]


def _inflections(word: str) -> list[str]:
    """Regular English inflections of one word; over-generation is harmless because non-words never occur."""
    forms = {word, word + "s"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}  # surge -> surged, surging
    elif word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        forms |= {word[:-1] + "ies", word[:-1] + "ied", word + "ing"}  # rally -> rallies, rallied
    else:
        forms |= {word + "ed", word + "ing"}
        if word.endswith(("s", "sh", "ch", "x", "z")):
            forms.add(word + "es")  # loss -> losses, miss -> misses
        # Short consonant-vowel-consonant verbs double the consonant: drop -> dropped, cut -> cutting.
        if (
            len(word) >= 3
            and word[-1] not in _VOWELS | {"w", "x", "y"}
            and word[-2] in _VOWELS
            and word[-3] not in _VOWELS
            and sum(c in _VOWELS for c in word) == 1
        ):
            forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return sorted(forms, key=lambda f: (-len(f), f))


def _english_pattern(term: str) -> re.Pattern[str]:
    first, _, rest = term.partition(" ")
    # Only the first word of a phrase is inflected: "raise guidance" -> "raised guidance", "cuts guidance".
    head = "|".join(re.escape(f) for f in _inflections(first))
    tail = (r"\s" + re.escape(rest).replace(r"\ ", r"\s")) if rest else ""
    return re.compile(rf"(?<![a-z0-9])(?:{head}){tail}(?![a-z0-9])")


def _compile(lexicon: Lexicon) -> _CompiledLexicon:
    entries = [_Entry(t, "en", w, _english_pattern(t)) for t, w in lexicon.en.items()]
    entries += [_Entry(t, "ja", w, re.compile(re.escape(t))) for t, w in lexicon.ja.items()]
    entries.sort(key=lambda e: (-len(e.term), e.term))  # deterministic tie-break
    return _CompiledLexicon(
        entries=tuple(entries),
        en_negators=frozenset(lexicon.en_negators),
        ja_negators=tuple(lexicon.ja_negators),
    )


@lru_cache(maxsize=1)
def _default_compiled() -> _CompiledLexicon:
    return _compile(load_default_lexicon())


def _normalise(text: str) -> str:
    # NFKC folds full-width letters/digits (common in Japanese feeds) to ASCII and half-width kana to full-width.
    folded = unicodedata.normalize("NFKC", text).replace("\u2019", "'").lower()
    return re.sub(r"\s+", " ", folded).strip()


def label_of(score: float) -> Label:
    """The label of a score: positive, negative or neutral, by the thresholds above."""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def _find_matches(text: str, lex: _CompiledLexicon) -> list[tuple[int, int, _Entry]]:
    covered = bytearray(len(text))
    found: list[tuple[int, int, _Entry]] = []
    for entry in lex.entries:
        for m in entry.pattern.finditer(text):
            start, end = m.span()
            if any(covered[start:end]):
                continue
            covered[start:end] = b"\x01" * (end - start)
            found.append((start, end, entry))
    found.sort(key=lambda f: f[0])
    return found


def _score(text: str, lex: _CompiledLexicon) -> HeadlineSentiment:
    norm = _normalise(text)
    tokens = list(_TOKEN.finditer(norm))
    token_starts = [t.start() for t in tokens]
    negator_indexes = [i for i, t in enumerate(tokens) if t.group() in lex.en_negators or t.group().endswith("n't")]
    consumed: set[int] = set()

    matches: list[TermMatch] = []
    total = 0.0
    for start, end, entry in _find_matches(norm, lex):
        negated = False
        if entry.language == "en":
            k = bisect.bisect_left(token_starts, start)  # index of the match's first token
            candidates = [j for j in negator_indexes if k - NEGATION_WINDOW <= j < k and j not in consumed]
            if candidates:
                # A negator flips only the first sentiment term after it ("not weak, strong" keeps "strong").
                consumed.add(candidates[-1])
                negated = True
        else:
            tail = _HIRAGANA.match(norm, end)
            okurigana = tail.group()[:JA_NEGATION_LOOKAHEAD] if tail else ""
            negated = any(neg in okurigana for neg in lex.ja_negators)
        contribution = -entry.weight if negated else entry.weight
        total += contribution
        matches.append(
            TermMatch(
                term=entry.term,
                matched_text=norm[start:end],
                language=entry.language,
                weight=entry.weight,
                negated=negated,
                contribution=contribution,
            )
        )
    score = math.tanh(total)
    return HeadlineSentiment(text=text, score=score, label=label_of(score), matches=matches)


def score_headline(text: str, lexicon: Lexicon | None = None) -> HeadlineSentiment:
    """Score one headline (English, Japanese or mixed) in (-1, 1) with its matched terms and label."""
    return _score(text, _default_compiled() if lexicon is None else _compile(lexicon))


def score_headlines(headlines: Sequence[str], lexicon: Lexicon | None = None) -> SentimentReport:
    """Score each headline and aggregate: mean score, overall label and label counts."""
    if isinstance(headlines, str):
        raise TypeError("headlines must be a sequence of strings, not a single string")
    lex = _default_compiled() if lexicon is None else _compile(lexicon)  # compile a custom lexicon once per batch
    return aggregate([_score(h, lex) for h in headlines])


def aggregate(scored: Sequence[HeadlineSentiment]) -> SentimentReport:
    """The report over headlines already scored one at a time: mean score, its label and the label counts."""
    mean = sum(h.score for h in scored) / len(scored) if scored else 0.0
    return SentimentReport(
        headlines=list(scored),
        score=mean,
        label=label_of(mean),
        n_positive=sum(h.label == "positive" for h in scored),
        n_negative=sum(h.label == "negative" for h in scored),
        n_neutral=sum(h.label == "neutral" for h in scored),
    )
