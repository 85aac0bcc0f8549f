"""Settings: built once at start-up from ``GATEWAY_*`` variables and an optional file.

Precedence: environment > config file (``GATEWAY_CONFIG_FILE``, TOML or YAML) > defaults.
Each field's docstring is the configuration reference (``gateway config-reference``).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "GATEWAY_"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names each setting and the problem."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        # Not use_attribute_docstrings: pydantic would read and parse this file at every
        # start-up (~0.05 CPU-s) for descriptions only ``reference`` shows.
    )

    upstream_base_url: AnyHttpUrl
    """Base URL of the OpenAI-compatible upstream, including ``/v1``."""
    upstream_api_key: SecretStr | None = None
    """The gateway's own upstream credential. Callers' credentials are never forwarded."""
    upstream_timeout_s: float = Field(default=120.0, gt=0)
    """Read timeout for upstream responses, in seconds."""
    upstream_connect_timeout_s: float = Field(default=5.0, gt=0)
    """Connect timeout for the upstream, in seconds."""

    elasticsearch_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:9200")
    """Elasticsearch HTTP endpoint."""
    elasticsearch_username: str | None = None
    """Elasticsearch user (basic auth); needs rights on ``gateway-*`` indices only."""
    elasticsearch_password: SecretStr | None = None
    """Password for ``elasticsearch_username``."""
    elasticsearch_ca_certs: Path | None = None
    """CA bundle for an HTTPS Elasticsearch endpoint."""
    elasticsearch_timeout_s: float = Field(default=5.0, gt=0)
    """Per-request Elasticsearch timeout, in seconds."""
    index_prefix: str = Field(default="gateway", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """Prefix of every index the gateway owns (``<prefix>-chunks-v1``...)."""
    governance_schema_file: Path | None = None
    """YAML governance schema (custom document fields, classification values) read by
    ingest and the gateway; unset means the built-in fields only."""

    opa_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8181")
    """Open Policy Agent server."""
    opa_timeout_s: float = Field(default=2.0, gt=0)
    """Per-decision OPA timeout, in seconds."""
    policy_poll_interval_s: float = Field(default=0.5, gt=0)
    """How often the policy revision is checked; a relaxed policy applies within this."""
    filter_cache_size: int = Field(default=4096, ge=1)
    """Compiled retrieval filters kept (one per subject and policy revision)."""
    decision_cache_size: int = Field(default=16384, ge=0)
    """Authorization and redaction decisions kept per exact input and policy revision;
    0 asks OPA on every request (needed if a policy reads the clock or calls http.send)."""
    retrieval_top_k: int = Field(default=5, ge=1, le=100)
    """Chunks retrieved per chat request."""
    context_budget_tokens: int = Field(default=3000, ge=100)
    """Most tokens the injected context may take (less if the model's window is short)."""
    message_pii_analysis: bool = True
    """Analyse callers' messages with Presidio (cached per message) and redact per policy."""
    message_pii_cache_size: int = Field(default=10_000, ge=0)
    """Messages whose PII spans are remembered (a chat resends its history every turn)."""
    message_pii_max_message_chars: int = Field(default=100_000, ge=1)
    """Longest message text analysed for PII; a longer one is refused with 413."""
    message_pii_max_request_chars: int = Field(default=200_000, ge=1)
    """Most message text per request analysed for PII (all texts, cached or not); above: 413."""
    pii_workers: int | None = Field(default=None, ge=1, le=64)
    """Presidio worker processes; unset means one per CPU core beyond the first (1 to 4)."""
    pii_batch_max_chars: int = Field(default=1024, ge=1024, le=100_000)
    """Most characters a worker analyses in one batch (longer texts are cut into segments):
    while chat comes, bulk work (fine-tune scans) delays chat analysis by at most one such
    batch (the first chat after a quiet second: two)."""
    pii_batch_timeout_s: float = Field(default=30.0, gt=0)
    """A worker silent this long on one batch is hung: it is killed and replaced."""
    pii_worker_start_timeout_s: float = Field(default=120.0, gt=0)
    """A worker not ready (models loaded) this long after spawning is killed and restarted."""
    pii_request_timeout_s: float = Field(default=120.0, gt=0)
    """Analysis not done this long after a request asked for it fails the request (503)."""
    redaction_hash_key: SecretStr | None = None
    """Key for the ``hash`` redaction operator; unset means a random key per process."""

    audit_dir: Path
    """Directory of the append-only audit log; created if missing, must be writable."""
    jwt_jwks_file: Path | None = None
    """JWKS (JSON) file whose keys verify JWT bearer tokens; unset disables JWTs."""
    jwt_issuer: str | None = None
    """Required ``iss`` of JWTs; required with ``jwt_jwks_file``."""
    jwt_audience: str | None = None
    """Required ``aud`` of JWTs; required with ``jwt_jwks_file``."""
    jwt_subject_claim: str = "sub"
    """Claim naming the subject."""
    jwt_groups_claim: str = "groups"
    """Claim holding the subject's groups (a list of strings)."""
    jwt_attribute_claims: str = "tenant,clearance"
    """Comma-separated claims copied into the principal's attributes."""
    jwt_subject_prefix: str | None = None
    """Prefix of JWT subjects (policy sees ``<prefix><sub>``); unset means ``<issuer>#``,
    so token subjects never collide with API-key subjects. Set it explicitly (even to an
    empty string) only for an issuer whose subjects are the gateway's own names."""
    audit_hmac_key: SecretStr | None = None
    """Key for the audit log's signed checkpoints (HMAC-SHA256); at least 32 characters."""
    audit_segment_max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    """Rotate the audit log to a new segment file past this size."""
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    """Write a signed checkpoint after this many records (and at every rotation/shutdown)."""
    audit_store_prompts: bool = False
    """Store full prompt text in the audit log, encrypted with ``audit_encryption_key``."""
    audit_encryption_key: SecretStr | None = None
    """Fernet key for stored prompts; required when ``audit_store_prompts`` is on."""
    audit_write_timeout_s: float = Field(default=5.0, gt=0)
    """Longest an audit append may wait for the disk; then the request is refused (503)
    and, while the write stays stuck, so are new ones (and /readyz fails)."""
    audit_index_shipping: bool = True
    """Ship audit records to the ``<prefix>-audit`` Elasticsearch index via a durable spool."""
    audit_writer_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", max_length=64
    )
    """Names this process's audit chain (segments ``audit-<id>-NNNNNN.jsonl``, a ``writer``
    field in every record); unset writes the legacy chain (``audit-NNNNNN.jsonl``). Must
    be unique among processes writing one directory or shipping to one audit index:
    ``gateway serve --workers N`` sets ``<id>-w1``..``<id>-wN`` (``w1``.. when unset)."""
    api_keys_file: Path
    """YAML file of gateway API keys (stored as SHA-256 hashes); see ``gateway keys new``."""

    finetune_max_upload_bytes: int = Field(default=8_000_000, ge=1024)
    """Largest file accepted by ``POST /v1/files``; larger uploads get 413 and are not stored."""
    finetune_registry_path: Path | None = None
    """The SQLite registry of earlier versions, read only by ``gateway finetune
    import-registry`` (the registry now lives in the ``<prefix>-finetune-v1`` index);
    unset means ``finetune-registry.sqlite3`` next to ``audit_dir``."""
    finetune_scan_lease_s: float = Field(default=60.0, ge=1)
    """A replica scanning an upload renews its claim this often (a third of it); a file
    whose claim is this old unrenewed was interrupted and is marked ``error``."""
    finetune_scan_concurrency: int = Field(default=2, ge=1, le=64)
    """Upload scans one process runs at once (more wait, their claims renewed)."""
    finetune_scan_helpers: int = Field(default=1, ge=1, le=16)
    """Helper processes that share a large JSONL upload's parse and corpus match
    (``nice``-d, started by a scan, gone 30 s after their last; each ~85 MB, plus a copy
    of the corpus's local index while up: ~150 MB more at 5 M fingerprints). With one,
    a thread of the gateway takes part of the work too; with more, the gateway only
    coordinates (and works only while they start): its GIL stays free for chat, and all
    of the scan's CPU work yields to requests. On two cores one helper and the thread
    were ~20 % faster than two helpers and used ~0.4 CPU-s less per 5 MB (the
    ``nice``-d helpers yield to everything else on the host); more helpers are for
    hosts with cores to spare."""
    finetune_pii_scan: bool = True
    """Run Presidio over fine-tuning examples at upload (slow: about 80 µs per character)."""
    finetune_pii_ner: bool = False
    """Analyse every string of a fine-tuning file with Presidio's NER too (names, places:
    reported to the policy, refused only if it says so). Off: only the surroundings of
    tokens holding an ``@`` or four digits are analysed (structured identifiers)."""
    finetune_pii_min_score: float = Field(default=0.5, ge=0, le=1)
    """Presidio findings below this score are not reported to the fine-tune policy."""
    finetune_search_batch: int = Field(default=16384, ge=1, le=65536)
    """Fingerprints per Elasticsearch terms query when scanning an upload."""
    finetune_local_index_max_prints: int = Field(default=5_000_000, ge=0)
    """Governed fingerprints the upload scan keeps in memory (~32 bytes each at rest,
    plus per-chunk objects; two to three times that while the copy is rebuilt after an
    ingest): a larger corpus is searched in Elasticsearch on every scan; 0 always
    searches."""

    host: str = "127.0.0.1"
    """Address the gateway listens on."""
    port: int = Field(default=8080, ge=1, le=65535)
    """Port the gateway listens on."""
    max_request_bytes: int = Field(default=4_000_000, ge=1024)
    """Largest accepted request body; larger bodies get 413."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Minimum level of log events."""
    log_format: Literal["json", "console"] = "json"
    """``json`` for production, ``console`` for humans."""

    trusted_proxies: str = ""
    """Comma-separated addresses or networks of reverse proxies whose ``X-Forwarded-For``
    and ``X-Forwarded-Proto`` are believed; empty (the default) ignores those headers and
    records the peer's address."""
    max_header_bytes: int = Field(default=65_536, ge=1024, le=16 * 1024 * 1024)
    """Largest request line plus headers; more gets 431 and the connection is closed."""
    max_request_line_bytes: int = Field(default=8192, ge=256, le=1024 * 1024)
    """Longest request target (path and query); longer gets 414."""
    header_timeout_s: float = Field(default=10.0, gt=0)
    """Time a new connection (or the next request on it) has to send complete headers;
    closes idle and slowloris connections (408)."""
    body_timeout_s: float = Field(default=60.0, gt=0)
    """Time a request body has to arrive in full once its headers are in (408)."""
    keepalive_timeout_s: int = Field(default=5, ge=1)
    """An idle keep-alive connection is closed after this long between requests."""
    max_connections: int | None = Field(default=None, ge=1)
    """Open connections at once; past it a new connection gets 503 and is closed. Unset:
    the open-file limit minus 256 (64..10,000)."""
    rate_limits: bool = True
    """Apply per-caller limits from policy data (``data.gateway.config.limits``)."""
    rate_limit_sync_interval_s: float = Field(default=1.0, gt=0, le=10)
    """How often each worker/replica writes its per-minute counts to Elasticsearch and
    reads the others' (``<prefix>-ratelimits-v1``). A caller may be over-admitted by
    what the other replicas admit in one such interval."""

    @property
    def finetune_registry(self) -> Path:
        """Where the fine-tuning registry lives (``finetune_registry_path`` or its default)."""
        if self.finetune_registry_path is not None:
            return self.finetune_registry_path
        return self.audit_dir.parent / "finetune-registry.sqlite3"

    @field_validator("api_keys_file")
    @classmethod
    def _keys_file_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @field_validator("governance_schema_file")
    @classmethod
    def _schema_loads(cls, value: Path | None) -> Path | None:
        if value is not None:
            from gateway.governance_schema import SchemaError, load_schema

            try:
                load_schema(value)
            except SchemaError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("audit_dir")
    @classmethod
    def _audit_dir_usable(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"not a directory: {value}")
        return value

    @field_validator("audit_hmac_key")
    @classmethod
    def _hmac_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _jwt_needs_issuer_and_audience(self) -> Settings:
        if self.jwt_jwks_file is not None:
            if not self.jwt_jwks_file.is_file():
                raise ValueError(f"{ENV_PREFIX}JWT_JWKS_FILE: file not found: {self.jwt_jwks_file}")
            if not self.jwt_issuer or not self.jwt_audience:
                raise ValueError(
                    f"{ENV_PREFIX}JWT_JWKS_FILE needs {ENV_PREFIX}JWT_ISSUER and "
                    f"{ENV_PREFIX}JWT_AUDIENCE"
                )
        return self

    @model_validator(mode="after")
    def _prompt_storage_needs_key(self) -> Settings:
        if self.audit_store_prompts and self.audit_encryption_key is None:
            raise ValueError(
                f"{ENV_PREFIX}AUDIT_STORE_PROMPTS needs {ENV_PREFIX}AUDIT_ENCRYPTION_KEY"
            )
        return self

    @field_validator("audit_encryption_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from gateway.audit.prompts import PromptCipher

            PromptCipher(value.get_secret_value())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
        if config_file:
            sources.append(_file_source(settings_cls, Path(config_file)))
        return tuple(sources)


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if not path.is_file():
        raise ConfigError(f"{ENV_PREFIX}CONFIG_FILE: file not found: {path}")
    if path.suffix == ".toml":
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    if path.suffix in {".yaml", ".yml"}:
        return YamlConfigSettingsSource(settings_cls, yaml_file=path)
    raise ConfigError(f"{ENV_PREFIX}CONFIG_FILE: expected a .toml, .yaml or .yml file: {path}")


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, or raise ConfigError naming every bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid gateway settings:"]
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if not field:  # a rule across settings names them in its message
            lines.append(f"  {str(error['msg']).removeprefix('Value error, ')}")
            continue
        lines.append(f"  {ENV_PREFIX}{field.upper()}: {_problem(error)}")
    return "\n".join(lines)


def _problem(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "required but not set"
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    # Never echo the offending value: it may be a secret.
    return str(error["msg"])


def reference() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for docs and the CLI."""
    descriptions = attribute_docstrings(Settings)
    rows = []
    for name, field in Settings.model_fields.items():
        value = field.get_default()
        default = "required" if field.is_required() else ("unset" if value is None else str(value))
        rows.append((f"{ENV_PREFIX}{name.upper()}", default, descriptions.get(name, "")))
    return rows


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Each annotated attribute's docstring (the string right below it) in ``cls``'s source,
    as pydantic's ``use_attribute_docstrings`` reads them."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    docs = {}
    for node, below in itertools.pairwise(body.body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(below, ast.Expr)
            and isinstance(below.value, ast.Constant)
            and isinstance(below.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(below.value.value)
    return docs
