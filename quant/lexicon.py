"""The sentiment lexicon: validated model and loader for the copy shipped as package data."""

import json
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Self

from pydantic import Field, model_validator

from quant._model import QuantModel

Weight = Annotated[float, Field(ge=-1.0, le=1.0)]

_RESOURCE = "data/sentiment_lexicon.json"


class Lexicon(QuantModel):
    """Term weights in [-1, 1] per language, plus the words that negate a following (en) or preceding (ja) term."""

    description: str = ""
    en: dict[str, Weight]
    ja: dict[str, Weight]
    en_negators: list[str]
    ja_negators: list[str]

    @model_validator(mode="after")
    def _check_terms(self) -> Self:
        # English matching runs on lower-cased text with ASCII word boundaries; other keys could never match.
        bad_en = [t for t in self.en if not t or t != t.lower() or not t.isascii() or t != t.strip()]
        if bad_en:
            raise ValueError(f"English terms must be non-empty, lower-case, trimmed ASCII: {bad_en[:5]}")
        # Japanese terms are matched as raw substrings; an ASCII key there would match inside English words.
        bad_ja = [t for t in self.ja if not t or t.isascii()]
        if bad_ja:
            raise ValueError(f"Japanese terms must contain non-ASCII characters: {bad_ja[:5]}")
        return self


@lru_cache(maxsize=1)
def load_default_lexicon() -> Lexicon:
    """Load (once per process) the lexicon shipped in quant/data/sentiment_lexicon.json."""
    # importlib.resources rather than a path relative to __file__: works from wheels, zips and editable installs.
    text = files("quant").joinpath(_RESOURCE).read_text(encoding="utf-8")
    return Lexicon.model_validate(json.loads(text))
