import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty $GANVAS_CACHE: no test reads or pollutes the user's cache."""
    monkeypatch.setenv("GANVAS_CACHE", str(tmp_path_factory.mktemp("ganvas-cache")))
