"""Shared allocation state: a versioned key-value store and compare-and-swap updates.

Purpose: let several processes allocate from the same ranges without handing out an
address twice, the way kube-apiserver keeps its Service IP bitmaps in etcd
(service-ips.md §1.9, ``Etcd.tryUpdate``): one value per range, every change written
back only if the key's revision is still the one the change was computed from, and
retried on the fresh value when it is not.

Key types:

- ``Store`` (Protocol): ``get(name) -> Versioned`` and ``compare_and_swap(name, value,
  revision=...) -> SwapResult`` over names relative to the store's ``prefix``.
  ``MemoryStore()`` (thread-safe, in-process) and ``EtcdStore(endpoint, *, prefix,
  timeout)`` (etcd's v3 JSON gateway through ``etcd3gw``, extra ``dualstack[etcd]``).
- ``Versioned(value, revision)``: what a key holds; an absent key is ``(None, 0)``.
  ``revision`` is etcd's ``mod_revision`` (MemoryStore counts the same way).
- ``SharedState(store, name, decode=..., encode=...)``: the compare-and-swap loop the
  allocators use; ``update(op)`` applies ``op`` to the latest state and writes it back.
- ``RetryPolicy``: attempts and jittered exponential back-off of that loop.
- ``StoreBacked``: the base of the three allocators (``store``, ``shared_state``,
  ``refresh()``, and the ``_update`` their store-backed subclasses run verbs through).
- ``RangeValue`` with ``encode_range_value``/``decode_range_value``: the stored form, a
  JSON ``RangeAllocation`` (``range`` + base64 ``data``) that ``dualstack decode-range``
  reads; cursors ride along as ``metadata.annotations``.
- Key names: ``service_ips_key``, ``node_cidrs_key``, ``pod_ips_key``.
- Errors: ``StoreError`` > ``StoreUnavailableError`` (store down, timed out or refusing;
  ``.maybe_applied`` says whether a write may have landed) and ``StoreConflictError``
  (other writers won every attempt).

Invariants: a write is one etcd transaction (compare ``mod_revision``, then put, else
read back), so a process killed at any point leaves either the old or the new value,
never a mix; ``SharedState`` never writes a state it did not derive from the revision
it compares against, so no update of another process is ever lost; a failing
``update`` leaves the cached state, revision and stored value as they were (except a
write whose answer was lost, flagged ``maybe_applied``: it can leak an address, never
hand one out twice).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import random
import select
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    runtime_checkable,
)

from dualstack._k8sproto import decode_range_allocation
from dualstack.errors import ConfigError, DualStackError, MismatchedNetworkError
from dualstack.pools import CIDRPool

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_PREFIX",
    "LAST_RESERVED_ANNOTATION",
    "MAX_STORED_BITS",
    "MISMATCHED_NETWORK",
    "NEXT_CANDIDATE_ANNOTATION",
    "NODE_MASK_SIZE_ANNOTATION",
    "EtcdStore",
    "MemoryStore",
    "RangeValue",
    "RetryPolicy",
    "SharedState",
    "Store",
    "StoreBacked",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "SwapResult",
    "Versioned",
    "check_storable",
    "decode_range_value",
    "encode_range_value",
    "node_cidrs_key",
    "pod_ips_key",
    "read_range_value",
    "service_ips_key",
]

S = TypeVar("S")
T = TypeVar("T")

DEFAULT_PREFIX: Final = "/registry"
"""kube-apiserver's default ``--etcd-prefix``."""

NEXT_CANDIDATE_ANNOTATION: Final = "dualstack/next-candidate"
"""Node CIDR ranges: CIDRSet's rotating cursor, the next block index to try (decimal)."""

NODE_MASK_SIZE_ANNOTATION: Final = "dualstack/node-mask-size"
"""Node CIDR ranges: the node mask size the bitmap's offsets count blocks of (decimal)."""

