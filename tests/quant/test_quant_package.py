"""Package-level contract: no Celery/Redis imports, typed marker and data files present."""

import subprocess
import sys
from importlib.resources import files


def test_importing_quant_pulls_in_neither_celery_nor_redis() -> None:
    # A fresh interpreter, because this test session may already have imported Celery for other tests.
    code = "import sys, quant; print(sorted(m for m in sys.modules if m.split('.')[0] in {'celery', 'redis', 'kombu'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_py_typed_marker_and_lexicon_ship_as_package_data() -> None:
    assert files("quant").joinpath("py.typed").is_file()
    assert files("quant").joinpath("data/sentiment_lexicon.json").is_file()
