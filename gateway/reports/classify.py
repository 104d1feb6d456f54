"""What a failure means for the recipient: the status code and the diagnostic text together.

A code alone misleads (`5.1.1` with "mailbox full" text is a full mailbox; Microsoft answers
an unknown recipient with `5.4.1`; many servers send `5.0.0` or `550` for everything), and
text alone misleads too (an unknown *sender* is the sender's problem). So the text rules come
first, in this order, and the code decides only when no text rule matched:

1. `quota` and the few recipient-specific phrases that would otherwise read as sender-side;
2. sender-side rules (authentication, block lists, spam and policy, relay, rate, sender);
   these win over everything after them: a refusal of the sender never suppresses anyone;
3. a transient failure (class 4, or Action: delayed) is `soft` whatever its text says;
4. mailbox-level permanent rules (unknown user or domain, moved, disabled): `hard`;
5. transient phrases in a permanent report (expired, network, greylisted): `soft`;
6. the status code's class and subject (RFC 3463); `5.0.0` or nothing at all: `soft`
   ("undetermined"), since a suppression must rest on evidence.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.reports.model import HARD, SENDER, SOFT

UNDETERMINED: Final = "undetermined"

Rule = tuple[str, str, re.Pattern[str]]


def _rule(name: str, outcome: str, *phrases: str) -> Rule:
    return name, outcome, re.compile("|".join(phrases), re.IGNORECASE)


_FIRST: Final[tuple[Rule, ...]] = (
    _rule(
        "quota",
        SOFT,
        r"mailbox (is |was )?full",
        r"full mailbox",
        r"over ?quota",
        r"quota",
        r"insufficient (system )?storage",
        r"out of (disk )?space",
        r"disk full",
        r"exceeded (the |their |its )?(storage|mailbox size)",
        r"storage (allocation|limit)",
        r"mailbox size limit exceeded",
        r"user is over",
        r"too many messages in (this|the) mailbox",
        r"mail ?folder is full",
        r"inbox is full",
    ),
    # Microsoft's Directory-Based Edge Blocking: "Recipient address rejected: Access denied.
    # AS(201806281)" means the recipient does not exist, although it reads as a policy refusal.
    _rule("unknown-user", HARD, r"as\(201806281\)"),
    _rule("suppression-list", HARD, r"on (the|an?) (account-level )?suppression list"),
)

_SENDER: Final[tuple[Rule, ...]] = (
    _rule(
        "rate-limited",
        SENDER,
        r"rate limit",
        r"too many (messages|connections|recipients|emails)",
        r"throttl",
        r"unusual rate",
        r"unexpected volume",
        r"sending limit",
    ),
    _rule(
        "authentication",
        SENDER,
        r"\b5\.7\.(2[0-7]|515|509|510|511)\b",
        r"\b4\.7\.(2[0-7]|30|32)\b",
        r"\bdmarc\b",
        r"\bspf\b",
        r"\bdkim\b",
        r"unauthenticated",
        r"not authenticated",
        r"authentication (level|failed|failure|required|check)",
        r"sender policy framework",
        r"not pass (the )?authentication",
    ),
    _rule(
        "block-list",
        SENDER,
        r"spamhaus",
        r"spamcop",
        r"barracuda",
        r"sorbs",
        r"black ?list",
        r"block ?list",
        r"\bdnsbl\b",
        r"\brbl\b",
        r"blocked using",
        r"(?<!not )listed (at|on|in|by) ",
        r"banned sending ip",
        r"\bs3140\b",
        r"\bs3150\b",
        r"\bsc-00\d\b",
        r"\bdy-00\d\b",
        r"\bss-00\d\b",
        r"(client|sending|your|source) (host|ip|server|network)[^.;]{0,60}"
        r"(blocked|denied|rejected|refused)",
        r"(ip|address) (address )?[\[(]?\d{1,3}(\.\d{1,3}){3}[\])]?[^.;]{0,40}"
        r"(blocked|denied|rejected|listed)",
        r"poor reputation",
        r"\breputation\b",
        r"traffic not accepted from this ip",
        r"access denied, (banned|traffic)",
        r"\btss0\d\b",
        r"\bts0\d\b",
        r"not accepting mail from",
    ),
    _rule(
        "spam-or-policy",
        SENDER,
        r"\bspam\b",
        r"unsolicited",
        r"\bjunk\b",
        r"content (was )?rejected",
        r"message content",
        r"\bvirus\b",
        r"malware",
        r"phish",
        r"suspicious",
        r"policy reasons",
        r"(due to|by|for) (local |our )?policy",
        r"policy (violation|rejection)",
        r"local policy",
        r"\bbulk mail\b",
        r"not accepted for policy",
        r"prohibited (content|attachment)",
        r"url .{0,40}blocked",
    ),
    _rule(
        "relay-denied",
        SENDER,
        r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)",
        r"not (permitted|allowed|authori[sz]ed) to relay",
        r"unable to relay",
        r"we do not relay",
        r"no relaying",
    ),
    _rule(
        "sender-rejected",
        SENDER,
        r"sender (address )?(is )?(rejected|refused|denied|blocked|not allowed|unknown|invalid)",
        r"sender address rejected",
        r"unverified sender",
        r"sender verify failed",
        r"bad sender",
        r"domain of sender address",
        r"envelope (sender|from) (rejected|refused)",
        r"mail from .{0,60}(rejected|refused)",
        r"sender domain",
        r"not authori[sz]ed to send",
        r"restrictedtorecipientspermission",
        r"resolver\.rst\.",
        r"not permitted to send",
    ),
    _rule(
        "reverse-dns",
        SENDER,
        r"reverse dns",
        r"\bptr\b",
        r"\brdns\b",
        r"does not resolve to",
        r"hostname .{0,40}resolve",
    ),
    _rule(
        "message-too-large",
        SENDER,
        r"message (size )?(too (big|large)|exceeds)",
        r"too large",
        r"size limit",
        r"maximum (inbound )?message size",
    ),
)

_HARD: Final[tuple[Rule, ...]] = (
    _rule(
        "unknown-domain",
        HARD,
        r"host or domain name not found",
        r"domain (name )?(not found|does not exist)",
        r"no such domain",
        r"unknown domain",
        r"nxdomain",
        r"unrouteable mail domain",
        r"\bno mx\b",
        r"null mx",
        r"host not found",
        r"unknown host",
        r"domain (is )?not valid",
        r"bad destination system address",
        r"no valid hosts",
        r"domain .{0,40}does not accept mail",
    ),
    _rule(
        "unknown-user",
        HARD,
        r"user unknown",
        r"unknown user",
        r"no such (user|mailbox|recipient|address|account|person)",
        r"(mailbox|recipient|address|account|user|addressee)( name)? "
        r"((does not|doesn't|does n.t) exist|(is )?(unknown|not found|invalid))",
        r"invalid (recipient|mailbox|address|user|account)",
        r"recipient ?not ?found",
        r"not a valid (mailbox|recipient|user|address)",
        r"unrouteable address",
        r"doesn't have an? .{1,40} account",
        r"no mailbox",
        r"unknown (local[- ]part|recipient|mailbox)",
        r"not listed in .{0,40}directory",
        r"addressee unknown",
        r"bad destination mailbox",
        r"unknown or illegal alias",
        r"unknown address",
        r"non-?existent",
        r"does not exist",
        r"mailbox (is )?unavailable",
        r"mailbox not available",
        r"no such local user",
        r"not (our|a local) (customer|user)",
        r"bad address",
        r"invalid address",
        r"mailbox unknown",
        r"user not found",
        r"user doesn't exist",
        r"user not known",
        r"not listed in",
        r"n'existe pas",
        r"no matches to nameserver query",
        r"does not have a final (e-?mail )?delivery point",
        r"invalid final delivery userid",
        r"did not (exactly )?match an? .{0,30}address",
    ),
    _rule(
        "moved",
        HARD,
        r"\bmoved\b",
        r"no longer (active|valid|in use|available|with|works|employed)",
        r"has left",
        r"left the (company|organi[sz]ation)",
        r"forwarding address",
    ),
    _rule(
        "disabled",
        HARD,
        r"disabled",
        r"deactivated",
        r"inactive",
        r"suspended",
        r"account (has been |is )?(closed|locked|blocked|expired|terminated|deleted|frozen)",
        r"mailbox (is )?(closed|locked)",
        r"no longer accepts",
        r"not accepting (mail|messages)",
        r"does not accept mail",
        r"account expired",
        r"expired account",
    ),
)

_TRANSIENT: Final[tuple[Rule, ...]] = (
    _rule("greylisted", SOFT, r"gr[ae]ylist", r"try (again )?later", r"please retry"),
    _rule(
        "expired",
        SOFT,
        r"expired",
        r"retry time ?out",
        r"timed? ?out",
        r"giving up",
        r"too long in queue",
        r"could not be delivered for \d+",
        r"delivery time",
    ),
    _rule(
        "network",
        SOFT,
        r"connection (refused|timed out|reset|lost|dropped)",
        r"network (is )?unreachable",
        r"no route to host",
        r"unreachable",
        r"lost connection",
        r"(dns|lookup) (failure|error)",
        r"temporar(il)?y",
        r"try again",
        r"not (reachable|responding)",
    ),
)

# RFC 3463 subjects and the details that name the mailbox itself.
_HARD_CODES: Final = frozenset(
    {"5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.4", "5.1.6", "5.1.10", "5.2.1", "5.4.4"}
)
_SUBJECTS: Final = {
    "1": HARD,
    "2": SOFT,
    "3": SOFT,
    "4": SOFT,
    "5": SENDER,
    "6": SENDER,
    "7": SENDER,
}
_SENDER_CODES: Final = frozenset({"5.2.3", "5.3.4"})  # message too large


def classify(action: str, status: str, text: str) -> tuple[str, str]:
    """(outcome, why) of one failed or delayed recipient."""
    evidence = f"{status} {text}"
    for name, outcome, pattern in _FIRST + _SENDER:
        match = pattern.search(evidence)
        if match:
            return outcome, f"{name}: {match[0].strip()!r}"
    if status.startswith("4") or action.startswith("delay"):
        return SOFT, f"transient: {'status ' + status if status else 'action ' + action}"
    for name, outcome, pattern in _HARD + _TRANSIENT:
        match = pattern.search(text)
        if match:
            return outcome, f"{name}: {match[0].strip()!r}"
    return _by_code(status)


def _by_code(status: str) -> tuple[str, str]:
    if status in _HARD_CODES:
        return HARD, f"status {status}: the mailbox or its domain (RFC 3463)"
    if status in _SENDER_CODES:
        return SENDER, f"status {status}: the message is too large (RFC 3463)"
    parts = status.split(".")
    if len(parts) == 3 and parts[0] == "5" and parts[1] != "0" and parts[1] in _SUBJECTS:
        return _SUBJECTS[parts[1]], f"status {status}: subject {parts[1]} (RFC 3463)"
    return SOFT, f"{UNDETERMINED}: status {status or 'none'} and no known phrase"
