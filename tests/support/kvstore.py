"""The KV store data endpoints of the splunkd emulator: documents, query language, limits.

``tests/support/splunkd.py`` routes ``storage/collections/data/<collection>[/<key>]`` here.
What it answers, as splunkd does (Splunk 9.x, ``limits.conf [kvstore]`` defaults):

- ``GET <coll>?query=&limit=&skip=&sort=&fields=``: the KV query language (equality, where
  an array field matches any of its elements; ``$gt $gte $lt $lte $ne`` and ``$not`` on a
  field; ``$and $or`` on documents; anything else is refused 400), ``sort`` as
  ``f1,f2:-1``, ``fields`` as an inclusion list (``a,b`` or ``a:1,b:1``, ``_key`` kept
  unless ``_key:0``) or an exclusion list (``a:0``), never both. At most
  ``max_rows_per_query`` rows and ``max_size_per_result_mb`` of JSON come back: the rest
  is cut silently (page with ``skip``/``limit``). ``limit=0`` (or none) means no limit
  but that one.
- ``GET <coll>/<key>``: one document, 404 when absent.
- ``POST <coll>/batch_find``: a JSON list of ``{query, limit, skip, sort, fields}``
  objects, answered as a list of result lists; more than ``max_queries_per_batch`` queries
  are refused 400.
- ``POST <coll>/batch_save``: a JSON list of documents, each upserted by ``_key`` (one
  without gets a generated key), answered with the list of keys. More than
  ``max_documents_per_batch_save`` documents or a body over ``max_size_per_batch_save_mb``
  are refused 400 (splunkd's wording: "Request exceeds API limits - see limits.conf for
  details. (...)").
- ``POST <coll>``: insert one document (201); an existing ``_key`` is 409.
- ``POST <coll>/<key>``: replace (or create) that document.
- ``DELETE <coll>?query=<json>``: every match in one request; without a query, every
  document; ``DELETE <coll>/<key>``: one document, 404 when absent.

Keys arrive URL-decoded (the router decodes each path segment once), so a key with ``/``
or ``:`` travels as ``%2F`` / ``%3A``.

Speed: a collection is a dict by ``_key``; a query naming one ``_key`` (with or without
other conditions) or an ``$or`` of ``_key`` equalities (what ``batch_find`` by key sends)
never scans. A query that must
scan does so once: its sorted matches are cached until the collection changes, so paging
through 1,000,000 documents with ``skip`` costs one scan and one sort, not one per page.
A collection (``Records``) counts its own changes; tests may read and change it like a
dict, but a test that edits a stored document *in place* must store it again
(``records[key] = document``) for cached query results to see the change.
"""

from __future__ import annotations

import collections
import json
import uuid
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

# limits.conf [kvstore], Splunk 9.x defaults (the emulator's `kv_limits` starts from these)
KV_LIMITS: Dict[str, int] = {
    "max_documents_per_batch_save": 1000,
    "max_size_per_batch_save_mb": 50,
    "max_rows_per_query": 50000,
    "max_queries_per_batch": 1000,
    "max_size_per_result_mb": 50,
}
MB = 1024 * 1024
LIMITS_MESSAGE = "Request exceeds API limits - see limits.conf for details."
OWNER = "nobody"  # every document of an app collection shows _user = nobody

Document = Dict[str, Any]
Matcher = Callable[[Mapping[str, Any]], bool]
_MISSING = object()
_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
_QUERY_CACHE_SIZE = 4


class KvError(Exception):
    """A request splunkd refuses: ``status`` and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Records(dict):
    """One collection's documents by ``_key``; ``version`` counts every change made
    through the dict's own methods (what invalidates cached query results)."""

    version = 0

    def _changed(self) -> None:
        self.version += 1

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._changed()

    def __ior__(self, other: Any) -> Records:  # type: ignore[override,misc]
        self.update(other)
        return self

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> Any:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)


