"""Every use of kafka-python's private internals, in one place, each workaround named and checked.

wirestream needs a few things kafka-python 3.0 does not offer publicly, or gets wrong. Each one is a
function here whose docstring says why; nothing else in wirestream touches a ``_private`` name of
kafka-python. :func:`install` runs once per process (on importing :mod:`wirestream.clients`): it
applies the one class-level patch and warns, once, when the installed kafka-python is not a version
these were written against or when the internals a workaround reaches for are gone. A workaround
whose internals are missing does nothing and says so; the behaviour it fixed comes back, not a crash.

>>> [w.name for w in WORKAROUNDS][:2]
['deliver-bytes-before-close', 'finish-joins-in-flight']
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

log = logging.getLogger(__name__)

TESTED = ((3, 0),)  # kafka-python major.minor versions these workarounds were written and tested against


@dataclass(frozen=True)
class Workaround:
    """One reach into kafka-python: what it fixes and the private names it needs (``module:Class.attr``)."""

    name: str
    why: str
    needs: tuple[str, ...]

    def missing(self) -> list[str]:
        """The needed names the installed kafka-python lacks (empty: the workaround can apply)."""
        return [need for need in self.needs if not _has(need)]


WORKAROUNDS = (
    Workaround("deliver-bytes-before-close", "a broker's reason for refusing SASL credentials reaches the error",
               ("kafka.net.transport:KafkaTCPTransport._read_from_sock",
                "kafka.net.transport:KafkaTCPTransport._sock_recv", "kafka.net.transport:KafkaTCPTransport.abort")),
    Workaround("finish-joins-in-flight", "a leader that rejoins mid-round-trip does not end up with no partitions",
               ("kafka.coordinator.consumer:ConsumerCoordinator._join_task",)),
    Workaround("bounded-transaction-waits", "commit, abort and offsets of a transaction wait at most its timeout",
               ("kafka.producer.kafka:KafkaProducer._transaction_manager", "kafka.producer.kafka:KafkaProducer._sender",
                "kafka.producer.transaction_manager:TransactionManager._pending_txn_offset_commits")),
    Workaround("group-coordinator-ahead", "the first transaction does not pay the coordinator lookup",
               ("kafka.producer.transaction_manager:FindCoordinatorHandler",
                "kafka.producer.transaction_manager:TransactionManager._enqueue_request")),
    Workaround("commit-markers", "a hanging transaction its coordinator committed is ended as committed",
               ("kafka.admin._transactions:AbortTransactionSpec",
                "kafka.admin.client:KafkaAdminClient._async_get_leader_for_partitions",
                "kafka.admin.client:KafkaAdminClient._manager")),
)


def _has(need: str) -> bool:
    """Whether ``module:Class.attr`` exists; an instance attribute set in ``__init__`` counts if named there."""
    module_name, _, path = need.partition(":")
    try:
        target: Any = import_module(module_name)
    except ImportError:
        return False
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if hasattr(target, part):
            target = getattr(target, part)
        elif depth == len(parts) - 1 and isinstance(target, type):
            return _assigned_in_init(target, part)
        else:
            return False
    return True


def _assigned_in_init(cls: type, attribute: str) -> bool:
    import inspect

    try:
        return any(f"self.{attribute} =" in inspect.getsource(klass.__init__) for klass in cls.__mro__
                   if "__init__" in vars(klass))
    except (OSError, TypeError):
        return False


def installed_version() -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version("kafka-python").split(".")[:3] if p.isdigit())
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return None


def problems(found: tuple[int, ...] | None = None) -> list[str]:
    """What does not match: an untested kafka-python version, and each workaround's missing internals."""
    found = installed_version() if found is None else found
    lines = []
    if found is not None and found[:2] not in TESTED:
        tested = ", ".join(".".join(map(str, t)) for t in TESTED)
        lines.append(f"kafka-python {'.'.join(map(str, found))} is not a version wirestream was tested with "
                     f"({tested}); its workarounds are checked one by one")
    for workaround in WORKAROUNDS:
        if missing := workaround.missing():
            lines.append(f"workaround {workaround.name} ({workaround.why}) is off: kafka-python lacks "
                         f"{', '.join(missing)}")
    return lines


_installed = threading.Lock()
_done = False


def install() -> list[str]:
    """Check the installed kafka-python once per process and apply the class-level patch; returns the problems."""
    global _done
    with _installed:
        if _done:
            return []
        _done = True
    found = problems()
    for line in found:
        log.warning("%s", line)
    deliver_bytes_before_close()
    return found


# --- deliver-bytes-before-close -------------------------------------------------------------------
_patched = threading.Lock()


