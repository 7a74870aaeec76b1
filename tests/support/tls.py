"""Throw-away TLS material for the loopback emulators (tests and `make demo` only).

`make_server_certificate(directory)` writes a private CA and a server certificate for
``127.0.0.1`` / ``localhost`` signed by it, using the ``openssl`` command line tool, and
returns their paths. A client trusts the server only when given ``ca_file``; an
``untrusted`` certificate (self-signed, not from that CA) lets tests prove that TLS
verification is really on.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUBJECT_ALT_NAMES = "subjectAltName=IP:127.0.0.1,DNS:localhost"


@dataclass(frozen=True)
class ServerCertificate:
    ca_file: Path  # PEM of the CA a client must trust
    cert_file: Path  # server certificate (PEM)
    key_file: Path  # server private key (PEM)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True)


def make_server_certificate(directory: Path) -> ServerCertificate:
    """CA-signed certificate for 127.0.0.1; reuses files already made in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    made = ServerCertificate(
        directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )
    if all(path.is_file() for path in (made.ca_file, made.cert_file, made.key_file)):
        return made
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=TA-socdefenders test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr", cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        f"{SUBJECT_ALT_NAMES}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
        cwd=directory,
    )  # fmt: skip
    return made


def make_untrusted_certificate(directory: Path) -> ServerCertificate:
    """Self-signed certificate for 127.0.0.1 that no CA bundle of ours vouches for."""
    directory.mkdir(parents=True, exist_ok=True)
    made = ServerCertificate(directory / "self.pem", directory / "self.pem", directory / "self.key")
    if not made.cert_file.is_file():
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-keyout", "self.key", "-out", "self.pem",
            "-addext", SUBJECT_ALT_NAMES, cwd=directory,
        )  # fmt: skip
    return made
