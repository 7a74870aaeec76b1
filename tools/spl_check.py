"""Check the structure of every SPL search an add-on ships, offline.

Usage: python tools/spl_check.py APP_DIR

SPL cannot be parsed without a Splunk server; this catches the structural mistakes
a server would reject: unterminated quotes, backticks and ```comments```, unbalanced
``()`` / ``[]``, empty or trailing pipe segments, unknown commands, a leading ``|``
without a generating command, and macros that ``macros.conf`` does not define with
that number of arguments. Subsearches ``[...]`` follow the same rules.

Searches come from ``default/savedsearches.conf`` (``search``), ``default/macros.conf``
(``definition`` of macros without ``iseval``), ``default/eventtypes.conf`` (``search``)
and the data sources of the dashboards in ``default/data/ui/views/*.xml`` (Dashboard
Studio ``ds.search`` / ``ds.chain``, Simple XML ``<search><query>``). Prints one line
``where: message`` per problem and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Tuple

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:  # run as a script: python tools/spl_check.py APP_DIR
    sys.path.insert(0, str(_REPO))

from tools.studio_view import definition_of, parse_view  # noqa: E402

# SPL command names: the COMMANDS tuple of pygments-lexer-spl 0.1.0
# (pygments_lexer_spl/_lexer.py, MIT, https://github.com/seanthegeek/pygments-lexer-spl) ...
_PYGMENTS_LEXER_SPL_COMMANDS = (
    "abstract accum addcoltotals addinfo addtotals analyzefields anomalies anomalousvalue "
    "anomalydetection append appendcols appendpipe arules associate autoregress awssnsalert "
    "bin bucket bucketdir chart cluster cofilter collect concurrency contingency convert "
    "correlate ctable datamodel datamodelsimple dbinspect dbxquery dedup delete delta diff "
    "entitymerge erex eval eventcount eventstats extract fieldformat fields fieldsummary "
    "filldown fillnull findtypes folderize foreach format from fromjson gauge gentimes geom "
    "geomfilter geostats head highlight history iconify ingestpreview inputcsv "
    "inputintelligence inputlookup iplocation join kmeans kv kvform loadjob localize localop "
    "lookup makecontinuous makemv makeresults map mcollect metadata metasearch meventcollect "
    "mpreview msearch mstats multikv multisearch mvcombine mvexpand nomv outlier outputcsv "
    "outputlookup outputtext overlap pivot predict rangemap rare redistribute regex reltime "
    "rename replace require rest return reverse rex rtorder run savedsearch script scrub "
    "search searchtxn selfjoin sendalert sendemail set setfields sichart sirare sistats "
    "sitimechart sitop snowevent snoweventstream snowincident snowincidentstream sort spath "
    "stats strcat streamstats table tags tail timechart timewrap tojson top transaction "
    "transpose trendline tscollect tstats typeahead typelearner typer union uniq untable "
    "walklex where x11 xmlkv xmlunescape xpath xyseries"
)
# ... plus built-in commands it lacks (Splunk Search Reference).
_MORE_COMMANDS = "dump mcatalog noop outputtelemetry"

KNOWN_COMMANDS = frozenset((_PYGMENTS_LEXER_SPL_COMMANDS + " " + _MORE_COMMANDS).split())

# Commands that can follow a leading "|" (they produce results without a search before them).
_GENERATING = (
    "datamodel dbinspect dbxquery eventcount from gentimes history inputcsv "
    "inputintelligence inputlookup loadjob makeresults mcatalog metadata metasearch "
    "mpreview msearch mstats multisearch pivot rest savedsearch search searchtxn set "
    "tstats typeahead union walklex"
)
GENERATING_COMMANDS = frozenset(_GENERATING.split())

NO_MACROS: Mapping[str, int] = MappingProxyType({})

# How a search is checked: "search" (a leading "|" needs a generating command),
# "continuation" (ds.chain / post-process: every segment is a command), "fragment" (a macro
# definition: a leading "|" may precede any command), "eventtype" (no pipe, no subsearch).
CONTEXTS = ("search", "continuation", "fragment", "eventtype")
CHAIN_SUFFIX = " (ds.chain)"
POST_PROCESS_SUFFIX = " (post-process)"

_TOKEN_WITH_FILTER = re.compile(r"\$[\w.:-]+\|[a-z]*\$")  # dashboard token $name|s$
_COMMAND_WORD = re.compile(r"[A-Za-z_]\w*")
_MACRO_CALL = re.compile(r"\s*([\w.:-]+)\s*(?:\((.*)\))?\s*", re.DOTALL)
_MACRO_STANZA = re.compile(r"(.+?)\((\d+)\)")
_TRUE = ("1", "t", "true", "y", "yes")


@dataclass(frozen=True)
class SplProblem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class _Segment:
    text: str  # subsearches replaced by "[]", comments by a space
    start: int  # offset of the segment in the search


def _snippet(text: str, start: int, width: int = 40) -> str:
    piece = " ".join(text[start : start + width].split())
    return piece + ("..." if len(text) - start > width else "")


class _Scanner:
    """One pass over a search: lexical checks while splitting pipelines."""

    def __init__(self, spl: str, macros: Mapping[str, int]) -> None:
        self.spl = spl
        self.macros = macros
        self.messages: List[str] = []
        self.fatal = False  # an unterminated quote/backtick/comment swallowed the rest
        self.subsearches = 0

    def problem(self, message: str) -> None:
        self.messages.append(message)

    def pipeline(self, start: int, sub_start: Optional[int]) -> Tuple[List[_Segment], int]:
        """Split from ``start`` up to the ``]`` closing a subsearch (or the end)."""
        spl, n = self.spl, len(self.spl)
        segments: List[_Segment] = []
        buf: List[str] = []
        seg_start = start
        parens: List[int] = []
        i = start

        def close_segment() -> None:
            if parens and not self.fatal:
                self.problem(
                    f"unbalanced '(': opened at character {parens[0]} "
                    f"({_snippet(spl, parens[0])!r}) and never closed"
                )
            parens.clear()
            segments.append(_Segment("".join(buf), seg_start))
            buf.clear()

        while i < n and not self.fatal:
            char = spl[i]
            if char == "\\":
                buf.append(spl[i : i + 2])
                i += 2
            elif char in "\"'":
                i = self.quoted(i, buf)
            elif spl.startswith("```", i):
                end = spl.find("```", i + 3)
                if end < 0:
                    self.fail(f"unterminated ``` comment starting at character {i}", i)
                    break
                buf.append(" ")
                i = end + 3
            elif char == "`":
                end = spl.find("`", i + 1)
                if end < 0:
                    self.fail(f"unterminated backtick (macro call) at character {i}", i)
                    break
                self.macro_call(spl[i + 1 : end])
                buf.append(spl[i : end + 1])
                i = end + 1
            elif char == "$" and (token := _TOKEN_WITH_FILTER.match(spl, i)):
                buf.append(token.group())
                i = token.end()
            elif char == "[":
                self.subsearches += 1
                sub_segments, end = self.pipeline(i + 1, i)
                self.check_pipeline(sub_segments, "subsearch", f" (in the subsearch at {i})")
                i = end
                buf.append("[]")
            elif char == "]":
                if sub_start is not None:
                    close_segment()
                    return segments, i + 1
                self.problem(f"unbalanced ']' at character {i}: no '[' opens it")
                i += 1
            elif char == "|":
                close_segment()
                i += 1
                seg_start = i
            else:
                if char == "(":
                    parens.append(i)
                elif char == ")":
                    if parens:
                        parens.pop()
                    else:
                        self.problem(
                            f"unbalanced ')' at character {i} ({_snippet(spl, max(0, i - 20))!r})"
                        )
                buf.append(char)
                i += 1
        close_segment()
        if sub_start is not None and not self.fatal:
            self.problem(
                f"unbalanced '[': the subsearch opened at character {sub_start} "
                f"({_snippet(spl, sub_start)!r}) is never closed by ']'"
            )
        return segments, n

    def fail(self, message: str, at: int) -> None:
        self.problem(f"{message} ({_snippet(self.spl, at)!r})")
        self.fatal = True

    def quoted(self, start: int, buf: List[str]) -> int:
        """Skip a quoted string (``\\`` escapes); return the offset after it."""
        spl, quote = self.spl, self.spl[start]
        i = start + 1
        while i < len(spl):
            if spl[i] == "\\":
                i += 2
            elif spl[i] == quote:
                buf.append(spl[start : i + 1])
                return i + 1
            else:
                i += 1
        kind = "double quote" if quote == '"' else "single quote (field name)"
        self.fail(f"unterminated {kind} starting at character {start}", start)
        return len(spl)

    def macro_call(self, body: str) -> None:
        match = _MACRO_CALL.fullmatch(body)
        if not match:
            self.problem(f"malformed macro call `{body}`")
            return
        name, args = match.group(1), match.group(2)
        arity = _count_arguments(args) if args is not None else 0
        if self.macros.get(name) == arity or self.macros.get(f"{name}({arity})") == arity:
            return
        known = sorted(
            value for key, value in self.macros.items() if key == name or key.startswith(f"{name}(")
        )
        if not known:
            self.problem(f"unknown macro `{name}`: macros.conf defines no [{name}] stanza")
        else:
            expected = " or ".join(str(k) for k in known)
            self.problem(
                f"macro `{name}` called with {arity} argument(s), macros.conf defines it "
                f"with {expected}"
            )

    def check_pipeline(self, segments: List[_Segment], context: str, suffix: str = "") -> None:
        if self.fatal:
            return
        texts = [segment.text.strip() for segment in segments]
        if len(texts) == 1 and not texts[0]:
            if context == "subsearch":
                self.problem(f"empty subsearch '[]'{suffix}")
            return
        if context == "eventtype" and len(texts) > 1:
            self.problem("an event type's search cannot contain a pipe '|'")
            return
        leading_pipe = len(texts) > 1 and not texts[0]
        for index, text in enumerate(texts):
            if not text:
                if index == 0 and leading_pipe:
                    continue
                if index == len(texts) - 1:
                    self.problem(f"trailing '|' with no command after it{suffix}")
                else:
                    self.problem(
                        f"empty pipeline segment: '|' followed by '|' at character "
                        f"{segments[index].start}{suffix}"
                    )
                continue
            if index == 0 and context != "continuation":
                continue  # an implicit "search"
            generating = index == 1 and leading_pipe and context in ("search", "subsearch")
            raw = segments[index].text
            start = segments[index].start + len(raw) - len(raw.lstrip())
            self.check_command(text, start, generating, suffix)

    def check_command(self, text: str, start: int, generating: bool, suffix: str) -> None:
        if text.startswith("`"):
            return  # a macro: it expands to the command
        match = _COMMAND_WORD.match(text)
        if not match:
            self.problem(
                f"expected a command, found {_snippet(text, 0)!r} at character {start}{suffix}"
            )
            return
        name = match.group().lower()
        if name not in KNOWN_COMMANDS:
            self.problem(f"unknown command '{match.group()}' at character {start}{suffix}")
        elif generating and name not in GENERATING_COMMANDS:
            self.problem(
                f"a search starting with '|' needs a generating command (makeresults, tstats, "
                f"rest, inputlookup, ...), not '{name}'{suffix}"
            )


def _count_arguments(args: str) -> int:
    """Number of comma-separated macro arguments, commas in quotes/brackets excluded."""
    if not args.strip():
        return 0
    count, depth, quote, i = 1, 0, "", 0
    while i < len(args):
        char = args[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            count += 1
        i += 1
    return count


def context_of(where: str) -> str:
    """The context a search from :func:`searches_in_conf_dir` / dashboards is checked in."""
    if where.endswith((CHAIN_SUFFIX, POST_PROCESS_SUFFIX)):
        return "continuation"
    if where.startswith("macros.conf "):
        return "fragment"
    if where.startswith("eventtypes.conf "):
        return "eventtype"
    return "search"


def check_spl(
    spl: str,
    *,
    macros: Mapping[str, int] = NO_MACROS,
    where: str = "",
    context: Optional[str] = None,
) -> List[SplProblem]:
    """Structural problems of one search.

    ``macros`` maps macro names to their number of arguments (see :func:`macro_arities`).
    ``context`` is one of :data:`CONTEXTS`; by default it follows from ``where`` (the keys
    of :func:`searches_in_conf_dir` and :func:`searches_in_dashboards`), else "search".
    """
    context = context or context_of(where)
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {CONTEXTS}, not {context!r}")
    scanner = _Scanner(spl, macros)
    if not spl.strip():
        scanner.problem("empty search")
    else:
        segments, _ = scanner.pipeline(0, None)
        scanner.check_pipeline(segments, context)
        if context == "eventtype" and scanner.subsearches:
            scanner.problem("an event type's search cannot contain a subsearch '[...]'")
    return [SplProblem(where, message) for message in scanner.messages]


def read_conf(path: Path) -> Dict[str, Dict[str, str]]:
    """Stanzas of a .conf file; backslash-continued lines joined with newlines."""
    stanzas: Dict[str, Dict[str, str]] = {"default": {}}
    current = stanzas["default"]
    key: Optional[str] = None  # set while a value continues on the next line
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if key is not None:
            value = current[key] + "\n" + line
        else:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                current = stanzas.setdefault(stripped[1:-1].strip(), {})
                continue
            if "=" not in stripped:
                continue  # conf_check.py (ksconf) reports it
            key, _, value = stripped.partition("=")
            key, value = key.strip(), value.strip()
        if value.endswith("\\"):
            current[key] = value[:-1]
        else:
            current[key] = value
            key = None
    return stanzas


def searches_in_conf_dir(default_dir: Path) -> Dict[str, str]:
    """Every search in savedsearches.conf, macros.conf and eventtypes.conf of ``default_dir``.

    Keys look like ``savedsearches.conf [Name]``; macros with ``iseval`` are left out.
    """
    searches: Dict[str, str] = {}
    for conf, setting in (
        ("savedsearches.conf", "search"),
        ("macros.conf", "definition"),
        ("eventtypes.conf", "search"),
    ):
        path = default_dir / conf
        if not path.is_file():
            continue
        for stanza, settings in read_conf(path).items():
            if conf == "macros.conf" and settings.get("iseval", "0").lower() in _TRUE:
                continue
            if settings.get(setting, "").strip():
                searches[f"{conf} [{stanza}]"] = settings[setting]
    return searches


def macro_arities(default_dir: Path) -> Dict[str, int]:
    """``macros.conf`` stanzas ``name`` / ``name(n)`` -> ``{name: n}``.

    A name defined with several arities keeps the first under ``name`` and the others
    under ``name(n)``; :func:`check_spl` accepts either.
    """
    arities: Dict[str, int] = {}
    path = default_dir / "macros.conf"
    if not path.is_file():
        return arities
    for stanza in read_conf(path):
        if stanza == "default":
            continue
        match = _MACRO_STANZA.fullmatch(stanza)
        name, arity = (match.group(1), int(match.group(2))) if match else (stanza, 0)
        if name in arities and arities[name] != arity:
            arities[f"{name}({arity})"] = arity
        else:
            arities[name] = arity
    return arities


def searches_in_view(path: Path) -> Dict[str, str]:
    """Searches of one dashboard; raises ValueError (a ``ViewError``) if it cannot be read."""
    root = parse_view(path.read_bytes())
    searches: Dict[str, str] = {}
    if (
        root.tag == "dashboard"
        and root.get("version") == "2"
        and root.find("definition") is not None
    ):
        studio = definition_of(root)
        for source_id, source in (studio.get("dataSources") or {}).items():
            query = (source.get("options") or {}).get("query")
            kind = source.get("type")
            if not isinstance(query, str) or kind not in ("ds.search", "ds.chain"):
                continue
            suffix = CHAIN_SUFFIX if kind == "ds.chain" else ""
            searches[f"{path.name} dataSources.{source_id}{suffix}"] = query
        return searches
    for number, search in enumerate(root.iter("search"), start=1):
        query = search.findtext("query")
        if query and query.strip():
            label = search.get("id") or f"#{number}"
            suffix = POST_PROCESS_SUFFIX if search.get("base") else ""
            searches[f"{path.name} <search {label}>{suffix}"] = query
    return searches


def searches_in_dashboards(views_dir: Path) -> Dict[str, str]:
    """Every query of the Studio ``ds.search`` / ``ds.chain`` data sources (and Simple XML
    ``<search><query>``) in ``views_dir``. A ``ds.chain`` key ends with ``(ds.chain)``: its
    query continues its base search and is checked as a continuation."""
    searches: Dict[str, str] = {}
    for path in sorted(views_dir.glob("*.xml")):
        try:
            searches.update(searches_in_view(path))
        except ValueError as error:
            raise ValueError(f"{path.name}: {error}") from error
    return searches


def check_app(app_dir: Path) -> Tuple[int, List[SplProblem]]:
    """(number of searches checked, problems) for a built add-on directory."""
    default_dir = app_dir / "default"
    macros = macro_arities(default_dir)
    problems: List[SplProblem] = []
    searches = searches_in_conf_dir(default_dir)
    views_dir = default_dir / "data" / "ui" / "views"
    for view in sorted(views_dir.glob("*.xml")):
        try:
            searches.update(searches_in_view(view))
        except ValueError as error:
            problems.append(SplProblem(view.name, str(error)))
    for where, spl in searches.items():
        problems.extend(check_spl(spl, macros=macros, where=where))
    return len(searches), problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app_dir", type=Path, help="the built add-on, e.g. output/TA-x")
    args = parser.parse_args(argv)
    if not (args.app_dir / "default").is_dir():
        print(f"FAIL: {args.app_dir}/default is not a directory", file=sys.stderr)
        return 1
    count, problems = check_app(args.app_dir)
    for problem in problems:
        print(problem)
    print(f"spl_check: {count} searches, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
