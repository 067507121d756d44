"""Connecting to Kafka: one clear error, with the broker's reason, when no broker lets a client in.

kafka-python retries its first connection until ``bootstrap_timeout_ms`` (30 s) and then raises
``KafkaTimeoutError: Unable to bootstrap from [...]``, whatever went wrong: nothing listening,
TLS refused, or wrong SASL credentials. The reason only reaches its log, among dozens of
reconnect lines. :func:`connecting` keeps the last reason it logged and raises
:class:`BrokerUnavailable` naming the servers, the security settings and that reason, which the
CLI prints as one line (exit code :data:`EXIT_UNAVAILABLE`).

A broker that is down or still starting may answer later, so that is waited for. A refusal that
waiting cannot change (credentials, an unsupported SASL mechanism, a certificate either side does
not trust) stops the client at its first attempt instead, as the Java client does.

The reasons come from kafka-python's warnings; where an application sets its loggers to hide them,
:func:`connecting` still hears them (and still shows that application only what it asked for).

Wrong SASL credentials need one more fix (:func:`~wirestream.kafka_compat.deliver_bytes_before_close`):
the broker answers the failed SaslAuthenticate with its reason and closes the connection; kafka-python 3.0 reads the
answer and the close in one go and drops the answer, so all it can say is "socket disconnected".
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

from wirestream.config import Settings

log = logging.getLogger(__name__)

EXIT_UNAVAILABLE = 69  # sysexits.h EX_UNAVAILABLE: a service the command needs is not available
_BOOTSTRAP = "kafka.net.manager"  # logs each failed bootstrap attempt, where it would back off and retry
_REASONS = (_BOOTSTRAP, "kafka.net.connection")


class BrokerUnavailable(KafkaTimeoutError):
    """No broker accepted a client's connection in time; the message says which, how and why.

    A subclass of ``KafkaTimeoutError`` (what kafka-python raises there), so callers that
    already handle that keep doing so.
    """


class _LastReason(logging.Handler):
    """Remembers the last reason kafka-python logged for a failed connection attempt.

    A later reason replaces an earlier one only if it says as much: one that settles the matter
    (credentials or certificate refused) is kept over a disconnect, and anything over the "Request
    timed out" of the attempt that the deadline cut short.

    Given ``settings``, it also ends the bootstrap once a refusal is :attr:`permanent`: at the
    bootstrap's next line about a failed attempt it raises :class:`BrokerUnavailable`. That line
    is logged where kafka-python's bootstrap coroutine has closed the failed connection and would
    back off and retry, so the exception ends that coroutine and reaches the client's constructor
    the way its own timeout does. Threads that were running before (other clients' IO threads)
    are left alone.
    """

    _pattern = re.compile(r"(?:Bootstrap connection to \S+ failed|Connection (?:failed|lost)): (.*?)"
                          r"(?: \(backoff [\d.]+ secs\))?$")
    _decisive = ("AuthenticationFailed", "UnsupportedSaslMechanism", "Handshake failed", "[SSL: ")
    _permanent = ("SaslAuthenticationFailed", "UnsupportedSaslMechanism", "CERTIFICATE_VERIFY_FAILED",
                  "ALERT_CERTIFICATE_UNKNOWN", "ALERT_BAD_CERTIFICATE", "CERTIFICATE_REQUIRED")
    _retry_point = re.compile(r"^Bootstrap (?:connection to \S+ failed|\S+ not ready)")

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(logging.WARNING)
        self.reason: str | None = None
        self.settings, self.started, self.stopped = settings, time.monotonic(), False
        # the Thread objects, not their idents: glibc hands a new thread the pthread id (its stack) of
        # one that just exited, so a new client's IO thread can carry the ident of a stage's old one
        self.others = set(threading.enumerate()) - {threading.current_thread()}

    @property
    def permanent(self) -> bool:
        """Whether the reason kept is a refusal that retrying cannot change."""
        return self.reason is not None and any(mark in self.reason for mark in self._permanent)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = self._pattern.search(message)
        if match and self._weight(match.group(1)) >= self._weight(self.reason):
            self.reason = match.group(1)
        if (self.settings is not None and self.permanent and not self.stopped and record.name == _BOOTSTRAP
                and threading.current_thread() not in self.others and self._retry_point.match(message)):
            self.stopped = True
            raise unavailable(self.settings, self.reason, time.monotonic() - self.started, permanent=True)

    def _weight(self, reason: str | None) -> int:
        if reason is None:
            return -1
        if any(mark in reason for mark in self._decisive):
            return 2
        return 0 if "timed out" in reason.lower() else 1


def describe(settings: Settings) -> str:
    """How a client connects, for error messages (never the password).

    >>> describe(Settings(bootstrap_servers="k1:9093,k2:9093"))
    'k1:9093,k2:9093 over PLAINTEXT'
    >>> describe(Settings(bootstrap_servers="k:9094", security_protocol="SASL_SSL", sasl_username="app"))
    'k:9094 over SASL_SSL (PLAIN as app)'
    """
    how = f"{settings.bootstrap_servers} over {settings.security_protocol}"
    if settings.security_protocol.startswith("SASL"):
        how += f" ({settings.sasl_mechanism or 'PLAIN'} as {settings.sasl_username or '?'})"
    return how


def unavailable(settings: Settings, reason: str | None, waited_s: float, permanent: bool = False) -> BrokerUnavailable:
    """The error for a client that could not connect; the reason cut to what a person needs.

    ``permanent``: the client stopped at a refusal rather than waiting out its timeout, so the
    message names no waiting time.

    >>> print(unavailable(Settings(bootstrap_servers="k:9092"), None, 30.04))  # doctest: +ELLIPSIS
    BrokerUnavailable: no Kafka broker let a client in at k:9092 over PLAINTEXT within 30 s; nothing answered ...
    >>> sasl = Settings(bootstrap_servers="k:9094", security_protocol="SASL_PLAINTEXT", sasl_username="app")
    >>> print(unavailable(sasl, "[Error 58] SaslAuthenticationFailedError: SaslAuthenticationFailedError: "
    ...                         "Authentication failed: Invalid username or password", 30))  # doctest: +ELLIPSIS
    BrokerUnavailable: ... within 30 s; the broker refused the credentials: Authentication failed: Invalid ...
    """
    where = f"no Kafka broker let a client in at {describe(settings)}"
    if not permanent:
        where += f" within {waited_s:.0f} s"
    if reason is None or "ECONNREFUSED" in reason or "Connection refused" in reason:
        return BrokerUnavailable(f"{where}; nothing answered (is the broker running, and is "
                                 "WIRESTREAM_BOOTSTRAP_SERVERS right?)")
    detail = re.sub(r"^(?:\[Error \d+\] )?(?:\w+Error: )+", "", reason)  # "[Error 58] XError: XError: why"
    if "SaslAuthenticationFailedError" in reason:
        return BrokerUnavailable(f"{where}; the broker refused the credentials: {detail}")
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        return BrokerUnavailable(f"{where}; this client does not trust the broker's certificate (is "
                                 f"WIRESTREAM_SSL_CAFILE the CA that signed it?): {detail}")
    if any(alert in reason for alert in ("ALERT_CERTIFICATE_UNKNOWN", "ALERT_BAD_CERTIFICATE", "CERTIFICATE_REQUIRED")):
        return BrokerUnavailable(f"{where}; the broker refused the client certificate (WIRESTREAM_SSL_CERTFILE): "
                                 f"{detail}")
    if "socket disconnected" in reason and settings.security_protocol == "PLAINTEXT":
        detail += " (a TLS or SASL listener closes plain connections: check WIRESTREAM_SECURITY_PROTOCOL)"
    return BrokerUnavailable(f"{where}; last error: {detail}")


class _Forward(logging.Handler):
    """Passes on to a logger's ancestors only the records its level had let through."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        super().__init__(level)
        self.logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        if self.logger.parent is not None:
            self.logger.parent.handle(record)


@contextmanager
def _heard(loggers: list[logging.Logger], handler: logging.Handler) -> Iterator[None]:
    """``handler`` gets these loggers' warnings even where logging is set to hide them, and no one else does.

    An application that sets ``kafka`` to ERROR would otherwise leave :class:`_LastReason` deaf:
    no reason in the error, and a refusal waited out for the whole timeout. Such a logger is
    opened to warnings for the while, without propagating; what its old level let through is
    passed on to its ancestors as before.
    """
    opened = []
    for logger in loggers:
        logger.addHandler(handler)
        if not logger.isEnabledFor(logging.WARNING) and logging.root.manager.disable < logging.WARNING:
            forward = _Forward(logger, logger.getEffectiveLevel()) if logger.propagate else None
            opened.append((logger, logger.level, logger.propagate, forward))
            if forward is not None:
                logger.addHandler(forward)
            logger.propagate = False
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level, propagate, forward in opened:
            logger.setLevel(level)
            logger.propagate = propagate
            if forward is not None:
                logger.removeHandler(forward)
        for logger in loggers:
            logger.removeHandler(handler)


@contextmanager
def connecting(settings: Settings) -> Iterator[None]:
    """Create kafka-python clients inside this; a failed bootstrap becomes :class:`BrokerUnavailable`."""
    handler = _LastReason(settings)
    started = time.monotonic()
    try:
        with _heard([logging.getLogger(name) for name in _REASONS], handler):
            yield
    except KafkaTimeoutError as error:
        if isinstance(error, BrokerUnavailable) or "Unable to bootstrap" not in str(error):
            raise
        raise unavailable(settings, handler.reason, time.monotonic() - started) from error
    except SaslAuthenticationFailedError as error:  # kafka-python versions that raise the refusal themselves
        raise unavailable(settings, str(error), time.monotonic() - started, permanent=True) from error