LAST_RESERVED_ANNOTATION: Final = "dualstack/last-reserved"
"""Pod IP ranges: host-local's ``last_reserved_ip`` (an address, or absent)."""

_CONFLICT_TEXT: Final = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


# --- errors ----------------------------------------------------------------------------


class StoreError(DualStackError):
    """The shared store could not carry out an update; local state is unchanged."""


class StoreUnavailableError(StoreError):
    """The store is unreachable, timed out or refused the request.

    ``maybe_applied`` is true only for a write whose answer was lost after it was sent
    (a timeout, a dropped connection, an etcd-side timeout): etcd may have applied it.
    The caller must then assume the worst for safety: an allocation it did not get, a
    release that happened (an address can leak; none is ever handed out twice).
    """

    def __init__(self, message: str, *, hint: str | None = None, maybe_applied: bool = False):
        super().__init__(message, hint=hint)
        self.maybe_applied = maybe_applied


class StoreConflictError(StoreError):
    """Other writers changed the key before every one of the bounded attempts."""


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Versioned:
    """A key's value and its revision (etcd ``mod_revision``); absent is ``(None, 0)``."""

    value: bytes | None
    revision: int

    @property
    def exists(self) -> bool:
        """Whether the key holds a value."""
        return self.value is not None


ABSENT: Final = Versioned(None, 0)


@dataclass(frozen=True, slots=True)
class SwapResult:
    """The answer of ``compare_and_swap``.

    ``ok`` says whether the write happened. ``current`` is what the key holds now: the
    written value and its new revision, or after a conflict the value that won, read in
    the same transaction (so a retry needs no extra read).
    """

    ok: bool
    current: Versioned


@runtime_checkable
class Store(Protocol):
    """A versioned key-value store; names are relative to ``prefix``."""

    @property
    def prefix(self) -> str:
        """The key prefix, e.g. ``/registry``."""
        ...

    def key(self, name: str) -> str:
        """The full key of ``name`` (``prefix + "/" + name``)."""
        ...

    def get(self, name: str) -> Versioned:
        """The value of ``name`` and its revision; ``(None, 0)`` when absent."""
        ...

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        """Write ``value`` (``None`` deletes) only if the key's revision is ``revision``.

        Revision 0 means "only if absent" (create). One atomic step in the store.
        """
        ...


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name.lstrip('/')}"


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigError(
            f"invalid store prefix {prefix!r}",
            hint='give an absolute key prefix such as "/registry"',
        )
    return prefix.rstrip("/") or "/"


