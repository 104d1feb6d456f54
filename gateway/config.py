"""Configuration: TOML file, then `GATEKEEPER_<SECTION>__<KEY>` environment overrides.

An unknown key or a bad value stops start-up with a message naming the key and the file,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config_env import apply_env
from gateway.config_hooks import EventsConfig, HooksConfig, problems
from gateway.config_limits import SmtpLimits, check_smtp_limits
from gateway.config_paths import anchor_paths
from gateway.config_reports import BouncesConfig, ComplaintsConfig
from gateway.config_security import SmtpSecurity, check_smtp_security
from gateway.config_values import ConfigError, parse_duration, parse_hostport, url_of_listen
from gateway.config_web import HttpHardening, StoreHardening, check_web_hardening
from gateway.policy.vocab import COMBINE_MODES, PURPOSES

DEFAULT_FILE = "gatekeeper.toml"
MAX_PROCESSES = 64


@dataclass
class SmtpUser:
    name: str
    password_hash: str
    purpose: str | None = None
    topic: str | None = None
    allowed_senders: list[str] = field(default_factory=list)
    rate_per_minute: int = 0
    """Messages this login may start per minute (`451 4.7.1` beyond); 0 = no limit."""


@dataclass
class SmtpConfig(SmtpSecurity, SmtpLimits):  # + the AUTH, TLS, open-relay and limit keys
    listen: str = "127.0.0.1:2525"
    hostname: str = ""
    """Name in the greeting and Received fields; empty = this machine's FQDN."""
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 1000
    tls_cert: str | None = None
    tls_key: str | None = None
    require_auth: bool = False
    auth_require_tls: bool | None = None
    """AUTH only after STARTTLS; unset = required unless the listener is on loopback."""
    allow_networks: list[str] = field(default_factory=list)
    timeout: float = 300.0
    """Idle seconds before a client is dropped (RFC 5321 §4.5.3.2.7 asks at least 5 min)."""
    users: list[SmtpUser] = field(default_factory=list)
    processes: int = 0
    """Processes serving SMTP sessions (`gatekeeper serve`); 0 = one per available core
    (CPU affinity and cgroup quota), at most 8."""


@dataclass
class Stream:
    sender: str
    purpose: str
    topic: str | None = None


@dataclass
class UpstreamConfig:
    url: str = "outbox:./outbox"
    username: str | None = None
    password: str | None = None
    connections: int = 8
    """Persistent upstream connections kept open and reused."""
    timeout: float = 60.0
    tls_verify: bool = True
    ca_file: str | None = None


@dataclass
class DeliveryConfig:
    workers: int = 16
    max_age: str = "5d"
    retry_initial: float = 60.0
    """Upper bound of the first retry delay in seconds; later ones double, with jitter."""
    retry_max: float = 3600.0
    batch_window_ms: float = 0.0
    """How long a spool commit waits to gather other sessions' messages; at 0 a commit
    takes what arrived while the one before it ran (group commit without a timer)."""
    lease: float = 600.0
    """Seconds a message being delivered belongs to this instance (renewed while it is held):
    after it runs out, any instance sharing the store takes the message over."""


@dataclass
class OpsUser:
    """A dashboard login (`[[http.users]]`); the admin token stays the API's only key."""

    name: str
    password_hash: str


@dataclass
class HttpConfig(HttpHardening):  # + the /metrics and sign-in keys
    listen: str = "127.0.0.1:8025"
    public_url: str = ""
    """Base of the unsubscribe links; empty = `http://HOST:PORT` of `listen`."""
    admin_token: str | None = None
    users: list[OpsUser] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Derived rather than a fixed default, so moving the listener never leaves the
        # links pointing at a port nothing answers on.
        if not self.public_url:
            self.public_url = url_of_listen(self.listen)


@dataclass
class StoreConfig(StoreHardening):  # + the free-space floor
    url: str = "sqlite:///gatekeeper.db"
    synchronous: str = "FULL"
    """SQLite: FULL survives power loss; NORMAL survives a process crash only."""
    pool_min: int = 1
    """PostgreSQL: connections each instance keeps open."""
    pool_max: int = 10
    """PostgreSQL: most connections each instance opens (sessions wait for one beyond)."""
    instance: str = ""
    """This instance's id among those sharing the store; empty = host name:SMTP port."""


@dataclass
class PolicyConfig:
    default_jurisdiction: str = "eu"
    unknown_purpose: str = "marketing"
    partial: str = "accept"
    refusal_report: bool = False
    """With partial = "accept": send the sender an RFC 3464 report of the refused recipients."""
    combine: str = "recipient"
    inactive_after_days: int = 1095
    reclassify_promotional: bool = False
    directory: str | None = None
    shadow_directory: str | None = None
    """A candidate policy set decided beside the live one; differences become `shadow` rows."""


@dataclass
class UnsubscribeConfig:
    secret: list[str] = field(default_factory=list)
    """First key signs, every key verifies: rotate by prepending a new one."""
    mailto_domain: str | None = None
    footer: bool = False
    token_days: int = 90

    @property
    def keys(self) -> list[bytes]:
        """HMAC keys: the first signs, every one verifies."""
        return [secret.encode() for secret in self.secret if secret]


@dataclass
class DkimConfig:
    domain: str | None = None
    selector: str | None = None
    key_file: str | None = None


@dataclass
class IdentityConfig:
    name: str | None = None
    registration: str | None = None
    postal_address: str | None = None
    jurisdiction: str | None = None


