"""The post-build hook that makes lib/ pure Python and Cloud-vettable."""

from __future__ import annotations

from pathlib import Path

import pytest

from additional_packaging import (
    PackagingError,
    clean_app,
    cleanup_output_files,
    is_compiled,
    pure_python_twin,
)


def make_app(root: Path, files: dict) -> Path:
    app = root / "TA-test"
    for relative, content in files.items():
        path = app / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return app


@pytest.mark.parametrize(
    ("name", "compiled"),
    [
        ("md.cpython-39-x86_64-linux-gnu.so", True),
        ("_message.abi3.so", True),
        ("libfoo.so.1", True),
        ("speedups.pyd", True),
        ("helper.DLL", True),
        ("libssl.dylib", True),
        ("cli.exe", True),
        ("md.py", False),
        ("solib.json", False),
        ("README.so-what.txt", False),
    ],
)
def test_is_compiled(name: str, compiled: bool) -> None:
    assert is_compiled(Path(name)) is compiled


def test_pure_python_twin_is_the_module_source() -> None:
    extension = Path("lib/charset_normalizer/md.cpython-39-x86_64-linux-gnu.so")
    assert pure_python_twin(extension) == Path("lib/charset_normalizer/md.py")


def test_clean_app_strips_what_cannot_ship_and_keeps_the_rest(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "lib/charset_normalizer/md.py": b"# pure",
            "lib/charset_normalizer/md.cpython-39-x86_64-linux-gnu.so": b"\x7fELF",
            "lib/solnlib/observability.py": b"import opentelemetry",
            "lib/solnlib/_observability_flush.py": b"import opentelemetry",
            "lib/solnlib/log.py": b"# kept",
            "lib/bin/normalizer": b"#!/usr/bin/python",
            "lib/requirements.txt": b"requests==2.32.5",
            "lib/exclude.txt": b"grpcio",
            "lib/requests/__pycache__/api.cpython-39.pyc": b"",
            "bin/socdefenders/account.py": b"# kept",
            "default/app.conf": b"[id]",
        },
    )
    clean_app(app)
    remaining = sorted(str(p.relative_to(app)) for p in app.rglob("*") if p.is_file())
    assert remaining == [
        "bin/socdefenders/account.py",
        "default/app.conf",
        "lib/charset_normalizer/md.py",
        "lib/solnlib/log.py",
    ]


def test_a_binary_without_pure_python_fallback_fails_the_build(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "lib/grpc/_cython/cygrpc.cpython-39-x86_64-linux-gnu.so": b"\x7fELF",
            "lib/grpc/__init__.py": b"",
        },
    )
    with pytest.raises(PackagingError, match=r"lib/grpc/_cython/cygrpc\.cpython-39"):
        clean_app(app)


def test_ucc_hook_cleans_the_named_add_on(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"lib/solnlib/observability.py": b"", "lib/solnlib/log.py": b""})
    cleanup_output_files(str(tmp_path), "TA-test")
    assert not (app / "lib/solnlib/observability.py").exists()
    assert (app / "lib/solnlib/log.py").exists()
