"""Print what an add-on package holds and fail if it cannot ship.

Usage: python tools/package_report.py dist/TA-socdefenders-X.Y.Z.tar.gz [--max-bytes N]
       [--max-lib-bytes N]

Prints the package size, the unpacked size of ``lib/``, its file count and the members
that weigh most once compressed; exits 1 if the package holds a compiled file, exceeds
``--max-bytes`` or its ``lib/`` exceeds ``--max-lib-bytes`` unpacked.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import zlib
from pathlib import Path
from typing import List, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from additional_packaging import is_compiled

# The budget (README, "Package size"): the .tar.gz, and lib/ unpacked; no compiled file.
DEFAULT_MAX_BYTES = 5_500_000
DEFAULT_MAX_LIB_BYTES = 3_500_000


class Member(NamedTuple):
    name: str
    size: int
    compressed: int


def file_count(package: Path) -> int:
    """How many files (not directories) the package holds."""
    with tarfile.open(package, "r:gz") as tar:
        return sum(info.isfile() for info in tar.getmembers())


def read_members(package: Path) -> List[Member]:
    members = []
    with tarfile.open(package, "r:gz") as tar:
        for info in tar.getmembers():
            if not info.isfile():
                continue
            handle = tar.extractfile(info)
            data = handle.read() if handle else b""
            members.append(Member(info.name, info.size, len(zlib.compress(data, 9))))
    return members


def lib_bytes(members: List[Member]) -> int:
    """Unpacked size of the add-on's ``lib/`` (the vendored libraries)."""
    return sum(m.size for m in members if m.name.split("/")[1:2] == ["lib"])


def package_lib_bytes(package: Path) -> int:
    return lib_bytes(read_members(package))


def compiled_members(members: List[Member]) -> List[str]:
    return [m.name for m in members if is_compiled(Path(m.name))]


def top_level_area(name: str) -> str:
    """``TA-x/lib/requests/api.py`` -> ``lib/requests``; ``TA-x/default/x.conf`` -> ``default``."""
    parts = name.split("/")[1:]
    depth = 2 if parts and parts[0] in ("lib", "appserver") else 1
    return "/".join(parts[:depth]) if len(parts) > depth else "/".join(parts)


def report(package: Path, max_bytes: int, max_lib_bytes: int = DEFAULT_MAX_LIB_BYTES) -> int:
    members = read_members(package)
    size = package.stat().st_size
    lib = lib_bytes(members)
    print(f"package: {package}")
    print(f"package size: {size:,} bytes ({size / 1_000_000:.2f} MB)")
    print(f"lib/ unpacked: {lib:,} bytes ({lib / 1_000_000:.2f} MB)")
    print(f"files: {len(members)}")
    areas: dict = {}
    for member in members:
        areas[top_level_area(member.name)] = areas.get(top_level_area(member.name), 0) + (
            member.compressed
        )
    print("largest parts, compressed:")
    for area, weight in sorted(areas.items(), key=lambda item: -item[1])[:8]:
        print(f"  {weight:>10,}  {area}")
    problems = []
    compiled = compiled_members(members)
    if compiled:
        problems.append("compiled files in the package: " + ", ".join(compiled))
    if size > max_bytes:
        problems.append(f"package is {size:,} bytes, over the {max_bytes:,}-byte budget")
    if lib > max_lib_bytes:
        problems.append(f"lib/ is {lib:,} bytes unpacked, over the {max_lib_bytes:,}-byte budget")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    parser.add_argument("--max-lib-bytes", type=int, default=DEFAULT_MAX_LIB_BYTES)
    args = parser.parse_args()
    return report(args.package, args.max_bytes, args.max_lib_bytes)


if __name__ == "__main__":
    sys.exit(main())
