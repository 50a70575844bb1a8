"""The DA conformance suite: every DA backend, ours or a third party's, passes it.

It checks the rules of :class:`~fontana.interfaces.DALayer` (written out in its
docstring and in ``docs/plugins.md``). Subclass one of three classes, by how
your layer should be opened:

* :class:`DAConformance`: through your constructor. Provide ``da_factory``, a
  callable ``namespace -> DALayer`` returning a *new* instance on the *same*
  underlying store each time (so isolation between namespaces, concurrency
  across instances and persistence can be checked)::

      class TestMyDA(DAConformance):
          @pytest.fixture
          def da_factory(self, tmp_path):
              return lambda namespace: MyDA(tmp_path / "da", namespace, max_blob_size=4096)

* :class:`DARegistryConformance`: through the plugin registry, by backend name.
  Provide ``da_backend`` (the name your plugin registers) and ``da_url``.
* :class:`DAConfigConformance`: the way ``fontana`` commands open it, from the
  ``da.url`` setting (``FONTANA_DA_URL``). Provide ``da_url``.

The concurrency tests fork processes (``multiprocessing`` with ``fork``), so the
factory must work in a forked child; it is called there, never an instance
inherited from the parent. The size tests submit one blob of exactly
``max_blob_size`` bytes: give your test instances a small limit where you can.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fontana.config import Settings, load_settings
from fontana.da import open_da
from fontana.errors import BlobTooLargeError
from fontana.interfaces import DALayer, DAReference

__all__ = [
    "NAMESPACE",
    "OTHER_NAMESPACE",
    "DAConfigConformance",
    "DAConformance",
    "DAFactory",
    "DARegistryConformance",
]

#: ``namespace -> a new layer bound to it``, every instance on one underlying store.
DAFactory = Callable[[bytes], DALayer]

NAMESPACE = b"fontanatst"
#: A second chain sharing the store: the suite checks the two never see each other.
OTHER_NAMESPACE = b"fontanaoth"


def _blob(label: str, size: int = 256) -> bytes:
    """A distinct blob of ``size`` bytes that starts with ``label`` (for messages)."""
    head = f"{label} ".encode() + os.urandom(8)
    return (head + hashlib.sha256(head).digest() * (size // 32 + 1))[:size]


#: How long the suite waits for a forked writer before calling it hung (not a speed test).
_CHILD_TIMEOUT_S = 300


def _answer(receive: Connection) -> Any:
    """A writer's refs, or the text of its failure."""
    if not receive.poll(_CHILD_TIMEOUT_S):
        return "the writer process hung"
    try:
        return receive.recv()
    except EOFError:
        return "the writer process died without an answer"


def _submit_in_child(
    factory: DAFactory,
    namespace: bytes,
    blobs: Sequence[bytes],
    barrier: Any,
    out: Connection,
) -> None:
    """Body of one forked writer: its own layer, its blobs, the refs back to the parent."""
    try:
        layer = factory(namespace)
        barrier.wait(timeout=_CHILD_TIMEOUT_S)
        refs = [layer.submit(blob) for blob in blobs]
        layer.close()
        out.send([(r.height, r.commitment, r.namespace) for r in refs])
    except BaseException as exc:  # reported by the parent: a child has no test report
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        out.close()


class _TornReadWatch:
    """Reads new heights in a loop while writers run; any blob a reader sees must be whole.

    A reader must never see a blob half-written: every ``(ref, data)`` from
    ``list_at`` satisfies ``commitment(data) == ref.commitment``.
    """

    def __init__(self, layer: DALayer) -> None:
        self.layer = layer
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._start = layer.head_height()
        self._thread = threading.Thread(target=self._run, name="da-torn-read-watch", daemon=True)

    def __enter__(self) -> _TornReadWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set() and not self.problems:
            try:
                head = self.layer.head_height()
                # The newest heights are where a write in progress would show.
                for height in range(max(self._start, head - 2), head + 1):
                    for ref, data in self.layer.list_at(height):
                        if self.layer.commitment(data) != ref.commitment:
                            self.problems.append(
                                f"list_at({height}) returned {len(data)} bytes that do not "
                                "match their commitment (a half-written blob?)"
                            )
            except Exception as exc:
                self.problems.append(f"a reader failed while writers ran: {exc!r}")


