"""Sentiment scoring: exact arithmetic on a tiny custom lexicon, plus labels with the shipped lexicon."""

import json
import math

import pytest

from quant.lexicon import Lexicon, load_default_lexicon
from quant.sentiment import score_headline, score_headlines

TINY = Lexicon(
    en={"surge": 0.8, "beat": 0.6, "loss": -0.7, "net loss": -0.9, "weak": -0.5, "strong": 0.5, "mild": 0.1},
    ja={"上昇": 0.6, "赤字": -0.7, "赤字転落": -0.9, "好調": 0.7, "懸念": -0.5},
    en_negators=["not", "no", "never"],
    ja_negators=["ない", "ません"],
)


def terms(text: str, lexicon: Lexicon | None = TINY) -> list[tuple[str, bool]]:
    return [(m.term, m.negated) for m in score_headline(text, lexicon).matches]


def test_english_headline_score_is_tanh_of_the_summed_weights() -> None:
    result = score_headline("Shares surge after earnings beat", TINY)
    assert [m.term for m in result.matches] == ["surge", "beat"]
    assert result.score == pytest.approx(math.tanh(0.8 + 0.6))
    assert result.label == "positive"


def test_english_words_match_simple_inflections_but_not_inside_other_words() -> None:
    assert terms("Profits surged; losses widened") == [("surge", False), ("loss", False)]
    assert terms("Beaten-down names rebound") == []  # 'beat' must not match inside 'beaten'


def test_not_no_and_never_flip_only_the_next_sentiment_word() -> None:
    assert terms("Sony did not beat estimates") == [("beat", True)]
    assert terms("Demand was not weak but strong") == [("weak", True), ("strong", False)]
    assert terms("No surge in orders") == [("surge", True)]
    assert terms("Toyota has never posted a loss") == [("loss", True)]
    assert terms("Guidance didn't beat") == [("beat", True)]  # n't contractions negate too
    result = score_headline("Sony did not beat estimates", TINY)
    assert result.score == pytest.approx(math.tanh(-0.6))
    assert result.label == "negative"


def test_a_negator_too_far_before_the_word_does_not_flip_it() -> None:
    assert terms("No comment from the company about the surge") == [("surge", False)]


def test_longest_match_wins_and_matches_do_not_overlap() -> None:
    assert terms("Company swings to net loss") == [("net loss", False)]
    assert terms("日産が赤字転落、株価は上昇") == [("赤字転落", False), ("上昇", False)]
    result = score_headline("日産が赤字転落、株価は上昇", TINY)
    assert result.score == pytest.approx(math.tanh(-0.9 + 0.6))


def test_japanese_negation_by_nai_or_masen_right_after_the_word() -> None:
    assert terms("業績は好調ではない") == [("好調", True)]
    assert terms("株価は上昇しません") == [("上昇", True)]
    assert terms("先行きに懸念はない") == [("懸念", True)]
    # ない after a different word (止まら) does not negate 上昇: "the rise does not stop" is positive.
    assert terms("上昇が止まらない") == [("上昇", False)]


def test_labels_use_the_plus_minus_0_15_thresholds() -> None:
    assert score_headline("a mild day", TINY).label == "neutral"  # tanh(0.1) < 0.15
    assert score_headline("a mild mild day", TINY).label == "positive"  # tanh(0.2) > 0.15
    assert score_headline("nothing to see", TINY).score == 0.0


def test_full_width_text_is_normalised_before_matching() -> None:
    assert terms("ＳＵＲＧＥ in exports") == [("surge", False)]


def test_aggregate_is_the_mean_headline_score_with_label_counts() -> None:
    report = score_headlines(["Shares surge", "net loss widens", "quiet session", "上昇"], TINY)
    expected = (math.tanh(0.8) + math.tanh(-0.9) + 0.0 + math.tanh(0.6)) / 4
    assert report.score == pytest.approx(expected)
    assert (report.n_positive, report.n_negative, report.n_neutral) == (2, 1, 1)
    assert report.label == ("positive" if expected >= 0.15 else "negative" if expected <= -0.15 else "neutral")
    json.dumps(report.model_dump(mode="json"), allow_nan=False)


def test_an_empty_batch_is_neutral() -> None:
    report = score_headlines([])
    assert (report.score, report.label, report.headlines) == (0.0, "neutral", [])


def test_shipped_lexicon_loads_as_package_data_with_the_expected_polarity() -> None:
    lex = load_default_lexicon()
    assert 100 <= len(lex.en) <= 250 and 100 <= len(lex.ja) <= 250
    for term in ("上昇", "増益", "好調", "最高値", "上方修正", "買い", "黒字"):
        assert lex.ja[term] > 0, term
    for term in ("下落", "減益", "不振", "下方修正", "赤字", "売り", "懸念"):
        assert lex.ja[term] < 0, term
    for term in ("surge", "beat", "upgrade", "record high", "profit", "growth", "strong"):
        assert lex.en[term] > 0, term
    for term in ("plunge", "miss", "downgrade", "loss", "weak", "lawsuit"):
        assert lex.en[term] < 0, term


def test_real_headlines_get_sensible_labels_with_the_shipped_lexicon() -> None:
    report = score_headlines(
        [
            "Toyota shares surge to record high after profit beat",
            "Nintendo plunges after earnings miss and analyst downgrade",
            "Sony did not beat estimates",
            "トヨタ、上方修正で最高値を更新",
            "日産、赤字転落で株価急落",
            "ソフトバンクG、業績は好調ではない",
            "日銀会合を前に様子見",
        ]
    )
    labels = [h.label for h in report.headlines]
    assert labels == ["positive", "negative", "negative", "positive", "negative", "negative", "neutral"]


def test_lexicon_weights_outside_minus_one_to_one_are_rejected() -> None:
    with pytest.raises(ValueError):
        Lexicon(en={"surge": 1.5}, ja={}, en_negators=[], ja_negators=[])
    with pytest.raises(ValueError):
        Lexicon(en={"Surge": 0.5}, ja={}, en_negators=[], ja_negators=[])
