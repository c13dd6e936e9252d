"""The one settings object: every knob the service has, read from RECOVERY_* env vars."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# USD per 1M tokens (input, output), list prices; override with RECOVERY_LLM_PRICES.
# USD per 1M tokens: input, output, cached input. A dated snapshot ("gpt-4o-mini-2024-07-18")
# takes its family's price.
DEFAULT_PRICES: dict[str, tuple[float, float] | tuple[float, float, float]] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1-nano": (0.10, 0.40, 0.025),
    "gpt-4.1": (2.00, 8.00, 0.50),
}


class Settings(BaseSettings):
    """Defaults run the whole product embedded: offline engine, local Chroma folder, SQLite."""

    model_config = SettingsConfigDict(env_prefix="RECOVERY_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the Chroma folder and SQLite file live.")
    chroma_path: Path | None = Field(None, description="Chroma folder; default DATA_DIR/chroma.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (`chroma run`), e.g. http://chroma:8000; unset = "
        "the embedded folder.")
    chroma_token: SecretStr | None = Field(None, description="Token for the Chroma server.")
    chroma_token_header: str = Field(
        "Authorization", description="Header that carries the token (Authorization: Bearer …, "
        "or X-Chroma-Token).")
    database_url: str | None = Field(None, description="Drafts store; default SQLite in DATA_DIR.")
    cache_dir: Path | None = Field(
        None, description="Embedded labelled examples, by content and model; default "
        "DATA_DIR/cache. Point instances at one folder so only the first embeds them.")
    knowledge_dir: Path = Field(REPO_ROOT / "knowledge", description="Policy, phrases, examples.")
    prompts_dir: Path = Field(REPO_ROOT / "prompts", description="Versioned LLM prompt templates.")
    collection: str = Field("customer_history", description="Chroma collection for history.")

    engine: Literal["offline", "llm", "auto"] = Field(
        "auto", description="auto = llm when OPENAI_API_KEY or OPENAI_BASE_URL is set."
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model (Azure: the deployment name).")
    llm_structured: Literal["json_schema", "function_calling", "json_mode"] = Field(
        "json_schema", description="How the model is held to the schema; see the README."
    )
    llm_timeout_s: float = Field(20.0, gt=0, description="Timeout of one model call.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on 429, 5xx, timeouts.")
    llm_deadline_s: float = Field(
        60.0, gt=0, description="Longest a request waits on the model, retries included."
    )
    llm_rpm: int | None = Field(None, gt=0, description="Requests per minute; unset = no limit.")
    llm_tpm: int | None = Field(None, gt=0, description="Tokens per minute; unset = no limit.")
    llm_concurrency: int = Field(4, gt=0, le=64, description="Model calls in flight at once.")
    llm_batch_poll_s: float = Field(30.0, gt=0, description="How often a Batch API run polls.")
    llm_batch_max_requests: int = Field(
        50_000, gt=0, le=50_000, description="Requests per Batch API file (OpenAI: 50,000).")
    llm_batch_price_share: float = Field(
        0.5, gt=0, le=1, description="Batch price as a share of the list price.")
    local_model_slots: int = Field(
        1, gt=0, le=16, description="`serve --local-model`: requests llama.cpp works on at once.")
    local_model_threads: int = Field(
        1, gt=0, le=64, description="`serve --local-model`: CPU threads llama.cpp uses.")
    llm_history_tokens: int = Field(500, ge=0, description="Token budget for history items.")
    llm_max_output_tokens: int = Field(700, gt=0)
    llm_prices: dict[str, tuple[float, float] | tuple[float, float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per 1M tokens [input, output] or [input, output, cached input] by "
        "model as the server names it; JSON in the env var. A model not here is not priced.",
    )
    redact_pii: bool = Field(
        True, description="Replace e-mails, phone, card, IBAN and national id numbers and "
        "street addresses before text goes to a model or a remote embedding API.")
    embeddings: Literal["e5", "openai"] = Field("e5", description="e5 = bundled, offline.")
    openai_embedding_model: str = "text-embedding-3-small"
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout for every outside call.")
    db_timeout_s: float = Field(10.0, gt=0, description="Connect and statement timeout, drafts DB.")

    max_text_chars: int = Field(20_000, gt=0, description="Longest complaint or history text.")
    max_batch_items: int = Field(1_000, gt=0, description="Most history items in one request.")
    max_body_mb: float = Field(5.0, gt=0, description="Largest JSON request body accepted.")
    max_upload_mb: int = Field(200, gt=0, description="Largest triage export accepted over HTTP.")
    max_stored_upload_mb: int = Field(
        1000, gt=0, description="Most export bytes one tenant's unfinished triage runs may hold "
        "(an export is deleted when its run is done).")
    rate_limit_per_minute: int | None = Field(
        600, gt=0, description="Requests per minute per API key (bursts of 10 s worth); "
        "unset = no limit.")
    auth_failures_per_minute: int = Field(
        30, gt=0, description="Failed authentications allowed per client address and minute "
        "(bursts of a minute's worth); past them every request from it is refused with 429.")
    triage_top: int = Field(10, gt=0, le=1000, description="Customers on tonight's list.")
    label_certainty_floor: float = Field(
        0.5, ge=0, le=1, description="A label whose certainty is under this is marked for a "
        "person to set (`unsure`).")
    recall_k: int = Field(6, gt=0, le=50, description="History items recalled per complaint.")
    failure_window_days: int = Field(365, gt=0, description="Window for 'earlier failures'.")
    gesture_cooldown_days: int = Field(180, gt=0, description="A gesture is not repeated within.")

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def resolved_engine(self) -> Literal["offline", "llm"]:
        if self.engine == "auto":
            return "llm" if self.openai_api_key or self.openai_base_url else "offline"
        return self.engine

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'recovery.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
