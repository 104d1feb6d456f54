"""Start-up checks: a fault found before serving is one line naming the cause and the path
or address (`gatekeeper: <cause> (<where>)`), never a traceback and never a process left
hanging half-started. The configured policies are loaded here too: `serve` and the
commands that decide (`check`, `contacts show`, `policy show`) read them the same way."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gateway.config import Config, ConfigError
from gateway.config_values import is_loopback_host, parse_hostport
from gateway.policy import Policy, PolicyError, default_policy_dir, load_policies

log = logging.getLogger("gatekeeper")


class StartupError(ConfigError):
    """A fault that stops `serve`; printed as `gatekeeper: <cause> (<where>)`."""

    def __init__(self, cause: str, where: object) -> None:
        super().__init__(f"{cause} ({where})")


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def check_writable_dir(directory: Path, what: str) -> None:
    """`directory` exists and is writable, or can be made: its nearest existing ancestor
    is a writable directory. Checked with access(2), which honours the immutable flag too."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StartupError(f"{what}: {existing} is a file, not a directory", directory)
    if not os.access(existing, os.W_OK | os.X_OK):
        state = "is read-only" if existing == directory else f"cannot be made in {existing}"
        raise StartupError(f"{what} {state}", directory)


def check_store_file(path: Path) -> None:
    """SQLite writes the file and, beside it, the -wal and -shm files (WAL mode)."""
    if path.is_dir():
        raise StartupError("store.url names a directory, not a file", path)
    check_writable_dir(path.parent, "store directory")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StartupError("store file is read-only", path)


def check_outbox(directory: str) -> None:
    check_writable_dir(Path(directory), "outbox directory")


