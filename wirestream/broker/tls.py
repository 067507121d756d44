"""A local certificate authority and broker certificate, made with the JDK's ``keytool``.

The local broker's TLS listener (``WIRESTREAM_BROKER_SSL_PORT``) needs a keystore, and its clients
need the certificate that signed it (``WIRESTREAM_SSL_CAFILE``). ``keytool`` ships with the Java
the broker already needs, so this adds no dependency. The broker's certificate names 127.0.0.1 and
localhost, so clients verify the host name as they would against a real cluster.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

VALID_DAYS = "3650"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # PEM: what clients trust (WIRESTREAM_SSL_CAFILE)
    keystore: Path  # PKCS12: the broker's key and certificate chain
    password: str  # of the keystore and its key

    @classmethod
    def ensure(cls, directory: Path) -> TlsFiles:
        """The files in ``directory``, made there first if missing (a CA and a broker certificate it signed)."""
        files = cls(directory / "ca.pem", directory / "broker.p12", "")
        secret = directory / "password"
        if files.ca.exists() and files.keystore.exists() and secret.exists():
            return cls(files.ca, files.keystore, secret.read_text().strip())
        directory.mkdir(parents=True, exist_ok=True)
        for stale in (files.ca, files.keystore, directory / "ca.p12"):
            stale.unlink(missing_ok=True)
        password = secrets.token_hex(16)
        _make(directory, password)
        secret.write_text(password)
        secret.chmod(0o600)
        return cls(files.ca, files.keystore, password)


def _keytool(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["keytool", *args], input=stdin, capture_output=True, check=True).stdout


def _make(directory: Path, password: str) -> None:
    ca_store, store = str(directory / "ca.p12"), str(directory / "broker.p12")
    common = ("-storetype", "PKCS12", "-storepass", password, "-keyalg", "RSA", "-keysize", "2048",
              "-validity", VALID_DAYS)
    _keytool("-genkeypair", "-keystore", ca_store, "-alias", "ca", "-dname", "CN=wirestream local CA",
             "-ext", "bc:c", *common)
    _keytool("-exportcert", "-rfc", "-keystore", ca_store, "-storepass", password, "-alias", "ca",
             "-file", str(directory / "ca.pem"))
    _keytool("-genkeypair", "-keystore", store, "-alias", "broker", "-dname", "CN=127.0.0.1", *common)
    request = _keytool("-certreq", "-keystore", store, "-storepass", password, "-alias", "broker")
    signed = _keytool("-gencert", "-keystore", ca_store, "-storepass", password, "-alias", "ca", "-rfc",
                      "-validity", VALID_DAYS, "-ext", "SAN=IP:127.0.0.1,DNS:localhost", stdin=request)
    (directory / "broker.pem").write_bytes(signed)
    _keytool("-importcert", "-noprompt", "-keystore", store, "-storepass", password, "-alias", "ca",
             "-file", str(directory / "ca.pem"))
    _keytool("-importcert", "-keystore", store, "-storepass", password, "-alias", "broker",
             "-file", str(directory / "broker.pem"))
