"""Fetch, format, start, stop and query a local single-node Kafka broker."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wirestream.broker.tls import TlsFiles
from wirestream.config import Settings

log = logging.getLogger(__name__)

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
"""


_SASL = """
# {name}: PLAIN checks the one user below; SCRAM users live in the cluster metadata (LocalBroker.start)
listener.name.{listener}.plain.sasl.jaas.config=\\
  org.apache.kafka.common.security.plain.PlainLoginModule required user_{username}="{password}";
listener.name.{listener}.scram-sha-256.sasl.jaas.config=\\
  org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.{listener}.scram-sha-512.sasl.jaas.config=\\
  org.apache.kafka.common.security.scram.ScramLoginModule required;
"""
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SSL = """
# {name}: a certificate signed by a local CA (tls.py)
listener.name.{listener}.ssl.keystore.type=PKCS12
listener.name.{listener}.ssl.keystore.location={keystore}
listener.name.{listener}.ssl.keystore.password={password}
listener.name.{listener}.ssl.key.password={password}
# a client certificate (when offered, or always: WIRESTREAM_BROKER_SSL_CLIENT_AUTH) must be the local CA's
listener.name.{listener}.ssl.client.auth={client_auth}
listener.name.{listener}.ssl.truststore.type=PKCS12
listener.name.{listener}.ssl.truststore.location={keystore}
listener.name.{listener}.ssl.truststore.password={password}
"""


def sasl_user(settings: Settings) -> tuple[str, str]:
    """The one user the local broker's SASL listener accepts, checked so it fits the JAAS line.

    >>> sasl_user(Settings(sasl_username="app", sasl_password="s3cret"))
    ('app', 's3cret')
    >>> sasl_user(Settings(sasl_username="app", sasl_password='a"b'))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the local broker's SASL user needs ... without quotes, backslashes or line breaks
    """
    username, password = settings.sasl_username or "", settings.sasl_password or ""
    plain_name = username.replace(".", "").replace("_", "").replace("-", "").isalnum()
    if not (plain_name and password) or any(c in password for c in '"\\\n\r'):
        raise ValueError("the local broker's SASL user needs WIRESTREAM_SASL_USERNAME (letters, digits, . _ -) "
                         "and a WIRESTREAM_SASL_PASSWORD without quotes, backslashes or line breaks")
    return username, password