class MemoryStore:
    """An in-process ``Store``: a dict guarded by a lock, revisions counted as etcd does.

    Every successful write takes the next value of one store-wide revision counter, so
    revisions grow across keys exactly like etcd's ``mod_revision``.
    """

    __slots__ = ("_data", "_lock", "_prefix", "_revision")

    def __init__(self, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._prefix = _check_prefix(prefix)
        self._data: dict[str, Versioned] = {}
        self._revision = 0
        self._lock = threading.Lock()

    @property
    def prefix(self) -> str:
        """The key prefix (``/registry`` by default)."""
        return self._prefix

    def key(self, name: str) -> str:
        """The full key of ``name``."""
        return _join(self._prefix, name)

    def get(self, name: str) -> Versioned:
        """The value of ``name`` and its revision; ``(None, 0)`` when absent."""
        with self._lock:
            return self._data.get(self.key(name), ABSENT)

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        """Write (or with ``None`` delete) ``name`` only if its revision is ``revision``."""
        key = self.key(name)
        with self._lock:
            current = self._data.get(key, ABSENT)
            if current.revision != revision:
                return SwapResult(False, current)
            if value is None:
                self._data.pop(key, None)
                if current.exists:
                    self._revision += 1
                return SwapResult(True, ABSENT)
            self._revision += 1
            stored = Versioned(bytes(value), self._revision)
            self._data[key] = stored
            return SwapResult(True, stored)

    def items(self) -> Iterator[tuple[str, Versioned]]:
        """Every full key and its value, in key order (a snapshot)."""
        with self._lock:
            pairs = sorted(self._data.items())
        return iter(pairs)

    def __repr__(self) -> str:
        return f"MemoryStore(prefix={self._prefix!r})"


# --- etcd ---------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


class _TransportError(Exception):
    """A failed request: ``text`` says why, ``sent`` whether etcd may have received it."""

    def __init__(self, text: str, *, sent: bool) -> None:
        super().__init__(text)
        self.text = text
        self.sent = sent


def _etcd_text(body: bytes) -> str:
    """etcd's own error text from a gateway error body, else the body's start."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    if isinstance(doc, Mapping):
        text = doc.get("message") or doc.get("error")
        if isinstance(text, str) and text:
            return text
    return body.decode("utf-8", "replace").strip()[:200]


class _HttpTransport:
    """POST JSON to etcd's v3 gateway over a kept-alive ``http.client`` connection.

    The standard library costs a quarter of the client CPU per request that
    ``requests`` (under etcd3gw) does, which is what bounds throughput on a small
    machine (benchmarks/bench_etcd.py measures both). One connection per thread.
    """

    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        self._scheme, self._host, self._port, self._timeout = scheme, host, port, timeout
        self._local = threading.local()
        # Every connection of every thread, so that close() (or collection) closes all.
        self._open: set[http.client.HTTPConnection] = set()
        self._guard = threading.Lock()
        weakref.finalize(self, _close_all, self._open, self._guard)

    def close(self) -> None:
        _close_all(self._open, self._guard)

    def _connect(self) -> http.client.HTTPConnection:
        cls = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        conn = cls(self._host, self._port, timeout=self._timeout)
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, connect timeout: nothing was sent
            raise _TransportError(str(exc) or type(exc).__name__, sent=False) from None
        return conn

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        # A kept-alive socket that reads ready while idle was closed by the server
        # (etcd restarted): reconnect instead of sending into it.
        if conn is not None and conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
            conn.close()
            conn = None
        if conn is None or conn.sock is None:
            conn = self._connect()
            self._local.conn = conn
            with self._guard:
                self._open.add(conn)
        return conn

    def post(self, path: str, body: Mapping[str, object]) -> Mapping[str, object]:
        conn = self._connection()
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            conn.request("POST", path, payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._local.conn = None
            raise _TransportError(str(exc) or type(exc).__name__, sent=True) from None
        if response.status != 200:
            # 4xx: etcd refused the request itself, so it did not apply it.
            raise _TransportError(
                f"HTTP {response.status}: {_etcd_text(raw)}", sent=response.status >= 500
            )
        try:
            doc = json.loads(raw)
        except ValueError:
            raise _TransportError(f"not JSON: {raw[:100]!r}", sent=True) from None
        if not isinstance(doc, Mapping):
            raise _TransportError(f"unexpected answer: {raw[:100]!r}", sent=True)
        return doc


def _close_all(conns: set[http.client.HTTPConnection], guard: threading.Lock) -> None:
    with guard:
        for conn in conns:
            conn.close()
        conns.clear()


class _Etcd3gwTransport:
    """The same requests through ``etcd3gw`` (extra ``dualstack[etcd]``)."""

    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        try:
            import etcd3gw  # type: ignore[import-not-found, unused-ignore]
            from etcd3gw import exceptions  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise StoreUnavailableError(
                "the etcd client etcd3gw is not installed",
                hint="pip install 'dualstack[etcd]', or use client='http'",
            ) from None
        self._errors: tuple[type[BaseException], ...] = (exceptions.Etcd3Exception, OSError)
        # The API path is fixed so that no discovery request runs (etcd >= 3.4 serves /v3).
        self._client: Any = etcd3gw.Etcd3Client(
            host=host, port=port, protocol=scheme, timeout=timeout, api_path="/v3/"
        )
        weakref.finalize(self, self._client.session.close)

    def close(self) -> None:
        self._client.session.close()

    def post(self, path: str, body: Mapping[str, object]) -> Mapping[str, object]:
        try:
            answer = self._client.post(self._client.base_url + path, json=body)
        except self._errors as exc:
            raise _TransportError(_etcd3gw_text(exc), sent=not _never_sent(exc)) from None
        if not isinstance(answer, Mapping):
            raise _TransportError(f"unexpected answer: {answer!r}"[:200], sent=True)
        return answer


def _never_sent(exc: BaseException) -> bool:
    """Whether an etcd3gw error certainly never reached etcd (refused, connect timeout).

    etcd3gw re-raises ``requests`` errors as its own with the original as the context;
    the causes are recognised by class name so that ``requests`` need not be imported.
    """
    for cause in _chain(exc):
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ in (
            "ConnectTimeout",
            "NewConnectionError",
        ):
            return True
    return False


def _etcd3gw_text(exc: BaseException) -> str:
    detail = getattr(exc, "detail_text", None)
    if isinstance(detail, str) and detail:
        return _etcd_text(detail.encode())
    for cause in _chain(exc):
        if str(cause):
            return str(cause)[:200]
    return type(exc).__name__


class EtcdStore:
    """A ``Store`` in etcd (3.4 or newer), through its v3 JSON gateway.

    Every call is one ``POST /v3/kv/txn``: a linearizable read, or a transaction that
    compares the key's ``mod_revision`` and then puts (or deletes) it, else reads it.

    Args:
        endpoint: the client URL, ``http://host:port`` (or ``https://``).
        prefix: the key prefix, kube-apiserver's ``--etcd-prefix`` (``/registry``).
        timeout: seconds to wait for each request before ``StoreUnavailableError``.
        client: ``"http"`` (the standard library, no dependency) or ``"etcd3gw"``
            (the maintained etcd v3 HTTP client, extra ``dualstack[etcd]``).

    Raises:
        ConfigError: the endpoint is not an ``http(s)://host[:port]`` URL, the prefix
            is not absolute, the timeout is not positive, or the client is unknown.
        StoreUnavailableError: ``client="etcd3gw"`` and etcd3gw is not installed.
    """

    __slots__ = ("_endpoint", "_prefix", "_timeout", "_transport")

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:2379",
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        client: Literal["http", "etcd3gw"] = "http",
    ) -> None:
        parts: urllib.parse.SplitResult | None = None
        port: int | None = None
        if isinstance(endpoint, str):
            parts = urllib.parse.urlsplit(endpoint)
            try:
                port = parts.port
            except ValueError:
                parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"invalid etcd endpoint {endpoint!r}",
                hint='give the client URL, e.g. "http://127.0.0.1:2379"',
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError(
                f"invalid etcd timeout {timeout!r}", hint="give a positive number of seconds"
            )
        if client not in ("http", "etcd3gw"):
            raise ConfigError(f"unknown etcd client {client!r}", hint='give "http" or "etcd3gw"')
        self._prefix = _check_prefix(prefix)
        self._endpoint = endpoint
        self._timeout = float(timeout)
        transport = _HttpTransport if client == "http" else _Etcd3gwTransport
        self._transport: _HttpTransport | _Etcd3gwTransport = transport(
            parts.scheme, parts.hostname, port or 2379, self._timeout
        )

    @property
    def prefix(self) -> str:
        """The key prefix (``/registry`` by default)."""
        return self._prefix

    @property
    def endpoint(self) -> str:
        """The etcd client URL."""
        return self._endpoint

    def key(self, name: str) -> str:
        """The full key of ``name``."""
        return _join(self._prefix, name)

    def _txn(self, body: Mapping[str, object], *, write: bool) -> Mapping[str, object]:
        try:
            return self._transport.post("/v3/kv/txn", body)
        except _TransportError as exc:
            maybe = write and exc.sent
            raise StoreUnavailableError(
                f"etcd at {self._endpoint} is unavailable: {exc.text}",
                hint="the write may have been applied; nothing was changed locally"
                if maybe
                else "nothing was changed; check that etcd runs there, then retry",
                maybe_applied=maybe,
            ) from None

    @staticmethod
    def _versioned(answer: Mapping[str, object]) -> Versioned:
        responses = answer.get("responses")
        if not isinstance(responses, list) or not responses:
            return ABSENT
        first = responses[0]
        found = first.get("response_range") if isinstance(first, Mapping) else None
        kvs = found.get("kvs") if isinstance(found, Mapping) else None
        if not kvs:
            return ABSENT
        kv = kvs[0]
        return Versioned(base64.b64decode(kv.get("value", "")), int(kv["mod_revision"]))

    def get(self, name: str) -> Versioned:
        """The value of ``name`` and its revision (a linearizable read)."""
        key = _b64(self.key(name).encode())
        return self._versioned(
            self._txn({"success": [{"request_range": {"key": key}}]}, write=False)
        )

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        """One etcd transaction: if ``mod_revision == revision`` put (or delete), else read.

        An absent key compares as ``mod_revision`` 0, so revision 0 creates.
        """
        key = _b64(self.key(name).encode())
        then: dict[str, object] = (
            {"request_delete_range": {"key": key}}
            if value is None
            else {"request_put": {"key": key, "value": _b64(value)}}
        )
        answer = self._txn(
            {
                "compare": [
                    {"key": key, "result": "EQUAL", "target": "MOD", "mod_revision": revision}
                ],
                "success": [then],
                "failure": [{"request_range": {"key": key}}],
            },
            write=True,
        )
        if not answer.get("succeeded"):  # the gateway leaves out false values
            return SwapResult(False, self._versioned(answer))
        if value is None:
            return SwapResult(True, ABSENT)
        header = answer.get("header")
        if not isinstance(header, Mapping) or "revision" not in header:
            raise StoreUnavailableError(
                f"etcd at {self._endpoint} answered a write without a revision",
                hint="check that the endpoint is an etcd 3.4+ client URL",
                maybe_applied=True,
            )
        return SwapResult(True, Versioned(bytes(value), int(header["revision"])))

    def close(self) -> None:
        """Close the store's connections (a later call opens new ones)."""
        self._transport.close()

    def __enter__(self) -> EtcdStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EtcdStore({self._endpoint!r}, prefix={self._prefix!r}, timeout={self._timeout!r})"


# --- the compare-and-swap loop -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often ``SharedState.update`` tries, and how it waits between tries.

    The first retry after a conflict runs at once (the conflict answer carried the fresh
    value); retry ``n >= 2`` first sleeps a uniform random time in
    ``[0, min(max_delay, base_delay * 2 ** (n - 2))]`` ("full jitter"), so that writers
    that collided spread out instead of colliding again.
    """

    # Measured with 8 processes on one key (benchmarks/bench_etcd.py): waits shorter
    # than a few etcd round trips keep every writer in flight and most writes lose.
    attempts: int = 100
    base_delay: float = 0.005
    max_delay: float = 0.1

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError(
                f"invalid retry policy {self!r}",
                hint="give attempts >= 1 and non-negative delays",
            )

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 is the first retry)."""
        if retry <= 1:
            return 0.0
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry - 2)))


