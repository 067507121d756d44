"""The stage contract's set-up and close: what the runtime does around a service's own hooks."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import pytest

from schemas import Article
from tests.stages import BrokenSetup
from wirestream.config import Settings
from wirestream.service import Service, StageSetupFailed, close_quietly, set_up


class Loads(Service):
    """Stands for a stage whose setup builds a long-lived object graph (a model)."""

    name = "loads"

    def setup(self) -> None:
        self.graph = [{"layer": n} for n in range(1000)]

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        return batch


def test_what_setup_built_is_frozen_out_of_collections_until_the_stage_closes():
    service = Loads(Settings())
    set_up(service)
    try:
        assert gc.get_freeze_count() > len(service.graph)  # the setup's objects, out of every collection
        assert not any(obj is service.graph for obj in gc.get_objects())
    finally:
        close_quietly(service)
    assert gc.get_freeze_count() == 0
    assert any(obj is service.graph for obj in gc.get_objects())  # collectable again


def test_a_setup_that_raises_freezes_nothing():
    with pytest.raises(StageSetupFailed):
        set_up(BrokenSetup(Settings()))
    assert gc.get_freeze_count() == 0
