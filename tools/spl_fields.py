"""Which event fields a search reads: the side of the field contract that SPL holds.

``fields_read(spl)`` follows a search's pipeline up to its first transforming command
(stats, timechart, chart, transpose, ...): up to there every field it names comes from
the events, unless an earlier command of the same search defined it (eval, rename, rex,
foreach). After it, the search only reads what it computed itself. The names returned
may hold ``*`` wildcards (``totals.by_type.*``). It is a reading of the commands this
add-on's searches use, not a full SPL parser; unknown commands are read conservatively
(their ``name=value`` options are not fields).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Iterable, List, Set, Tuple

TRANSFORMING = frozenset({"stats", "timechart", "chart", "transpose", "untable", "top", "rare",
                          "xyseries", "tstats", "geostats", "sistats", "sitimechart"})  # fmt: skip
ACCUMULATING = frozenset({"eventstats", "streamstats"})
KEYWORDS = frozenset({"and", "or", "not", "xor", "like", "in", "as", "by", "over", "true",
                      "false", "null", "where", "output", "outputnew"})  # fmt: skip
_COMMENT = re.compile(r"```.*?```", re.DOTALL)
_MACRO = re.compile(r"`[^`]*`")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"'([^']+)'|([A-Za-z_][\w.*:{}]*)")
_OPTION = re.compile(r"^[A-Za-z_]+=")


def _mask_strings(spl: str) -> str:
    return _STRING.sub('"S"', _MACRO.sub(" ", _COMMENT.sub(" ", spl)))


def split_top_level(text: str, separator: str) -> List[str]:
    """Split at ``separator`` outside brackets, parentheses and single quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for character in text:
        if character == "'":
            quoted = not quoted
        elif not quoted and character in "([":
            depth += 1
        elif not quoted and character in ")]":
            depth -= 1
        if character == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    return parts


def _names(expression: str) -> List[str]:
    """Field names in an eval/where expression (function names and keywords excluded)."""
    names = []
    for match in _NAME.finditer(expression):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            names.append(quoted)
            continue
        following = expression[match.end() :].lstrip()
        if following.startswith("(") or bare.lower() in KEYWORDS or bare == "S":
            continue
        if expression[max(0, match.start() - 1) : match.start()] == "$":
            continue  # a dashboard token such as $account$
        names.append(bare)
    return names


def _templated(text: str, pattern: str) -> str:
    return text.replace("<<FIELD>>", pattern).replace("<<MATCHSTR>>", "*")


class _Reader:
    def __init__(self) -> None:
        self.read: Set[str] = set()
        self.defined: Set[str] = set()

    def use(self, names: Iterable[str]) -> None:
        self.read.update(name for name in names if name not in self.defined)

    def define(self, names: Iterable[str]) -> None:
        self.defined.update(names)

    def assignments(self, body: str) -> None:
        for assignment in split_top_level(body, ","):
            target, sep, expression = assignment.partition("=")
            if not sep or expression.startswith("="):
                self.use(_names(assignment))
                continue
            self.use(_names(expression))
            self.define(_names(target))

    def search_terms(self, body: str) -> None:
        in_list = re.compile(r"('[^']+'|[A-Za-z_][\w.*:{}-]*)\s+IN\s*\([^)]*\)", re.IGNORECASE)
        self.use(match.group(1).strip("'") for match in in_list.finditer(body))
        body = in_list.sub(" ", body)
        for match in re.finditer(r"('[^']+'|[A-Za-z_][\w.*:{}-]*)\s*(!=|<=|>=|=|<|>)", body):
            self.use([match.group(1).strip("'")])

    def aggregations(self, body: str) -> None:
        main, *rest = re.split(r"\bby\b", body, maxsplit=1, flags=re.IGNORECASE)
        by = rest[0] if rest else ""
        for function_call in re.finditer(r"\w+\(((?:[^()]|\([^()]*\))*)\)", main):
            argument = function_call.group(1)
            if argument.lower().startswith("eval("):
                self.use(_names(argument[5:]))
            else:
                self.use(_names(argument))
        for alias in re.finditer(r"\bas\s+('[^']+'|\"S\"|[\w.*:-]+)", main, flags=re.I):
            self.define([alias.group(1).strip("'")])
        self.use(name for name in _names(by) if not _OPTION.match(name))

    def segment(self, command: str, body: str) -> bool:
        """Read one pipeline segment; ``False`` once the search stops reading events."""
        body = " ".join(part for part in body.split() if not _OPTION.match(part)
                        or command in ("search", "where", "eval"))  # fmt: skip
        if command == "search":
            self.search_terms(body)
        elif command == "eval":
            self.assignments(body)
        elif command == "where":
            self.use(_names(body))
        elif command in ("fields", "table"):
            if not body.lstrip().startswith("-"):
                self.use(name for name in _names(body.replace(",", " ")))
        elif command == "rename":
            for source, target in re.findall(r"('[^']+'|[\w.*]+)\s+as\s+('[^']+'|\"S\"|[\w.*]+)",
                                             body, flags=re.I):  # fmt: skip
                self.use([source.strip("'")])
                self.define([target.strip("'")])
        elif command == "foreach":
            pattern, _, template = body.partition("[")
            fields = _names(pattern)
            self.use(fields)
            for inner in split_top_level(template.rstrip().rstrip("]"), "|"):
                inner_command, _, inner_body = inner.strip().partition(" ")
                self.segment(inner_command.lower(), _templated(inner_body, fields[0]))
        elif command in ("sort", "dedup", "bin", "bucket"):
            self.use(name for name in _names(body) if not name.isdigit())
        elif command in TRANSFORMING:
            self.aggregations(body)
            return False
        elif command in ACCUMULATING:
            self.aggregations(body)
        return True


def fields_read(spl: str) -> Set[str]:
    """Fields ``spl`` takes from the events it searches (see the module docstring)."""
    reader = _Reader()
    reader.define(re.findall(r"\(\?<(\w+)>", spl))  # rex's named groups
    for position, segment in enumerate(split_top_level(_mask_strings(spl), "|")):
        text = segment.strip()
        if not text:
            continue
        command, _, body = text.partition(" ")
        if position == 0 and not spl.lstrip().startswith("|"):
            command, body = "search", text
        if not reader.segment(command.lower(), body):
            break
    return reader.read


def unknown_fields(spl: str, known: Iterable[str]) -> List[Tuple[str, str]]:
    """``(field, reason)`` for each field ``spl`` reads that no known field matches."""
    known = list(known)
    problems = []
    for name in sorted(fields_read(spl)):
        if not any(fnmatchcase(field, name) or fnmatchcase(name, field) for field in known):
            problems.append((name, "no event field matches"))
    return problems