@dataclass(slots=True)
class UpdateStats:
    """Counters of one ``SharedState``: store calls and how many writes lost a race."""

    updates: int = 0
    reads: int = 0
    writes: int = 0
    conflicts: int = 0


class SharedState(Generic[S]):
    """One key's state, cached locally and changed only through compare-and-swap.

    ``decode(value)`` builds the local state from a stored value (``None``: the key is
    absent, so an empty state); ``encode(state)`` gives the value to store. ``update(op)``
    runs ``op(state)``, which may change the state in place and returns a result, then
    writes the state back if it changed.

    How an update goes:

    1. The first update reads the key; later ones start from the cached state and its
       revision, without reading: a write compares that revision, so a stale cache is
       caught by the write itself, and the conflict answer carries the fresh value.
    2. ``op`` runs on the cached state. If it raises (an allocation error) or changes
       nothing, that answer is trusted only if the state is known current in this call;
       otherwise the key is read and, if its revision moved, ``op`` runs again on it.
    3. On a conflict the state is decoded from the winning value (or, after a back-off
       wait, from a fresh read) and ``op`` runs again, up to ``policy.attempts`` writes,
       waiting as ``RetryPolicy`` says; then ``StoreConflictError``.

    Whatever fails (``op``, the store, the attempts), the cached state is decoded back
    from the value it was built from, so the call leaves no trace. ``decode`` may
    rebuild into an existing object and return it: that is how an allocator keeps
    itself as the state and wires in with a few lines.

    Not thread-safe: give each thread its own ``SharedState`` (the store is shared).
    """

    __slots__ = (
        "_decode",
        "_encode",
        "_name",
        "_policy",
        "_revision",
        "_rng",
        "_sleep",
        "_state",
        "_store",
        "_value",
        "stats",
    )

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        decode: Callable[[bytes | None], S],
        encode: Callable[[S], bytes],
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._name = name
        self._decode = decode
        self._encode = encode
        self._policy = policy if policy is not None else RetryPolicy()
        # Jitter only spreads writers in time; it never decides an allocation. A fresh
        # generator per state keeps processes from backing off in lockstep.
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self._value: bytes | None = None
        self._revision = -1  # never read: no revision matches, the first update reads
        self._state: S | None = None
        self.stats = UpdateStats()

    @property
    def store(self) -> Store:
        """The store the state lives in."""
        return self._store

    @property
    def name(self) -> str:
        """The key name, relative to the store's prefix."""
        return self._name

    @property
    def key(self) -> str:
        """The full key."""
        return self._store.key(self._name)

    @property
    def revision(self) -> int:
        """The revision of the cached state (0: absent; -1: never read)."""
        return self._revision

    @property
    def state(self) -> S:
        """The cached state (read it, do not change it; reads the key on first use)."""
        if self._state is None:
            self.refresh()
        assert self._state is not None
        return self._state

    def _adopt(self, current: Versioned) -> None:
        if current.revision == self._revision and self._state is not None:
            return
        state = self._decode(current.value)
        self._state, self._value, self._revision = state, current.value, current.revision

    def _read(self) -> Versioned:
        self.stats.reads += 1
        return self._store.get(self._name)

    def refresh(self) -> S:
        """Read the key and adopt its value if its revision moved; return the state."""
        self._adopt(self._read())
        assert self._state is not None
        return self._state

    def update(self, op: Callable[[S], T]) -> T:
        """Apply ``op`` to the latest state and store the result with compare-and-swap.

        Returns:
            What ``op`` returned on the state that was stored.

        Raises:
            StoreConflictError: other writers won every attempt.
            StoreUnavailableError: the store failed; see ``maybe_applied``.
            Exception: whatever ``op`` raised on a state known to be current.
        """
        saved = (self._state, self._value, self._revision)
        self.stats.updates += 1
        try:
            return self._update(op)
        except BaseException:
            # Undo a partial op and any adopted value: back to the value held on entry.
            state, value, revision = saved
            self._value, self._revision = value, revision
            self._state = None if state is None else self._decode(value)
            raise

    def _update(self, op: Callable[[S], T]) -> T:
        fresh = False  # is the cached state known to be current during this call?
        if self._state is None:
            self._adopt(self._read())
            fresh = True
        conflicts = 0
        while True:
            state = self._state
            assert state is not None
            try:
                result = op(state)
            except DualStackError:
                if fresh:
                    raise
                self._state = self._decode(self._value)  # op may have changed it
                current = self._read()
                fresh = True
                if current.revision == self._revision:
                    raise
                self._adopt(current)
                continue
            value = self._encode(state)
            if value == self._value:
                if fresh:
                    return result
                current = self._read()
                fresh = True
                if current.revision == self._revision:
                    return result
                self._state = None  # force a decode: op may have changed the object
                self._adopt(current)
                continue
            self.stats.writes += 1
            answer = self._store.compare_and_swap(self._name, value, revision=self._revision)
            if answer.ok:
                self._value, self._revision = value, answer.current.revision
                return result
            self.stats.conflicts += 1
            conflicts += 1
            if conflicts >= self._policy.attempts:
                raise StoreConflictError(
                    f"Operation cannot be fulfilled on rangeallocations "
                    f'"{self.key}": {_CONFLICT_TEXT}',
                    hint=f"other writers changed it before each of {conflicts} attempts; "
                    "retry later or allow more attempts (RetryPolicy.attempts)",
                )
            self._state = None  # force a decode: op changed the object
            pause = self._policy.delay(conflicts, self._rng)
            if pause > 0:
                # The winner's value goes stale while we wait: read again after.
                self._sleep(pause)
                self._adopt(self._read())
            else:
                self._adopt(answer.current)
            fresh = True

    def __repr__(self) -> str:
        return f"<SharedState {self.key!r} revision={self._revision}>"


