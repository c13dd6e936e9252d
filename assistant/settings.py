"""The one settings object: every knob the service has, read from RECOVERY_* env vars."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Defaults run the whole product embedded: offline engine, local Chroma folder, SQLite."""

    model_config = SettingsConfigDict(env_prefix="RECOVERY_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the Chroma folder and SQLite file live.")
    chroma_path: Path | None = Field(None, description="Chroma folder; default DATA_DIR/chroma.")
    database_url: str | None = Field(None, description="Drafts store; default SQLite in DATA_DIR.")
    knowledge_dir: Path = Field(REPO_ROOT / "knowledge", description="Policy, phrases, examples.")
    collection: str = Field("customer_history", description="Chroma collection for history.")

    engine: Literal["offline"] = "offline"
    embeddings: Literal["e5", "openai"] = Field("e5", description="e5 = bundled, offline.")
    openai_embedding_model: str = "text-embedding-3-small"
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout for every outside call.")

    max_text_chars: int = Field(20_000, gt=0, description="Longest complaint or history text.")
    max_batch_items: int = Field(1_000, gt=0, description="Most history items in one request.")
    recall_k: int = Field(6, gt=0, le=50, description="History items recalled per complaint.")
    failure_window_days: int = Field(365, gt=0, description="Window for 'earlier failures'.")
    gesture_cooldown_days: int = Field(180, gt=0, description="A gesture is not repeated within.")

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'recovery.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