class Collections(dict):
    """Collection name -> ``Records``: a plain dict stored here becomes ``Records``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, name: Any, records: Any) -> None:
        super().__setitem__(name, records if isinstance(records, Records) else Records(records))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, records in dict(*args, **kwargs).items():
            self[name] = records

    def setdefault(self, name: Any, default: Any = None) -> Any:
        if name not in self:
            self[name] = {} if default is None else default
        return self[name]


# -- the query language -----------------------------------------------------------------


def _kind(value: Any) -> int:
    """Mongo's type brackets, in its sort order (values of different brackets never
    compare equal, greater or less)."""
    if value is None or value is _MISSING:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    return 9


def _equal(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and a == b


def _get(document: Mapping[str, Any], path: str) -> Any:
    if "." not in path:
        return document.get(path, _MISSING)
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _candidates(value: Any) -> Iterable[Any]:
    """What a condition is tested against: the value, and each element of an array."""
    if isinstance(value, list):
        return [value, *value]
    return (value,)


def _equality(path: str, expected: Any) -> Matcher:
    if expected is None:  # null matches a missing field too

        def match_null(document: Mapping[str, Any]) -> bool:
            value = _get(document, path)
            return value is _MISSING or any(v is None for v in _candidates(value))

        return match_null
    kind = _kind(expected)
    if "." not in path and kind in (2, 3):  # the common case, kept fast

        def match_scalar(document: Mapping[str, Any]) -> bool:
            value = document.get(path, _MISSING)
            if isinstance(value, list):
                return any(_kind(v) == kind and v == expected for v in value)
            return _kind(value) == kind and value == expected

        return match_scalar

    def match(document: Mapping[str, Any]) -> bool:
        value = _get(document, path)
        return value is not _MISSING and any(_equal(v, expected) for v in _candidates(value))

    return match


def _comparison(path: str, operator: str, bound: Any) -> Matcher:
    kind = _kind(bound)
    if kind not in (2, 3):
        raise KvError(400, f"Invalid query: {operator} needs a number or a string")
    test: Callable[[Any], bool] = {
        "$gt": lambda v: v > bound,
        "$gte": lambda v: v >= bound,
        "$lt": lambda v: v < bound,
        "$lte": lambda v: v <= bound,
    }[operator]

    def match(document: Mapping[str, Any]) -> bool:
        value = _get(document, path) if "." in path else document.get(path, _MISSING)
        if isinstance(value, list):
            return any(_kind(v) == kind and test(v) for v in value)
        return _kind(value) == kind and test(value)

    return match


def _field_condition(path: str, condition: Any) -> Matcher:
    is_operators = isinstance(condition, dict) and any(str(k).startswith("$") for k in condition)
    if not is_operators:
        return _equality(path, condition)
    matchers: List[Matcher] = []
    for operator, operand in condition.items():
        if operator in _COMPARISONS:
            matchers.append(_comparison(path, operator, operand))
        elif operator == "$ne":
            equal = _equality(path, operand)
            matchers.append(lambda d, equal=equal: not equal(d))
        elif operator == "$not":
            if not isinstance(operand, dict) or not operand:
                raise KvError(400, "Invalid query: $not needs an operator expression")
            inner = _field_condition(path, operand)
            matchers.append(lambda d, inner=inner: not inner(d))
        else:
            raise KvError(400, f"Invalid query: unsupported operator {operator}")
    if len(matchers) == 1:
        return matchers[0]
    return lambda d: all(m(d) for m in matchers)


def compile_query(query: Any) -> Matcher:
    """A predicate for one KV store query object; ``KvError`` (400) when it is invalid."""
    if not isinstance(query, dict):
        raise KvError(400, "Invalid query: a query must be a JSON object")
    matchers: List[Matcher] = []
    for key, condition in query.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise KvError(400, f"Invalid query: {key} needs a non-empty array")
            parts = [compile_query(part) for part in condition]
            if key == "$and":
                matchers.append(lambda d, parts=parts: all(p(d) for p in parts))
            else:
                matchers.append(lambda d, parts=parts: any(p(d) for p in parts))
        elif key.startswith("$"):
            raise KvError(400, f"Invalid query: unsupported operator {key}")
        else:
            matchers.append(_field_condition(key, condition))
    if not matchers:
        return lambda d: True
    if len(matchers) == 1:
        return matchers[0]
    return lambda d: all(m(d) for m in matchers)


def keys_only(query: Any) -> Optional[List[str]]:
    """The keys of a query that selects documents by ``_key`` only (``{"_key": k}`` or an
    ``$or`` of those), so it is answered by lookups; None for any other query."""
    if not isinstance(query, dict) or len(query) != 1:
        return None
    if isinstance(query.get("_key"), str):
        return [query["_key"]]
    parts = query.get("$or")
    if not isinstance(parts, list) or not parts:
        return None
    keys = []
    for part in parts:
        if not (isinstance(part, dict) and len(part) == 1 and isinstance(part.get("_key"), str)):
            return None
        keys.append(part["_key"])
    return keys


# -- sort and fields ----------------------------------------------------------------------


def parse_sort(text: Any) -> List[Tuple[str, int]]:
    """``"a,b:-1"`` -> ``[("a", 1), ("b", -1)]``."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise KvError(400, "Invalid sort: a comma-separated list of field[:1|:-1]")
    spec = []
    for item in text.split(","):
        name, _, direction = item.strip().partition(":")
        if not name or direction not in ("", "1", "-1"):
            raise KvError(400, f"Invalid sort: {item!r}")
        spec.append((name, -1 if direction == "-1" else 1))
    return spec