# --- keys and the stored form --------------------------------------------------------------


class StoreBacked(Generic[S]):
    """The store side every allocator shares (``S``: the allocator class itself).

    ``store``, ``shared_state`` and ``refresh()`` for every allocator, and ``_update``,
    through which a store-backed subclass runs each verb that changes state. The slot
    ``_shared`` is ``None`` for a private, in-memory allocator.
    """

    __slots__ = ("_shared",)

    _shared: SharedState[S] | None

    @property
    def store(self) -> Store | None:
        """The store the state lives in (``None``: private, in memory)."""
        return None if self._shared is None else self._shared.store

    @property
    def shared_state(self) -> SharedState[S] | None:
        """The ``SharedState`` behind a store-backed allocator (its key, revision, stats)."""
        return self._shared

    def refresh(self) -> None:
        """Read the store and adopt its latest state (a no-op without a store).

        Raises:
            StoreUnavailableError: the store cannot be read (nothing changed).
        """
        if self._shared is not None:
            self._shared.refresh()  # decode checks everything before it changes anything

    def _update(self, op: Callable[[S], T]) -> T:
        """``op`` applied to the latest stored state and written back (store-backed only)."""
        shared = self._shared
        assert shared is not None
        result: T = shared.update(op)
        return result


def service_ips_key(index: int = 0) -> str:
    """kube-apiserver's key name of a Service IP range: index 0 primary, 1 secondary."""
    if index == 0:
        return "ranges/serviceips"
    if index == 1:
        return "ranges/secondaryserviceips"
    raise ConfigError(
        f"invalid service range index {index!r}", hint="give 0 (primary) or 1 (secondary)"
    )


