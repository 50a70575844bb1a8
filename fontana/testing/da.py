"""The DA conformance suite: every DA backend, ours or a third party's, passes it.

Subclass it and provide ``da_factory``: a callable returning a fresh
:class:`~fontana.interfaces.DALayer` instance on the *same* underlying store
each time it is called (so persistence across instances can be checked)::

    class TestMyDA(DAConformance):
        @pytest.fixture
        def da_factory(self, tmp_path):
            return lambda: MyDA(tmp_path, namespace=b"fontanatst")
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from fontana.errors import BlobTooLargeError
from fontana.interfaces import DALayer, DAReference

DAFactory = Callable[[], DALayer]


class DAConformance:
    """Behaviour every :class:`~fontana.interfaces.DALayer` must have."""

    @pytest.fixture
    def da_factory(self) -> DAFactory:
        raise NotImplementedError("provide a da_factory fixture")

    @pytest.fixture
    def da(self, da_factory: DAFactory) -> DALayer:
        layer = da_factory()
        yield layer  # type: ignore[misc]
        layer.close()

    def test_submit_then_read_back(self, da: DALayer) -> None:
        blob = b"fontana blob " + os.urandom(64)
        ref = da.submit(blob)
        assert ref.commitment == da.commitment(blob)
        assert da.get(ref) == blob
        assert (ref, blob) in [(r, d) for r, d in da.list_at(ref.height)]
        assert da.head_height() >= ref.height

    def test_heights_do_not_go_back(self, da: DALayer) -> None:
        refs = [da.submit(b"blob %d " % i + os.urandom(16)) for i in range(3)]
        heights = [r.height for r in refs]
        assert heights == sorted(heights)

    def test_unknown_commitment_reads_as_none(self, da: DALayer) -> None:
        ref = da.submit(b"present " + os.urandom(16))
        missing = DAReference(ref.height, da.commitment(b"absent"), ref.namespace)
        assert da.get(missing) is None

    def test_commitment_is_deterministic_and_binding(self, da: DALayer) -> None:
        assert da.commitment(b"a" * 100) == da.commitment(b"a" * 100)
        assert da.commitment(b"a" * 100) != da.commitment(b"a" * 99 + b"b")

    def test_oversize_blob_is_refused_and_not_posted(self, da: DALayer) -> None:
        blob = os.urandom(da.max_blob_size + 1)
        before = da.head_height()
        with pytest.raises(BlobTooLargeError):
            da.submit(blob)
        for height in range(before + 1, da.head_height() + 1):
            assert all(data != blob for _, data in da.list_at(height))

    def test_blobs_survive_a_new_instance(self, da: DALayer, da_factory: DAFactory) -> None:
        blob = b"durable " + os.urandom(32)
        ref = da.submit(blob)
        da.close()
        other = da_factory()
        try:
            assert other.get(ref) == blob
            assert other.head_height() >= ref.height
        finally:
            other.close()