def _sort_value(value: Any, descending: bool) -> Tuple[int, Any]:
    if isinstance(value, list):
        if not value:
            return (0, 0)
        keys = [_sort_value(v, descending) for v in value]
        return max(keys) if descending else min(keys)
    kind = _kind(value)
    if kind == 1:
        return (1, 0)
    if kind in (2, 3, 8):
        return (kind, value)
    return (kind, json.dumps(value, sort_keys=True))


def sort_documents(documents: List[Document], spec: List[Tuple[str, int]]) -> List[Document]:
    if spec == [("_key", 1)]:
        return sorted(documents, key=lambda d: d["_key"])
    for name, direction in reversed(spec):  # stable sorts, last key first
        descending = direction < 0
        documents = sorted(
            documents,
            key=lambda d, name=name, descending=descending: _sort_value(  # type: ignore[misc]
                _get(d, name), descending
            ),
            reverse=descending,
        )
    return documents


class Projection:
    """The ``fields`` parameter: which fields of each document come back."""

    def __init__(self, text: Any) -> None:
        self.include: Optional[List[str]] = None
        self.exclude: List[str] = []
        self.keep_key = True
        if text is None or text == "":
            return
        if not isinstance(text, str):
            raise KvError(400, "Invalid fields: a comma-separated list of field[:0|:1]")
        included, excluded = [], []
        for item in text.split(","):
            name, _, flag = item.strip().partition(":")
            if not name or flag not in ("", "0", "1"):
                raise KvError(400, f"Invalid fields: {item!r}")
            (excluded if flag == "0" else included).append(name)
        if "_key" in excluded:
            self.keep_key = False
            excluded.remove("_key")
        if included and excluded:
            raise KvError(
                400, "Invalid fields: a fields list either includes or excludes (except _key:0)"
            )
        if included:
            self.include = included
        self.exclude = excluded

    def apply(self, document: Mapping[str, Any]) -> Document:
        if self.include is not None:
            shown = {name: document[name] for name in self.include if name in document}
            if self.keep_key and "_key" not in shown:
                shown["_key"] = document["_key"]
            return shown
        shown = {k: v for k, v in document.items() if k not in self.exclude}
        if "_user" not in self.exclude:
            shown["_user"] = OWNER
        if not self.keep_key:
            shown.pop("_key", None)
        return shown


