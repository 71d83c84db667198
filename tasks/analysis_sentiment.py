"""Aggregating headline scores the task computed one at a time (for per-headline progress) into quant's report."""

from __future__ import annotations

from collections.abc import Sequence

from quant.sentiment import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD, HeadlineSentiment, Label, SentimentReport


def label_of(score: float) -> Label:
    """quant's reading of a score: positive, negative or neutral."""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def aggregate(scored: Sequence[HeadlineSentiment]) -> SentimentReport:
    """The same report `quant.score_headlines` gives for these headlines: mean score, its label, label counts."""
    mean = sum(h.score for h in scored) / len(scored) if scored else 0.0
    return SentimentReport(
        headlines=list(scored),
        score=mean,
        label=label_of(mean),
        n_positive=sum(h.label == "positive" for h in scored),
        n_negative=sum(h.label == "negative" for h in scored),
        n_neutral=sum(h.label == "neutral" for h in scored),
    )