def redacted(url: str) -> str:
    """A store or upstream URL fit for a message: no password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


OPEN_RELAY_KEY = "smtp.i_know_this_is_an_open_relay"
# The broadest public networks allow_networks may name: an IPv4 /8 is one allocation (a
# single organisation or RIR block); an IPv6 /32 is the smallest regular RIR allocation to a
# provider. Anything broader spans many organisations' hosts, so it is the open Internet.
_BROADEST = {4: 8, 6: 32}
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def too_broad(network: str) -> bool:
    """A network broader than _BROADEST that holds public addresses (0.0.0.0/0, ::/0, ...).
    Private ranges (10/8, fc00::/7) may be as broad as they are. ::ffff:0:0/96 is IPv4 as a
    dual-stack socket sees it, so its IPv4 part is held to the IPv4 bound."""
    net: ipaddress.IPv4Network | ipaddress.IPv6Network
    net = ipaddress.ip_network(network, strict=False)
    if isinstance(net, ipaddress.IPv6Network):
        if net.prefixlen < 96 and net.supernet_of(_IPV4_MAPPED):
            return True
        if net.subnet_of(_IPV4_MAPPED):
            four = int(net.network_address) & 0xFFFFFFFF
            net = ipaddress.ip_network((four, net.prefixlen - 96))
    if net.is_private:
        return False
    return net.prefixlen < _BROADEST[net.version]


def open_relay_problems(config: Config) -> list[str]:
    """Settings that make an open relay, or take passwords in clear beyond loopback."""
    smtp = config.smtp
    host, _ = parse_hostport(smtp.listen)
    problems = [
        f"smtp.allow_networks {net} lets any host on the Internet relay (open relay)"
        for net in smtp.allow_networks
        if too_broad(net)
    ]
    if smtp.auth_require_tls is False and not is_loopback_host(host):
        problems.append(
            f"smtp.auth_require_tls = false on {smtp.listen} (beyond loopback) takes "
            "passwords in clear text"
        )
    return problems


def check_open_relay(config: Config) -> None:
    """Refuse to start on an open-relay problem unless smtp.i_know_this_is_an_open_relay."""
    problems = open_relay_problems(config)
    if problems and not config.smtp.i_know_this_is_an_open_relay:
        raise StartupError(
            f"{problems[0]}; narrow it, or set {OPEN_RELAY_KEY} = true", config.source
        )


def warn_about_open_relay(config: Config) -> None:
    for problem in open_relay_problems(config):
        log.warning("%s; started anyway: %s = true", problem, OPEN_RELAY_KEY)


# Mozilla's "intermediate" configuration (ssl-config.mozilla.org, guideline 5.7): TLS 1.2
# with forward-secret AEAD suites only; TLS 1.3's suites are all modern and left as they are.
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The context both SMTP listeners share (gateway/smtp/tls.py reloads it on SIGHUP):
    TLS 1.2 or later (RFC 8996 retired 1.0 and 1.1; RFC 8314 §4.1 asks for current TLS),
    the intermediate suites, no client-initiated renegotiation (a cheap CPU drain)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    context.load_cert_chain(cert, key)
    return context


def server_tls(config: Config) -> ssl.SSLContext | None:
    cert, key = config.smtp.tls_cert, config.smtp.tls_key
    if not cert or not key:
        if config.smtp.tls_listen:
            raise StartupError(
                "smtp.tls_listen needs smtp.tls_cert and smtp.tls_key", config.source
            )
        return None
    try:
        context = server_context(cert, key)
    except ssl.SSLError as exc:
        # reason is None for OpenSSL's PEM_LIB: not PEM at all, or a key of another cert
        reason = exc.reason or "not a PEM certificate with its matching key"
        raise StartupError(f"bad TLS certificate or key: {reason}", f"{cert}, {key}") from exc
    except OSError as exc:
        raise StartupError(
            f"cannot read the TLS certificate or key: {os_reason(exc)}", exc.filename or cert
        ) from exc
    return context


def warn_about_unsubscribe(config: Config, hostname: str) -> None:
    """Defaults that would quietly break unsubscribing: links no recipient can reach, no
    one-click (it needs https), a mailto address no mail system routes."""
    if not config.unsubscribe.secret:
        log.warning("unsubscribe.secret not set: no List-Unsubscribe fields are added")
        return
    public = urlsplit(config.http.public_url)
    host = public.hostname or ""
    if is_loopback_host(host) or host.endswith(".localhost"):
        log.warning(
            "http.public_url %s is loopback: recipients cannot reach the unsubscribe links "
            "(set http.public_url to the gateway's public https:// address)",
            config.http.public_url,
        )
    if public.scheme != "https":
        log.warning(
            "http.public_url %s is plain http: one-click unsubscribe (RFC 8058) needs https, "
            "so only the RFC 2369 List-Unsubscribe field is added",
            config.http.public_url,
        )
    domain = config.unsubscribe.mailto_domain or hostname
    if "." not in domain.strip("."):
        log.warning(
            "the mailto unsubscribe domain %r has no dot: mail to it cannot be routed (set "
            "unsubscribe.mailto_domain or smtp.hostname to a real domain)",
            domain,
        )


def listen_error(what: str, address: str, exc: OSError) -> StartupError:
    return StartupError(f"cannot listen for {what}: {os_reason(exc)}", address)


def machine_name(config: Config) -> str:
    return config.smtp.hostname or socket.getfqdn()


def policy_directory(config: Config) -> Path:
    return Path(config.policy.directory) if config.policy.directory else default_policy_dir()


def load_configured_policies(config: Config) -> dict[str, Policy]:
    """The policy files; a typo stops start-up with file, line and key."""
    return load_checked_policies(config, policy_directory(config))


def load_checked_policies(config: Config, directory: Path) -> dict[str, Policy]:
    """A policy directory, or a ConfigError of one line naming the first problem."""
    try:
        policies = load_policies(directory)
    except PolicyError as exc:
        more = len(exc.problems) - 1
        tail = f" (and {more} more: `gatekeeper policy lint` lists them)" if more > 0 else ""
        raise ConfigError(f"{exc.problems[0] if exc.problems else exc}{tail}") from exc
    default = config.policy.default_jurisdiction.lower()
    if default not in policies:
        raise ConfigError(
            f"{config.source}: policy.default_jurisdiction {default!r} has no file in {directory}"
        )
    return policies


def load_shadow_policies(config: Config) -> dict[str, Policy] | None:
    """The candidate set of `policy.shadow_directory` (None when unset), loaded and checked
    like the live one: a typo stops start-up with one line."""
    if not config.policy.shadow_directory:
        return None
    return load_checked_policies(config, Path(config.policy.shadow_directory))