def node_cidrs_key(cluster_cidr: str | CIDRPool) -> str:
    """The key name of a cluster CIDR's node blocks: ``ranges/nodecidrs/<cidr>``.

    kube-controller-manager keeps its CIDRSet in memory only, so this key is
    dualstack's own; it is named by the canonical CIDR so that any allocator of that
    cluster CIDR finds it, whatever order the ranges were configured in.
    """
    pool = cluster_cidr if isinstance(cluster_cidr, CIDRPool) else CIDRPool(cluster_cidr)
    return f"ranges/nodecidrs/{pool.cidr}"


def pod_ips_key(node_cidr: str | CIDRPool) -> str:
    """The key name of the Pod IPs of one node CIDR: ``ranges/podips/<cidr>``.

    host-local keeps these files on each node; a node CIDR belongs to one node at a
    time, so the CIDR names the key (delete it when the node goes).
    """
    pool = node_cidr if isinstance(node_cidr, CIDRPool) else CIDRPool(node_cidr)
    return f"ranges/podips/{pool.cidr}"


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A stored ``RangeAllocation``: ``range``, the bitmap ``data``, and annotations.

    ``annotations`` carry what a bitmap cannot: a node CIDR range's cursor
    (``NEXT_CANDIDATE_ANNOTATION``) and mask size, host-local's last reserved address
    (``LAST_RESERVED_ANNOTATION``). Service IP ranges have none.
    """

    range: str
    data: bytes = b""
    annotations: Mapping[str, str] = field(default_factory=dict)


def encode_range_value(value: RangeValue) -> bytes:
    """The JSON ``RangeAllocation`` stored under a range's key.

    ``{"kind": "RangeAllocation", "apiVersion": "v1", "metadata": {...}, "range": ...,
    "data": <base64>}``, compact, keys in that order; ``metadata.annotations`` only when
    there are some. ``dualstack decode-range`` reads it as it is.
    """
    metadata: dict[str, object] = {}
    if value.annotations:
        metadata["annotations"] = dict(sorted(value.annotations.items()))
    doc = {
        "kind": "RangeAllocation",
        "apiVersion": "v1",
        "metadata": metadata,
        "range": value.range,
        "data": _b64(value.data),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_range_value(blob: bytes) -> RangeValue:
    """Read a stored ``RangeAllocation``: this module's JSON, or kube-apiserver's own.

    Any form ``dualstack decode-range`` reads is accepted, the protobuf envelope a real
    kube-apiserver writes included (that has no annotations).

    Raises:
        DualStackError: the value is not a ``RangeAllocation`` (names what is wrong).
    """
    range_spec, data = decode_range_allocation(blob)
    annotations: dict[str, str] = {}
    if blob[:1] == b"{":
        try:
            doc = json.loads(blob)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            doc = None
        metadata = doc.get("metadata") if isinstance(doc, Mapping) else None
        found = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        if isinstance(found, Mapping):
            annotations = {str(k): str(v) for k, v in found.items()}
    return RangeValue(range_spec, data, annotations)


# --- checks shared by the store-backed allocators -----------------------------------

# etcd refuses requests above --max-request-bytes (1.5 MiB by default): a bitmap with a
# bit at or past this offset (1 MiB of data, 1.4 MiB as base64) is refused before the
# write instead of failing at etcd.
MAX_STORED_BITS: Final = 1 << 23
MISMATCHED_NETWORK: Final = "the provided network does not match the current range"
"""The ipallocator's ``ErrMismatchedNetwork`` text (service-ips.md §1.7)."""


