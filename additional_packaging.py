"""Post-build clean-up of the add-on that `ucc-gen build` calls.

ucc-gen imports this module from the repository root after it has generated the add-on
and installed ``lib/``, and calls ``cleanup_output_files(output_directory, ta_name)``.
It makes ``lib/`` fit for Splunk Cloud vetting:

* deletes ``solnlib.observability``, the only code that imports the OpenTelemetry/gRPC
  packages that ``package/lib/exclude.txt`` removes, so nothing can import them;
* deletes compiled extension modules that ship a pure-Python twin next to them
  (``charset_normalizer/md.cpython-39-x86_64-linux-gnu.so`` beside ``md.py``); the
  package then runs its pure-Python code on every platform and Python version;
* deletes byte-code caches and console-script shims that pip writes under ``lib/``;
* fails the build if any compiled file is still there, so a new dependency that only
  exists as a binary cannot slip into the package unnoticed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Iterable, List

COMPILED_SUFFIXES = (".so", ".pyd", ".dll", ".dylib", ".exe")

# solnlib modules whose imports (opentelemetry, grpc) exclude.txt removes from lib/.
UNIMPORTABLE_MODULES = (
    "solnlib/observability.py",
    "solnlib/_observability_flush.py",
)


class PackagingError(RuntimeError):
    """The built add-on cannot be shipped as it is."""


def is_compiled(path: Path) -> bool:
    """True for native code: shared objects (also versioned, ``x.so.1``), DLLs, executables."""
    name = path.name.lower()
    return name.endswith(COMPILED_SUFFIXES) or ".so." in name


def pure_python_twin(extension: Path) -> Path:
    """``md.cpython-39-x86_64-linux-gnu.so`` -> ``md.py`` in the same folder."""
    module = extension.name.split(".", 1)[0]
    return extension.with_name(module + ".py")


def compiled_files(root: Path) -> List[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and is_compiled(p))


def remove_unimportable_modules(lib: Path) -> List[Path]:
    removed = []
    for relative in UNIMPORTABLE_MODULES:
        module = lib / relative
        if module.exists():
            module.unlink()
            removed.append(module)
    return removed


def remove_compiled_twins(lib: Path) -> List[Path]:
    """Delete each extension module whose pure-Python source sits beside it."""
    removed = []
    for extension in compiled_files(lib):
        if pure_python_twin(extension).is_file():
            extension.unlink()
            removed.append(extension)
    return removed


def remove_build_leftovers(app_root: Path) -> List[Path]:
    """Byte-code caches, pip's console-script shims in ``lib/bin`` and the build inputs
    ``lib/requirements.txt`` / ``lib/exclude.txt`` that ucc-gen copies from ``package/``."""
    leftovers: List[Path] = [p for p in app_root.rglob("__pycache__") if p.is_dir()]
    leftovers += [p for p in app_root.rglob("*.py[co]") if p.is_file()]
    lib = app_root / "lib"
    leftovers += [
        p for p in (lib / "bin", lib / "requirements.txt", lib / "exclude.txt") if p.exists()
    ]
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return leftovers


def check_no_compiled_files(app_root: Path) -> None:
    remaining = compiled_files(app_root)
    if remaining:
        listing = "\n  ".join(str(p.relative_to(app_root)) for p in remaining)
        raise PackagingError(
            "compiled files left in the add-on (no pure-Python fallback beside them); "
            "pin a pure-Python release or add the package to package/lib/exclude.txt:\n  " + listing
        )


def clean_app(app_root: Path) -> List[Path]:
    """Run every clean-up step on a built add-on folder and return what it removed."""
    lib = app_root / "lib"
    removed: List[Path] = []
    removed += remove_unimportable_modules(lib)
    removed += remove_compiled_twins(lib)
    removed += remove_build_leftovers(app_root)
    check_no_compiled_files(app_root)
    return removed


def _report(app_root: Path, removed: Iterable[Path]) -> None:
    for path in removed:
        print(f"additional_packaging: removed {path.relative_to(app_root)}", file=sys.stderr)


def cleanup_output_files(output_directory: str, ta_name: str) -> None:
    """Hook called by ``ucc-gen build`` (see module docstring)."""
    app_root = Path(output_directory) / ta_name
    _report(app_root, clean_app(app_root))
