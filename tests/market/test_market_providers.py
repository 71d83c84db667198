"""The provider registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from market.csv_provider import CsvProvider
from market.errors import ProviderUnavailableError, UnknownProviderError
from market.providers import PriceProvider, get_provider, provider_names
from market.synthetic import SyntheticProvider
from market.yfinance_provider import YFinanceProvider


def test_the_synthetic_provider_is_only_built_when_named() -> None:
    provider = get_provider("synthetic")
    assert isinstance(provider, SyntheticProvider)
    assert isinstance(provider, PriceProvider)
    with pytest.raises(TypeError):
        get_provider()  # type: ignore[call-arg]  # made-up prices are never a default


def test_the_csv_provider_is_built_with_its_directory_option(tmp_path: Path) -> None:
    provider = get_provider("csv", directory=tmp_path)
    assert isinstance(provider, CsvProvider)
    assert provider.directory == tmp_path


def test_the_yfinance_provider_is_built_with_an_injected_ticker_factory() -> None:
    assert isinstance(get_provider("yfinance", ticker_factory=lambda symbol: None), YFinanceProvider)


def test_asking_for_yfinance_without_the_extra_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)
    with pytest.raises(ProviderUnavailableError, match="taskrunner"):
        get_provider("yfinance")


def test_an_unknown_provider_name_lists_the_known_ones() -> None:
    assert provider_names() == ["csv", "synthetic", "yfinance"]
    with pytest.raises(UnknownProviderError, match="provider 'bloomberg': expected one of csv, synthetic, yfinance"):
        get_provider("bloomberg")