def read_range_value(blob: bytes, cidr: str, key: str) -> RangeValue:
    """The ``RangeValue`` stored at ``key``, which must be a range of ``cidr``.

    Raises:
        DualStackError: the value is not a ``RangeAllocation``.
        MismatchedNetworkError: it is one of another range (the ipallocator's text).
    """
    try:
        value = decode_range_value(blob)
    except DualStackError as error:
        raise DualStackError(
            f"the value at {key} is not a RangeAllocation: {error}",
            hint="give each allocator its own key, or delete the value",
        ) from None
    if value.range != cidr:
        raise MismatchedNetworkError(
            MISMATCHED_NETWORK,
            hint=f"{key} holds the range {value.range!r}, this allocator serves {cidr}; "
            "give it another key or store prefix",
        )
    return value


def check_storable(top: int, what: str, key: str) -> None:
    """Refuse a bitmap whose highest set offset ``top`` makes too large a value.

    Raises:
        StoreError: ``top >= MAX_STORED_BITS`` (``what`` names the offending item).
    """
    if top >= MAX_STORED_BITS:
        raise StoreError(
            f"{what} cannot be stored at {key}: a RangeAllocation bitmap is kept below "
            f"{MAX_STORED_BITS} offsets",
            hint="etcd refuses values above 1.5 MiB; use addresses nearer the start of the range",
        )