def _whole_number(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise KvError(400, f"Invalid {name}: {value!r} is not a whole number") from None
    if number < 0:
        raise KvError(400, f"Invalid {name}: {number} is negative")
    return number


# -- the endpoints ------------------------------------------------------------------------


class KvStoreData:
    """The data endpoints over ``collections`` (name -> ``Records``) and ``limits``
    (``limits.conf [kvstore]``, read at each request so tests may change them)."""

    def __init__(self, store: Callable[[], Collections], limits: Mapping[str, int]) -> None:
        self._collections = store
        self.limits = limits
        # (collection, id(records), version, query text, sort) -> (records, sorted keys);
        # holding the records keeps their id from being reused while the entry lives
        self._cache: collections.OrderedDict = collections.OrderedDict()

    def _limit(self, name: str) -> int:
        return int(self.limits.get(name, KV_LIMITS[name]))

    def _records(self, name: str) -> Records:
        return self._collections().setdefault(name, Records())

    # -- reads
    def _matching_keys(
        self, name: str, records: Records, query: Any, spec: List[Tuple[str, int]]
    ) -> List[str]:
        keys = keys_only(query)
        if keys is not None:  # by key: lookups, no scan
            found = [records[k] for k in dict.fromkeys(keys) if k in records]
            if spec:
                found = sort_documents(found, spec)
            return [d["_key"] for d in found]
        key = query.get("_key") if isinstance(query, dict) else None
        if isinstance(key, str):  # one document at most: look it up, then test the rest
            match = compile_query(query)
            document = records.get(key)
            return [key] if document is not None and match(document) else []
        text = json.dumps(query, sort_keys=True)
        cache_key = (name, id(records), records.version, text, tuple(spec))
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] is records:
            self._cache.move_to_end(cache_key)
            return cached[1]
        match = compile_query(query)
        found = [d for d in records.values() if match(d)]
        if spec:
            found = sort_documents(found, spec)
        result = [d["_key"] for d in found]
        self._cache[cache_key] = (records, result)
        while len(self._cache) > _QUERY_CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def find(
        self,
        name: str,
        query: Any = None,
        *,
        limit: Any = None,
        skip: Any = None,
        sort: Any = None,
        fields: Any = None,
    ) -> List[bytes]:
        """The JSON text of each row one query answers, cut at the row and size limits."""
        records = self._records(name)
        spec = parse_sort(sort)
        projection = Projection(fields)
        first = _whole_number(skip, "skip", 0)
        wanted = _whole_number(limit, "limit", 0)
        max_rows = self._limit("max_rows_per_query")
        count = max_rows if wanted == 0 else min(wanted, max_rows)
        keys = self._matching_keys(name, records, {} if query is None else query, spec)
        budget = self._limit("max_size_per_result_mb") * MB
        rows: List[bytes] = []
        for key in keys[first : first + count]:
            row = json.dumps(projection.apply(records[key]), ensure_ascii=False).encode()
            budget -= len(row) + 1
            if budget < 0:
                break  # max_size_per_result_mb: the rest is cut, as max_rows_per_query cuts
            rows.append(row)
        return rows

    def get(self, name: str, params: Mapping[str, str]) -> bytes:
        query = _json_text(params["query"]) if params.get("query") else None
        rows = self.find(
            name,
            query,
            limit=params.get("limit"),
            skip=params.get("skip"),
            sort=params.get("sort"),
            fields=params.get("fields"),
        )
        return b"[" + b",".join(rows) + b"]"

    def get_one(self, name: str, key: str) -> bytes:
        records = self._records(name)
        if key not in records:
            raise KvError(404, "Could not find object.")
        return json.dumps({**records[key], "_user": OWNER}, ensure_ascii=False).encode()

    def batch_find(self, name: str, body: bytes) -> bytes:
        queries = _json_body(body)
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            raise KvError(400, "batch_find needs a JSON array of query objects")
        most = self._limit("max_queries_per_batch")
        if len(queries) > most:
            raise KvError(
                400,
                f"{LIMITS_MESSAGE} (Too many queries for a single batch find, "
                f"max_queries_per_batch={most})",
            )
        answers = []
        for item in queries:
            unknown = set(item) - {"query", "limit", "skip", "sort", "fields"}
            if unknown:
                raise KvError(400, f"batch_find: unknown member {sorted(unknown)[0]!r}")
            rows = self.find(
                name,
                item.get("query"),
                limit=item.get("limit"),
                skip=item.get("skip"),
                sort=item.get("sort"),
                fields=item.get("fields"),
            )
            answers.append(b"[" + b",".join(rows) + b"]")
        return b"[" + b",".join(answers) + b"]"

    # -- writes
    def batch_save(self, name: str, body: bytes) -> List[str]:
        most_bytes = self._limit("max_size_per_batch_save_mb") * MB
        if len(body) > most_bytes:
            raise KvError(
                400,
                f"{LIMITS_MESSAGE} (Batch save size exceeds the maximum allowed, "
                f"max_size_per_batch_save_mb={self._limit('max_size_per_batch_save_mb')})",
            )
        documents = _json_body(body)
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise KvError(400, "batch_save needs a JSON array of objects")
        most = self._limit("max_documents_per_batch_save")
        if len(documents) > most:
            raise KvError(
                400,
                f"{LIMITS_MESSAGE} (Too many documents for a single batch save, "
                f"max_documents_per_batch_save={most})",
            )
        records = self._records(name)
        saved = []
        for document in documents:
            key = _key_of(document)
            records[key] = _stored(document, key)
            saved.append(key)
        return saved

    def insert(self, name: str, body: bytes) -> str:
        document = _json_body(body)
        if not isinstance(document, dict):
            raise KvError(400, "Expected a JSON object")
        records = self._records(name)
        key = _key_of(document)
        if key in records:
            raise KvError(409, "A document with the same key already exists")
        records[key] = _stored(document, key)
        return key

    def replace(self, name: str, key: str, body: bytes) -> str:
        document = _json_body(body)
        if not isinstance(document, dict):
            raise KvError(400, "Expected a JSON object")
        self._records(name)[key] = _stored(document, key)
        return key

    def delete(self, name: str, params: Mapping[str, str]) -> int:
        """Every document the ``query`` parameter matches (all without one): how many."""
        records = self._records(name)
        if not params.get("query"):
            count = len(records)
            records.clear()
            return count
        query = _json_text(params["query"])
        keys = self._matching_keys(name, records, query, [])
        for key in keys:
            dict.__delitem__(records, key)  # one version bump for the whole delete
        records.version += 1
        return len(keys)

    def delete_one(self, name: str, key: str) -> None:
        records = self._records(name)
        if key not in records:
            raise KvError(404, "Could not find object.")
        del records[key]


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise KvError(400, f"Malformed JSON: {error}") from None


def _json_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise KvError(400, f"Invalid query: malformed JSON: {error}") from None


def _key_of(document: Mapping[str, Any]) -> str:
    key = document.get("_key")
    return str(key) if key not in (None, "") else uuid.uuid4().hex[:24]


def _stored(document: Mapping[str, Any], key: str) -> Document:
    stored = {k: v for k, v in document.items() if k != "_user"}
    stored["_key"] = key
    return stored