@dataclass
class RetentionConfig:
    decisions_days: int = 400
    inactive_days: int = 1095
    erasure_key: str | None = None
    """Key of the hash that keeps an erased address suppressed; unset = one generated and
    kept in the store."""


@dataclass
class LoggingConfig:
    level: str = "INFO"
    format: str = "text"


@dataclass
class LogConfig:
    """The decision log's accountability keys (docs/design.md §11)."""

    signing_key_file: str | None = None
    """Ed25519 private key (PEM, PKCS#8: `openssl genpkey -algorithm ed25519`) that signs
    checkpoints and proof documents; unset = they are exported unsigned."""


@dataclass
class Config:
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    streams: list[Stream] = field(default_factory=list)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    unsubscribe: UnsubscribeConfig = field(default_factory=UnsubscribeConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    log: LogConfig = field(default_factory=LogConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    complaints: ComplaintsConfig = field(default_factory=ComplaintsConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    source: str = "defaults"


CHOICES: Mapping[str, tuple[str, ...]] = {
    "policy.partial": ("accept", "reject"),
    "policy.combine": COMBINE_MODES,
    "store.synchronous": ("FULL", "NORMAL"),
    "logging.format": ("text", "json"),
    "logging.level": ("DEBUG", "INFO", "WARNING", "ERROR"),
}


def find_config_file(explicit: str | None) -> Path | None:
    """--config, else $GATEKEEPER_CONFIG, else ./gatekeeper.toml when present (design.md §7)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("GATEKEEPER_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_FILE)
    return local if local.exists() else None


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    path = find_config_file(explicit)
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = _read_file(path)
        anchor_paths(raw, Path(os.path.abspath(path)).parent)
    apply_env(raw, os.environ if environ is None else environ, _list_sections())
    config = _build(Config, raw, "", source)
    config.source = source
    _validate(config)
    return config


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {_reason(exc)}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _list_sections() -> set[str]:
    hints = typing.get_type_hints(Config)
    return {name for name, hint in hints.items() if typing.get_origin(hint) is list}


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{prefix.rstrip('.')}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'")
        values[key] = _coerce(hints[key], value, f"{prefix}{key}", source)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in values:
            raise ConfigError(f"{source}: '{prefix}{f.name}' is required")
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", source)
    if origin is list:
        (item,) = args
        if item is str and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{key}' must be a list")
        return [_coerce(item, v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if args and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    return _scalar(hint, value, key, source)


def _scalar(hint: Any, value: Any, key: str, source: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{source}: '{key}' must be {hint.__name__}, got {value!r}")


def _validate(config: Config) -> None:
    source = config.source
    for key, allowed in CHOICES.items():
        section, _, name = key.partition(".")
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            raise ConfigError(f"{source}: '{key}' must be one of {', '.join(allowed)}")
    for key in ("smtp.listen", "http.listen"):
        section, _, name = key.partition(".")
        try:
            parse_hostport(getattr(getattr(config, section), name))
        except ValueError as exc:
            raise ConfigError(f"{source}: '{key}': {exc}") from exc
    for i, net in enumerate(config.smtp.allow_networks):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{source}: 'smtp.allow_networks[{i}]': {exc}") from exc
    try:
        parse_duration(config.delivery.max_age)
    except ValueError as exc:
        raise ConfigError(f"{source}: 'delivery.max_age': {exc}") from exc
    if bool(config.smtp.tls_cert) != bool(config.smtp.tls_key):
        raise ConfigError(f"{source}: 'smtp.tls_cert' and 'smtp.tls_key' go together")
    _validate_purposes(config)
    if problem := check_smtp_security(config.smtp):
        raise ConfigError(f"{source}: {problem}")
    if problem := check_smtp_limits(config.smtp, config.smtp.users):
        raise ConfigError(f"{source}: {problem}")
    for problem in config.bounces.problems() + config.complaints.problems():
        raise ConfigError(f"{source}: {problem}")
    for problem in problems(config.hooks, config.events):
        raise ConfigError(f"{source}: {problem}")
    if config.smtp.max_recipients < 1 or config.smtp.max_message_size < 1:
        raise ConfigError(f"{source}: smtp limits must be positive")
    if not 0 <= config.smtp.processes <= MAX_PROCESSES:
        raise ConfigError(f"{source}: 'smtp.processes' must be 0 (one per core) to {MAX_PROCESSES}")
    if problem := check_web_hardening(config.http, config.store):
        raise ConfigError(f"{source}: {problem}")
    if config.delivery.lease < 1:
        raise ConfigError(f"{source}: 'delivery.lease' must be at least 1 second")
    if not 1 <= config.store.pool_min <= config.store.pool_max:
        raise ConfigError(f"{source}: 'store.pool_min' must be 1 to 'store.pool_max'")


def _validate_purposes(config: Config) -> None:
    named: list[tuple[str, str | None]] = [
        ("policy.unknown_purpose", config.policy.unknown_purpose)
    ]
    named += [(f"smtp.users '{u.name}' purpose", u.purpose) for u in config.smtp.users]
    named += [(f"streams[{i}].purpose", s.purpose) for i, s in enumerate(config.streams)]
    for key, purpose in named:
        if purpose is not None and purpose not in PURPOSES:
            raise ConfigError(
                f"{config.source}: {key} {purpose!r} is not one of {', '.join(PURPOSES)}"
            )
