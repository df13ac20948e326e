"""The samples under events/ are exactly what scripts/generate_events.py builds from events/payloads/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_events", ROOT / "scripts" / "generate_events.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_committed_samples_match_the_generator() -> None:
    stale = [path.name for path, content in generator().rendered().items() if path.read_text() != content]
    assert stale == [], "run: python scripts/generate_events.py"


def test_every_sample_is_an_http_api_v2_post_with_the_test_token() -> None:
    module = generator()
    for sample in module.SAMPLES:
        event = module.api_event(sample)
        assert event["version"] == "2.0"
        assert event["requestContext"]["http"]["method"] == "POST"
        assert event["rawPath"] == event["requestContext"]["http"]["path"]
        if sample.token_header:
            assert event["headers"]["x-sync-guard-token"] == module.TEST_SECRET