def deliver_bytes_before_close() -> bool:
    """Make kafka-python hand the bytes read with a connection's close to the protocol before closing.

    kafka-python 3.0's ``KafkaTCPTransport._read_from_sock`` drops whatever it read in the same
    pass as the end of the stream. A broker that refuses SASL credentials sends its reason and
    closes at once, so the reason was always lost. Here the bytes go to the protocol first and the
    close follows as the next task of the client's IO loop, after the SASL exchange has read the
    answer. Returns False (and changes nothing) where kafka-python's internals differ.
    """
    try:
        import kafka.errors as errors
        from kafka.net.transport import KafkaTCPTransport
    except ImportError:  # pragma: no cover - other kafka-python layouts
        return False
    with _patched:
        if getattr(KafkaTCPTransport, "_wirestream_delivers_last_bytes", False):
            return True
        if not all(hasattr(KafkaTCPTransport, name) for name in ("_read_from_sock", "_sock_recv", "abort")):
            log.warning("kafka-python internals changed; broker reasons for a closed connection may be lost")
            return False

        async def _read_from_sock(self: Any) -> None:
            while self._read and not self._closed:
                await self._net.wait_read(self._sock)
                data, error = self._sock_recv()
                if data:
                    self.last_read = time.monotonic()
                    if self._protocol and self._protocol._sensors:
                        self._protocol._sensors.bytes_received.record(len(data))
                    try:
                        self._protocol.data_received(data)
                    except errors.KafkaProtocolError as protocol_error:
                        return self.abort(error=protocol_error)
                if error:
                    if not data:
                        return self.abort(error=error)

                    async def abort_after_the_answer(error: Exception = error) -> None:
                        self.abort(error=error)

                    self._net.call_soon(abort_after_the_answer)
                    return None
            return None

        KafkaTCPTransport._read_from_sock = _read_from_sock
        KafkaTCPTransport._wirestream_delivers_last_bytes = True
        return True


# --- finish-joins-in-flight -----------------------------------------------------------------------
def finish_joins_in_flight(consumer: Any) -> bool:
    """Work around a kafka-python 3.0 race that leaves a member in its group with no partitions.

    A leader that rejoins because the topic metadata changed (e.g. its first assignment was made
    before it knew the topic's partitions) updates its assignment snapshot while the JoinGroup/
    SyncGroup round trip is still in flight. If that round trip outlasts the ``poll`` that started
    it, the next ``poll`` sees no reason to rejoin and never collects the SyncGroup result: the
    member keeps no partitions and sends no heartbeats until the broker drops it. Counting a join
    in flight as "rejoin needed" makes the next ``poll`` finish it. Returns whether it applied.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "_join_task"):
        log.warning("kafka-python internals changed; the join-in-flight workaround is not applied")
        return False
    need_rejoin = coordinator.need_rejoin

    def need_rejoin_or_join_in_flight() -> bool:
        return bool(need_rejoin() or coordinator._join_task is not None)

    coordinator.need_rejoin = need_rejoin_or_join_in_flight
    return True


# --- bounded-transaction-waits --------------------------------------------------------------------
def transaction_manager(producer: Any) -> Any:
    """The producer's transaction manager, whose calls return results one can wait on with a bound.

    kafka-python's ``commit_transaction()`` / ``send_offsets_to_transaction()`` wait without a bound;
    a broker that goes away mid-commit would hang the stage, so the same calls are driven from here.
    """
    return producer._transaction_manager


def wake_sender(producer: Any) -> None:
    """Make the producer's sender thread look at the transaction manager's new request now."""
    producer._sender.wakeup()


def drop_pending_offset_commits(producer: Any) -> dict | None:
    """Clear offsets a refused transactional offset commit left pending; returns what was dropped.

    kafka-python 3.0 keeps the offsets of a refused transactional offset commit (e.g.
    UNKNOWN_MEMBER_ID after a broker restart) as pending after the transaction is aborted, and
    sends them along with the next transaction's offsets: that batch's input would be committed
    as consumed while its outputs were aborted, and lost. Java's producer clears them when a
    transaction ends; wirestream does the same when the next one begins.
    """
    pending = getattr(transaction_manager(producer), "_pending_txn_offset_commits", None)
    if not pending:
        return None
    dropped = dict(pending)
    pending.clear()
    return dropped


# --- group-coordinator-ahead ----------------------------------------------------------------------
def find_group_coordinator(producer: Any, group_id: str) -> Any:
    """Ask for the group's coordinator through the producer's transaction manager; returns the result to wait on.

    kafka-python otherwise finds it inside the first batch's offset commit, behind two 100 ms retry
    back-offs (measured: the first transaction took 0.3 s, the next ones 45 ms).
    """
    from kafka.producer.transaction_manager import FindCoordinatorHandler
    from kafka.protocol.metadata import CoordinatorType

    manager = transaction_manager(producer)
    handler = FindCoordinatorHandler(manager, CoordinatorType.GROUP, group_id)
    manager._enqueue_request(handler)
    return handler._result


# --- commit-markers -------------------------------------------------------------------------------
def abort_transaction_spec(**fields: Any) -> Any:
    """kafka-python's ``AbortTransactionSpec`` (the argument of ``abort_transaction``), from its private module."""
    from kafka.admin._transactions import AbortTransactionSpec

    return AbortTransactionSpec(**fields)


def send_to_partition_leader(admin: Any, request: Any, partition: Any) -> Any:
    """Send ``request`` to ``partition``'s leader through the admin client's request manager; its response.

    kafka-python's admin client has no public way to send an arbitrary request (here: a
    WriteTxnMarkers commit, which ``abort_transaction`` cannot write).
    """

    async def send() -> Any:
        leaders = await admin._async_get_leader_for_partitions([partition])
        return await admin._manager.send(request, node_id=next(iter(leaders)))

    return admin._manager.run(send)

