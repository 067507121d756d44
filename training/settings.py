"""Settings of the training command line, read from the environment like the runtime's (``WIRESTREAM_``).

>>> TrainingSettings(data_dir="/data").data_dir.as_posix()
'/data'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wirestream.config import ENV_PREFIX, models_dir


def _default_data_dir() -> Path:
    """``../shared/data`` beside the checkout: where the public data sits on the project's machines."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class TrainingSettings(BaseSettings):
    """What training and evaluation are told; each field is ``WIRESTREAM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Public training/evaluation data (never committed); default ../shared/data.",
    )
    models_dir: Path = Field(
        default_factory=models_dir,
        description="Where `train` writes a task's model by default (the shipped models' folder).",
    )
