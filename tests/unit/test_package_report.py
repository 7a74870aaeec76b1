"""The package report fails a tarball that is too big or holds native code."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tools.package_report import lib_bytes, read_members, report, top_level_area


def make_tarball(path: Path, files: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"TA-test/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_small_pure_package_passes_and_is_described(tmp_path: Path, capsys) -> None:
    tarball = make_tarball(
        tmp_path / "ok.tar.gz", {"default/app.conf": b"[id]\n", "lib/requests/api.py": b"x"}
    )
    assert report(tarball, max_bytes=1_000_000) == 0
    printed = capsys.readouterr().out
    assert "files: 2" in printed
    assert "package size:" in printed
    assert "lib/requests" in printed


def test_compiled_member_fails(tmp_path: Path, capsys) -> None:
    tarball = make_tarball(tmp_path / "so.tar.gz", {"lib/grpc/cygrpc.cpython-39.so": b"\x7fELF"})
    assert report(tarball, max_bytes=1_000_000) == 1
    assert "lib/grpc/cygrpc.cpython-39.so" in capsys.readouterr().err


def test_over_budget_fails(tmp_path: Path, capsys) -> None:
    tarball = make_tarball(
        tmp_path / "big.tar.gz", {"appserver/static/a.js": bytes(range(256)) * 64}
    )
    assert report(tarball, max_bytes=100) == 1
    assert "over the 100-byte budget" in capsys.readouterr().err


def test_lib_over_its_unpacked_budget_fails(tmp_path: Path, capsys) -> None:
    files = {"lib/requests/api.py": b"x" * 600, "appserver/static/a.js": b"y" * 5000}
    tarball = make_tarball(tmp_path / "lib.tar.gz", files)
    assert report(tarball, max_bytes=1_000_000, max_lib_bytes=600) == 0
    assert "lib/ unpacked: 600 bytes" in capsys.readouterr().out
    assert report(tarball, max_bytes=1_000_000, max_lib_bytes=599) == 1
    assert "lib/ is 600 bytes unpacked, over the 599-byte budget" in capsys.readouterr().err
    assert lib_bytes(read_members(tarball)) == 600


def test_top_level_area() -> None:
    assert top_level_area("TA-x/lib/requests/api.py") == "lib/requests"
    assert top_level_area("TA-x/appserver/static/js/a.js") == "appserver/static"
    assert top_level_area("TA-x/default/app.conf") == "default"
    assert top_level_area("TA-x/app.manifest") == "app.manifest"
