"""A local certificate authority and broker certificate, made with the JDK's ``keytool``.

The local broker's TLS listener (``WIRESTREAM_BROKER_SSL_PORT``) needs a keystore, and its clients
need the certificate that signed it (``WIRESTREAM_SSL_CAFILE``). ``keytool`` ships with the Java
the broker already needs. The broker's certificate names 127.0.0.1 and localhost, so clients
verify the host name as they would against a real cluster. The listener also checks a client
certificate when one is offered (mutual TLS): :meth:`TlsFiles.client` makes one, which needs
``openssl`` too, since Python reads keys only as PEM and ``keytool`` cannot write them so.
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
        ca, keystore, secret = directory / "ca.pem", directory / "broker.p12", directory / "password"
        if not (ca.exists() and keystore.exists() and secret.exists()):
            directory.mkdir(parents=True, exist_ok=True)
            for stale in (ca, keystore, directory / "ca.p12"):
                stale.unlink(missing_ok=True)
            _make(directory, password := secrets.token_hex(16))
            secret.write_text(password)
            secret.chmod(0o600)
        return cls(ca, keystore, secret.read_text().strip())

    def client(self, name: str, *, signed: bool = True) -> Path:
        """A client's key and certificate in one PEM file (``WIRESTREAM_SSL_CERTFILE`` and ``_KEYFILE``).

        Signed by the local CA, which the broker trusts; or, with ``signed`` false, by itself, which
        the broker must refuse.
        """
        directory = self.ca.parent
        pem = directory / f"client-{name}.pem"
        if pem.exists():
            return pem
        store = directory / f"client-{name}.p12"
        store.unlink(missing_ok=True)
        _keytool("-genkeypair", "-keystore", str(store), "-alias", "client", "-dname", f"CN={name}",
                 *_options(self.password))
        if signed:
            _sign(directory, str(store), self.password, "client")
        export = ["openssl", "pkcs12", "-in", str(store), "-nodes", "-passin", f"pass:{self.password}"]
        exported = subprocess.run(export, capture_output=True, check=True).stdout
        pem.write_bytes(exported)
        pem.chmod(0o600)
        return pem


def _options(password: str) -> tuple[str, ...]:
    return ("-storetype", "PKCS12", "-storepass", password, "-keyalg", "RSA", "-keysize", "2048",
            "-validity", VALID_DAYS)


def _sign(directory: Path, store: str, password: str, alias: str, *extensions: str) -> None:
    """Replace ``alias``'s self-signed certificate in ``store`` by one the local CA signed."""
    request = _keytool("-certreq", "-keystore", store, "-storepass", password, "-alias", alias)
    signed = _keytool("-gencert", "-keystore", str(directory / "ca.p12"), "-storepass", password, "-alias", "ca",
                      "-rfc", "-validity", VALID_DAYS, *extensions, stdin=request)
    (directory / f"{alias}.pem").write_bytes(signed)
    _keytool("-importcert", "-noprompt", "-keystore", store, "-storepass", password, "-alias", "ca",
             "-file", str(directory / "ca.pem"))
    _keytool("-importcert", "-keystore", store, "-storepass", password, "-alias", alias,
             "-file", str(directory / f"{alias}.pem"))


def _keytool(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["keytool", *args], input=stdin, capture_output=True, check=True).stdout


def _make(directory: Path, password: str) -> None:
    ca_store, store = str(directory / "ca.p12"), str(directory / "broker.p12")
    _keytool("-genkeypair", "-keystore", ca_store, "-alias", "ca", "-dname", "CN=wirestream local CA",
             "-ext", "bc:c", *_options(password))
    _keytool("-exportcert", "-rfc", "-keystore", ca_store, "-storepass", password, "-alias", "ca",
             "-file", str(directory / "ca.pem"))
    _keytool("-genkeypair", "-keystore", store, "-alias", "broker", "-dname", "CN=127.0.0.1", *_options(password))
    _sign(directory, store, password, "broker", "-ext", "SAN=IP:127.0.0.1,DNS:localhost")