def new_cluster_id() -> str:
    """A random KRaft cluster id: URL-safe base64 of a UUID, never starting with "-".

    An id that starts with "-" would be read as an option by ``StorageTool``'s argument parser
    (Kafka's own ``Uuid.randomUuid`` avoids such ids for the same reason).

    >>> all(not new_cluster_id().startswith("-") and len(new_cluster_id()) == 22 for _ in range(500))
    True
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    answering: bool
    role: str = "broker"

    def __str__(self) -> str:
        state = "running" if self.running else "stopped"
        answer = "answering" if self.answering else "not answering"
        return f"{self.role} {state} (pid {self.pid or '-'}) at {self.bootstrap}, {answer}"


COMBINED = "broker,controller"


class LocalBroker:
    """One KRaft node on 127.0.0.1, a broker+controller by default; every method is safe to call twice.

    Alone it is a one-node cluster on the settings' ports. :class:`~wirestream.broker.cluster.LocalCluster`
    makes each of its nodes one of these, with its own ``node_id``, ``roles`` (``"broker"`` or
    ``"controller"`` for a cluster with dedicated controllers), ports, quorum ``voters``,
    ``replication`` of the internal topics and ``state_dir`` (data, config, PID and logs).
    """

    def __init__(self, settings: Settings | None = None, *, node_id: int = 1, port: int | None = None,
                 controller_port: int | None = None, voters: str | None = None, replication: int = 1,
                 state_dir: Path | None = None, roles: str = COMBINED) -> None:
        if roles not in (COMBINED, "broker", "controller"):
            raise ValueError(f"roles must be {COMBINED!r}, 'broker' or 'controller', not {roles!r}")
        self.settings = settings or Settings()
        self.home: Path = self.settings.broker_home
        self.node_id = node_id
        self.roles = roles
        self.port = port or self.settings.broker_port
        self.controller_port = controller_port or self.settings.broker_controller_port
        self.voters = voters or f"{node_id}@127.0.0.1:{self.controller_port}"
        self.replication = replication
        self.state_dir = state_dir
        self.cluster_id: str | None = None  # a cluster's nodes share one; a lone broker draws its own
        self.sasl_port = self.settings.broker_sasl_port
        self.ssl_port = self.settings.broker_ssl_port
        self.sasl_ssl_port = self.settings.broker_sasl_ssl_port

    # --- paths ---------------------------------------------------------------------
    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data" if self.state_dir else self.home / f"data-{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "broker.pid" if self.state_dir else self.home / f"broker-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "broker.log" if self.state_dir else self.home / f"broker-{self.port}.log"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "server.properties" if self.state_dir else self.home / f"server-{self.port}.properties"

    @property
    def log4j_file(self) -> Path:
        return self.state_dir / "log4j2.properties" if self.state_dir else self.home / "log4j2.properties"

    @property
    def is_broker(self) -> bool:
        """False for a dedicated controller: it serves the quorum only, no clients."""
        return self.roles != "controller"

    @property
    def listen_port(self) -> int:
        """The port that shows the node is up: the client port, or a controller's quorum port."""
        return self.port if self.is_broker else self.controller_port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secured_listeners(self) -> dict[str, int]:
        """The listeners beyond PLAINTEXT that the settings ask for: security protocol -> port."""
        ports = {"SASL_PLAINTEXT": self.sasl_port, "SSL": self.ssl_port, "SASL_SSL": self.sasl_ssl_port}
        return {protocol: port for protocol, port in ports.items() if port is not None}

    def bootstrap_for(self, protocol: str) -> str:
        """Where clients with ``security_protocol=protocol`` connect (TLS ones trusting :attr:`ssl_cafile`)."""
        port = self.port if protocol == "PLAINTEXT" else self.secured_listeners[protocol]
        return f"127.0.0.1:{port}"

    @property
    def sasl_listeners(self) -> list[str]:
        return [name for name in self.secured_listeners if name.startswith("SASL")]

    @property
    def ssl_cafile(self) -> Path:
        """The local CA's certificate, which signed the TLS listeners': clients' ``WIRESTREAM_SSL_CAFILE``."""
        return self.home / f"tls-{self.port}" / "ca.pem"

    def listeners(self) -> str:
        """The client listeners, one per line, for ``wirestream broker start``."""
        lines = [f"PLAINTEXT at {self.bootstrap}"]
        for protocol in self.secured_listeners:
            notes = []
            if protocol.startswith("SASL"):
                notes.append(f"{', '.join(SASL_MECHANISMS)} as {self.settings.sasl_username}")
            if protocol.endswith("SSL"):
                notes.append(f"CA certificate {self.ssl_cafile}")
            lines.append(f"{protocol} at {self.bootstrap_for(protocol)} ({'; '.join(notes)})")
        return "\n".join(lines)

    # --- fetch -------------------------------------------------------------------------
    def fetch(self) -> Path:
        """Copy the broker jars from Maven Central into ``libs`` (skipped when already there)."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (mvn) is needed to fetch the Kafka jars; install it (apt-get install maven)")
        self.home.mkdir(parents=True, exist_ok=True)
        pom = self.home / "pom.xml"
        pom.write_text(resources.files("wirestream.broker").joinpath("pom.xml").read_text())
        log.info("fetching Kafka jars from Maven Central into %s", self.libs)
        fetched = subprocess.run(  # Maven 3.8 writes colour resets even with -q: its output is shown on failure only
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={self.libs}"],
            capture_output=True, text=True,
        )
        if fetched.returncode != 0:
            said = re.sub(r"\x1b\[[0-9;]*m", "", fetched.stdout + fetched.stderr).strip()
            raise RuntimeError(f"mvn could not fetch the Kafka jars (exit {fetched.returncode}): {said[-2000:]}")
        marker.touch()
        return self.libs

    # --- configuration and storage ---------------------------------------------------------------
    def _write_config(self) -> Path:
        config = self.config_file
        config.parent.mkdir(parents=True, exist_ok=True)
        template = resources.files("wirestream.broker").joinpath("server.properties").read_text()
        listeners = {"PLAINTEXT": self.port, **self.secured_listeners}
        clients = ",".join(f"{name}://127.0.0.1:{port}" for name, port in listeners.items())
        quorum = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        serving = f"advertised.listeners={clients}\ninter.broker.listener.name=PLAINTEXT"
        listener_lines = {
            COMBINED: f"listeners={clients},{quorum}\n{serving}",
            "broker": f"listeners={clients}\n{serving}",
            "controller": f"listeners={quorum}",
        }[self.roles]
        text = template.format(
            roles=self.roles,
            listener_lines=listener_lines,
            protocols=",".join(f"{name}:{name}" for name in listeners),
            data_dir=self.data_dir,
            partitions=self.settings.partitions,
            node_id=self.node_id,
            voters=self.voters,
            replication=self.replication,
            min_isr=min(2, self.replication),
        )
        if self.sasl_listeners:
            username, password = sasl_user(self.settings)
            text += f"sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}\n"
        for name in self.secured_listeners:
            if name.startswith("SASL"):
                text += _SASL.format(name=name, listener=name.lower(), username=username, password=password)
            if name.endswith("SSL"):
                tls = TlsFiles.ensure(self.ssl_cafile.parent)
                client_auth = self.settings.broker_ssl_client_auth if name == "SSL" else "requested"
                text += _SSL.format(name=name, listener=name.lower(), keystore=tls.keystore, password=tls.password,
                                    client_auth=client_auth)
        config.write_text(text)
        config.chmod(0o600)  # it may hold the SASL password and the keystore's
        self.log4j_file.write_text(_LOG4J2.format(log_file=self.log4j_file.parent / "kafka-server.log"))
        return config

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.settings.broker_heap}",
            "-Xms128m",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def format(self, config: Path) -> None:
        """Format KRaft storage once; a formatted data directory is left as it is."""
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or new_cluster_id()
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    # --- lifecycle -------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A PID can be reused by another program after a reboot; make sure it is our JVM.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        return pid if b"kafka.Kafka" in cmdline else None

    def answering(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.listen_port), timeout=1):
                return True
        except OSError:
            return False

    def status(self) -> BrokerStatus:
        pid = self.pid()
        if not self.is_broker:
            return BrokerStatus(pid is not None, pid, f"127.0.0.1:{self.controller_port}", self.answering(),
                                role="controller")
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.answering())

    def reset(self) -> None:
        """Delete the broker's data (topics, offsets) so the next start is a fresh cluster."""
        if self.pid() is not None:
            raise RuntimeError("stop the broker before resetting its data")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def start(self, timeout_s: float = 90.0) -> BrokerStatus:
        """Fetch, format and start the broker, then wait until it serves metadata."""
        process = self.launch()
        if process is None:
            self.wait_ready(timeout_s)
            return self.status()
        try:
            self.wait_ready(timeout_s, process)
            if self.sasl_listeners:
                self._add_scram_user()
        except Exception:
            self.stop()
            raise
        return self.status()

    def launch(self) -> subprocess.Popen[bytes] | None:
        """Fetch, format and start the JVM without waiting for it; None when it is already running.

        A cluster launches every node before waiting for any: a node serves only once a majority
        of the controller quorum is up.
        """
        if self.pid() is not None:
            return None
        if self.answering():
            raise RuntimeError(f"port {self.listen_port} is taken by another program; set WIRESTREAM_BROKER_PORT")
        self.fetch()
        config = self._write_config()
        self.format(config)
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def _add_scram_user(self) -> None:
        """Store the SASL user's SCRAM credentials (both hashes) in the cluster; upserting twice is harmless."""
        from kafka import KafkaAdminClient
        from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

        from wirestream.clients import constructed

        username, password = sasl_user(self.settings)
        admin = constructed(KafkaAdminClient, bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
                # one mechanism per request: the broker refuses two changes of one user in a request
                error = admin.alter_user_scram_credentials(
                    [UserScramCredentialUpsertion(username, mechanism, password)]).get(username)
                if error:
                    raise RuntimeError(f"could not store {mechanism.name} credentials for {username}: {error}")
        finally:
            admin.close()

    def wait_ready(self, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
        """Block until the broker answers a metadata request that lists it among the cluster's brokers
        (a dedicated controller: until its quorum port answers)."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        from wirestream.clients import constructed

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"Kafka exited with {process.returncode}; see {self.log_file}")
            if self.answering() and not self.is_broker:
                return
            if self.answering():
                try:
                    admin = constructed(KafkaAdminClient, bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                    try:
                        brokers = admin.describe_cluster().get("brokers") or []
                        if any(b.get("broker_id") == self.node_id and not b.get("is_fenced") for b in brokers):
                            return
                    finally:
                        admin.close()
                except KafkaError:
                    pass
            time.sleep(0.5)
        raise TimeoutError(f"Kafka did not answer on 127.0.0.1:{self.listen_port} within {timeout_s:.0f}s; "
                           f"see {self.log_file}")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker by its PID (SIGTERM, then SIGKILL); False when none was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.2)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 10
        while self.answering() and time.monotonic() < deadline:  # the port is free once stop returns
            time.sleep(0.1)
        return True

    @staticmethod
    def _alive(pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child: no zombie
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (OSError, IndexError):
            return True
        return state != "Z"