class DAConformance:
    """Behaviour every :class:`~fontana.interfaces.DALayer` must have."""

    #: The namespace the suite's layers are bound to, and a second one on the same store.
    namespace: ClassVar[bytes] = NAMESPACE
    other_namespace: ClassVar[bytes] = OTHER_NAMESPACE
    #: Concurrent writers (threads, then processes) and blobs each.
    writers: ClassVar[int] = 4
    blobs_per_writer: ClassVar[int] = 5

    @pytest.fixture
    def da_factory(self) -> DAFactory:
        raise NotImplementedError("provide a da_factory fixture: namespace -> a new DALayer")

    @pytest.fixture
    def open_layer(self, da_factory: DAFactory) -> Iterator[DAFactory]:
        """Like ``da_factory``, but every layer it opens is closed after the test."""
        opened: list[DALayer] = []

        def open_(namespace: bytes) -> DALayer:
            layer = da_factory(namespace)
            opened.append(layer)
            return layer

        yield open_
        for layer in opened:
            layer.close()

    @pytest.fixture
    def da(self, open_layer: DAFactory) -> DALayer:
        return open_layer(self.namespace)

    # -- reading back -------------------------------------------------------------

    def test_submit_then_read_back(self, da: DALayer) -> None:
        blob = _blob("read back")
        expected = da.commitment(blob)  # computable before submitting
        ref = da.submit(blob)
        assert ref.height >= 1, "heights start at 1 (fontana recover reads from height 1)"
        assert ref.commitment == expected, "submit must give the commitment commitment() gives"
        assert da.get(ref) == blob
        listed = [(r, d) for r, d in da.list_at(ref.height) if r.commitment == ref.commitment]
        assert listed == [(ref, blob)], "list_at must show the blob once, with its reference"
        assert da.head_height() >= ref.height

    def test_first_height_is_at_least_one(self, da: DALayer) -> None:
        assert da.head_height() >= 0
        refs = [da.submit(_blob(f"early {i}")) for i in range(2)]
        assert all(r.height >= 1 for r in refs), [r.height for r in refs]

    def test_list_at_gives_references_of_that_height(self, da: DALayer) -> None:
        ref = da.submit(_blob("listed"))
        for listed, data in da.list_at(ref.height):
            assert listed.height == ref.height
            assert listed.namespace == ref.namespace
            assert da.commitment(data) == listed.commitment

    def test_get_returns_exactly_the_referenced_blob(self, da: DALayer) -> None:
        refs = {da.submit(blob): blob for blob in (_blob("first"), _blob("second", 300))}
        for ref, blob in refs.items():
            assert da.get(ref) == blob

    def test_unknown_commitment_reads_as_none(self, da: DALayer) -> None:
        ref = da.submit(_blob("present"))
        missing = DAReference(ref.height, da.commitment(_blob("absent")), ref.namespace)
        assert da.get(missing) is None

    def test_commitment_at_another_height_reads_as_none(self, da: DALayer) -> None:
        first = da.submit(_blob("here"))
        second = da.submit(_blob("there"))
        for ref, other in ((first, second), (second, first)):
            if other.height != ref.height:
                moved = DAReference(other.height, ref.commitment, ref.namespace)
                assert da.get(moved) is None, "get must match the height as well"

    # -- heights ------------------------------------------------------------------

    def test_heights_do_not_go_back(self, da: DALayer) -> None:
        refs = [da.submit(_blob(f"blob {i}")) for i in range(3)]
        heights = [r.height for r in refs]
        assert heights == sorted(heights)
        assert da.head_height() >= heights[-1]

    def test_heights_do_not_go_back_across_instances(
        self, da: DALayer, open_layer: DAFactory
    ) -> None:
        da.submit(_blob("before"))
        ref = da.submit(_blob("before, too"))
        other = open_layer(self.namespace)
        assert other.head_height() >= ref.height, "a new instance's head went back"
        later = other.submit(_blob("after"))
        assert later.height >= ref.height, "a new instance submitted below an older blob"
        assert da.head_height() >= later.height

    # -- commitments --------------------------------------------------------------

    def test_commitment_is_deterministic_and_binds_the_data(
        self, da: DALayer, open_layer: DAFactory
    ) -> None:
        size = min(da.max_blob_size, 4096)
        base = _blob("binding", size)
        assert da.commitment(base) == da.commitment(base)
        assert open_layer(self.namespace).commitment(base) == da.commitment(base)
        variants = {
            "last byte": base[:-1] + bytes([base[-1] ^ 1]),
            "first byte": bytes([base[0] ^ 1]) + base[1:],
            "middle byte": base[: size // 2] + bytes([base[size // 2] ^ 1]) + base[size // 2 + 1 :],
            "truncated": base[:-1],
        }
        if size < da.max_blob_size:
            variants["extended"] = base + b"\x00"
        for what, variant in variants.items():
            assert da.commitment(variant) != da.commitment(base), f"{what} changed nothing"

    def test_commitment_binds_the_namespace(self, da: DALayer, open_layer: DAFactory) -> None:
        other = open_layer(self.other_namespace)
        blob = _blob("same bytes")
        assert da.commitment(blob) != other.commitment(blob)

    # -- namespaces ---------------------------------------------------------------

    def test_list_at_shows_only_its_namespace(self, da: DALayer, open_layer: DAFactory) -> None:
        other = open_layer(self.other_namespace)
        mine, theirs = _blob("mine"), _blob("theirs")
        refs = [da.submit(mine), other.submit(theirs)]
        ref_mine = refs[0]
        for height in {r.height for r in refs}:
            for ref, data in da.list_at(height):
                assert data != theirs, "list_at showed a blob of another namespace"
                assert ref.namespace == ref_mine.namespace
            for ref, data in other.list_at(height):
                assert data != mine, "list_at showed a blob of another namespace"
                assert ref.namespace == refs[1].namespace

    def test_get_of_another_namespace_reads_as_none(
        self, da: DALayer, open_layer: DAFactory
    ) -> None:
        other = open_layer(self.other_namespace)
        theirs = _blob("theirs")
        ref = other.submit(theirs)
        assert other.get(ref) == theirs
        assert da.get(ref) is None, "get returned a blob of another namespace"
        same_bytes = da.submit(theirs)  # the same data in our namespace is our own blob
        assert da.get(same_bytes) == theirs
        assert other.get(same_bytes) is None

    # -- size limit ---------------------------------------------------------------

    def test_blob_of_exactly_the_limit_is_accepted(self, da: DALayer) -> None:
        blob = _blob("largest", da.max_blob_size)
        ref = da.submit(blob)
        assert da.get(ref) == blob

    def test_oversize_blob_is_refused_and_not_posted(self, da: DALayer) -> None:
        blob = _blob("oversize", da.max_blob_size + 1)
        before = da.head_height()
        with pytest.raises(BlobTooLargeError):
            da.submit(blob)
        # A blob posted anyway would sit at or below the next blob's height.
        after = da.submit(_blob("after the refusal"))
        for height in range(max(before, 1), after.height + 1):
            assert all(data != blob for _, data in da.list_at(height)), "it was posted"
        assert da.get(DAReference(after.height, da.commitment(blob), after.namespace)) is None

    # -- concurrency and durability ---------------------------------------------------

    def _check_all_landed(self, da: DALayer, submitted: dict[bytes, DAReference]) -> None:
        """Each blob at a distinct (height, index), readable, listed once; none lost or mixed."""
        for blob, ref in submitted.items():
            assert da.get(ref) == blob, "a concurrent submit was lost or mixed with another"
        positions: dict[tuple[int, int], bytes] = {}
        for height in sorted({r.height for r in submitted.values()}):
            for index, (ref, data) in enumerate(da.list_at(height)):
                assert da.commitment(data) == ref.commitment, "a listed blob is not whole"
                positions[(height, index)] = data
        found = [data for data in positions.values() if data in submitted]
        assert sorted(found) == sorted(submitted), "a blob is missing from list_at or twice"

    def test_concurrent_submits_from_threads_all_land(
        self, da: DALayer, open_layer: DAFactory
    ) -> None:
        # Half the writers share one instance, the others have their own.
        layers = [da if i % 2 else open_layer(self.namespace) for i in range(self.writers)]
        barrier = threading.Barrier(self.writers)
        submitted: dict[bytes, DAReference] = {}
        errors: list[BaseException] = []
        lock = threading.Lock()

        def write(i: int, layer: DALayer) -> None:
            try:
                barrier.wait(timeout=60)
                for n in range(self.blobs_per_writer):
                    blob = _blob(f"thread {i} blob {n}", 2048)
                    ref = layer.submit(blob)
                    with lock:
                        submitted[blob] = ref
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i, la)) for i, la in enumerate(layers)]
        with _TornReadWatch(open_layer(self.namespace)) as watch:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == [], errors
        assert watch.problems == [], watch.problems
        assert len(submitted) == self.writers * self.blobs_per_writer
        self._check_all_landed(da, submitted)

    def test_concurrent_submits_from_processes_all_land(
        self, da: DALayer, open_layer: DAFactory, da_factory: DAFactory
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        # The writers fork before this test starts any thread (a thread holding a C
        # library's lock at fork time would deadlock the child); the parent joins
        # the barrier once its reader runs, so writes and reads overlap.
        barrier = ctx.Barrier(self.writers + 1)
        batches = [
            [_blob(f"process {i} blob {n}", 2048) for n in range(self.blobs_per_writer)]
            for i in range(self.writers)
        ]
        children = []
        for blobs in batches:
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(
                target=_submit_in_child,
                args=(da_factory, self.namespace, blobs, barrier, send),
                daemon=True,
            )
            child.start()
            send.close()
            children.append((child, receive))
        answers: list[Any] = []
        try:
            with _TornReadWatch(open_layer(self.namespace)) as watch:
                barrier.wait(timeout=_CHILD_TIMEOUT_S)
                for _, receive in children:
                    answers.append(_answer(receive))
        finally:
            for child, _ in children:
                child.join(timeout=_CHILD_TIMEOUT_S)
                if child.is_alive():
                    child.kill()
        assert watch.problems == [], watch.problems
        submitted: dict[bytes, DAReference] = {}
        for blobs, answer in zip(batches, answers, strict=True):
            assert not isinstance(answer, str), f"a writer process failed: {answer}"
            for blob, (height, commitment, namespace) in zip(blobs, answer, strict=True):
                submitted[blob] = DAReference(height, commitment, namespace)
        self._check_all_landed(da, submitted)

    def test_blobs_survive_a_new_instance(self, da: DALayer, open_layer: DAFactory) -> None:
        blob = _blob("durable")
        ref = da.submit(blob)
        other = open_layer(self.namespace)
        assert other.get(ref) == blob, "another instance cannot read a submitted blob"
        da.close()
        last = open_layer(self.namespace)
        assert last.get(ref) == blob, "a blob did not survive its layer's close"
        assert last.head_height() >= ref.height
        assert (ref, blob) in list(last.list_at(ref.height))


class DARegistryConformance(DAConformance):
    """The suite with layers opened through the plugin registry by backend name."""

    @pytest.fixture
    def da_backend(self) -> str:
        raise NotImplementedError("provide da_backend: the name your plugin registers")

    @pytest.fixture
    def da_url(self) -> str:
        raise NotImplementedError("provide da_url: where the layer keeps its blobs")

    @pytest.fixture
    def da_factory(self, da_backend: str, da_url: str, fontana_settings: Settings) -> DAFactory:
        from fontana.plugins import get_host

        spec = get_host().backends("da").resolve(da_backend)
        assert spec.name == da_backend
        return lambda namespace: spec.factory(da_url, fontana_settings, namespace)


class DAConfigConformance(DAConformance):
    """The suite with layers opened from the ``da.url`` setting, as commands open them."""

    @pytest.fixture
    def da_url(self) -> str:
        raise NotImplementedError("provide da_url: the value a user puts in da.url")

    @pytest.fixture
    def da_settings(self, fontana_home: Path, da_url: str) -> Settings:
        """Settings as a user with ``FONTANA_DA_URL`` set gets them."""
        env = {"FONTANA_HOME": str(fontana_home), "FONTANA_DA_URL": da_url}
        return load_settings(environ=env, cwd=fontana_home)

    @pytest.fixture
    def da_factory(self, da_settings: Settings) -> DAFactory:
        return lambda namespace: open_da(da_settings, namespace)
