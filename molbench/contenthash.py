"""The content hash of a group, computed from rows that stream past in ``id`` order.

The hash is defined as sha256 over ``molbench-content-v1``, the Arrow IPC stream of the
whole table (sorted by ``id``, canonical types, one record batch) and each config's split
ids. Holding the whole table to serialise it is what a full-size build cannot afford, so
:class:`ContentHasher` produces the very same bytes from windows of rows: each buffer of
the one big record batch (validity bits, offsets, values) is appended to a scratch file
as windows arrive, and the batch's metadata is Arrow's own for a one-row batch of the same
schema with the lengths and buffer positions put in. The bytes never pass through memory
all at once, and the hash equals the one of the in-memory definition (tested).
"""

from __future__ import annotations

import hashlib
import io
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

_PREFIX = b"molbench-content-v1\n"
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_BLOCK = 1 << 20


def content_hash(table: pa.Table, splits: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """One hash over the rows (sorted by ``id``) and every config's split assignment.

    It is computed from Arrow data, not from Parquet bytes, so it names the content
    whatever the compression; two builds with equal hashes hold the same benchmark.
    """
    with tempfile.TemporaryDirectory(prefix="molbench-hash-") as scratch:
        hasher = ContentHasher(table.schema, Path(scratch))
        hasher.add(table.sort_by("id"))
        return hasher.finish(table["id"], splits)


class ContentHasher:
    """Feed every row of a group once, in ``id`` order (:meth:`add`), then :meth:`finish`."""

    def __init__(self, schema: pa.Schema, scratch: Path) -> None:
        self.schema = pa.schema([pa.field(f.name, canonical_type(f.type)) for f in schema])
        scratch.mkdir(parents=True, exist_ok=True)
        self._nodes: list[_Node] = []
        self._columns = [_Node.tree(f.type, scratch, self._nodes) for f in self.schema]
        self._template: pa.Table | None = None
        self.rows = 0

    def add(self, window: pa.Table) -> None:
        """Append a window of rows (the next ones in ``id`` order)."""
        if window.num_rows == 0:
            return
        window = canonical(window).combine_chunks()
        if self._template is None:
            self._template = window.slice(0, 1)
        for node, column in zip(self._columns, window.columns, strict=True):
            for chunk in column.chunks:
                node.feed(chunk)
        self.rows += window.num_rows

    def finish(self, ids: pa.ChunkedArray | pa.Array, splits: Mapping[str, Mapping]) -> str:
        """The hash, given the group's ``id`` column (row order) and its split indices."""
        if self._template is None:
            raise ValueError("no rows to hash")
        digest = hashlib.sha256(_PREFIX)
        schema_message, metadata = self._messages()
        digest.update(schema_message)
        digest.update(metadata)
        for buffer in (b for node in self._nodes for b in node.buffers()):
            buffer.hash_into(digest)
        digest.update(_EOS)
        for config in sorted(splits):
            for split in sorted(splits[config]):
                chosen = pa.table({"id": ids.take(pa.array(splits[config][split])).sort()})
                digest.update(f"\n{config}/{split}\n".encode())
                digest.update(_ipc_bytes(chosen))
        for node in self._nodes:
            node.close()
        return "sha256:" + digest.hexdigest()

    def _messages(self) -> tuple[bytes, bytes]:
        """The schema message and the big batch's metadata, from Arrow's for one row."""
        assert self._template is not None
        stream = _ipc_bytes(self._template)
        schema_end = _message_end(stream, 0)
        header_end = schema_end + 8 + struct.unpack_from("<i", stream, schema_end + 4)[0]
        message = bytearray(stream[schema_end:header_end])
        lengths: list[tuple[int, int]] = []
        positions: list[tuple[int, int]] = []
        offset = 0
        for buffer in (b for node in self._nodes for b in node.buffers()):
            positions.append((offset, buffer.size))
            offset += buffer.size + (-buffer.size % 8)
        lengths = [(node.length, node.nulls) for node in self._nodes]
        _patch_record_batch(message, self.rows, lengths, positions, offset)
        return stream[:schema_end], bytes(message)


def canonical(table: pa.Table) -> pa.Table:
    """Drop what Parquet round trips change but data does not: metadata, list child names."""
    schema = pa.schema([pa.field(f.name, canonical_type(f.type)) for f in table.schema])
    return table.replace_schema_metadata(None).cast(schema)


def canonical_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(canonical_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, canonical_type(f.type)) for f in t])
    return t


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue()


class _Buffer:
    """One buffer of the big batch, grown window by window in a scratch file."""

    def __init__(self, path: Path, bits: bool) -> None:
        self.path = path
        self.bits = bits
        self.size = 0
        self._file = open(path, "w+b")  # noqa: SIM115 - closed by close()
        self._carry = np.zeros(0, dtype=np.uint8)  # bits not yet a whole byte
        self.dropped = False  # a validity buffer of a column without nulls is not written

    def write(self, data: memoryview | np.ndarray) -> None:
        view = memoryview(data).cast("B")
        self._file.write(view)
        self.size += len(view)

    def write_bits(self, bits: np.ndarray) -> None:
        """Append 0/1 values (uint8), packed least significant bit first."""
        bits = np.concatenate([self._carry, bits]) if len(self._carry) else bits
        whole = len(bits) - len(bits) % 8
        if whole:
            self.write(np.packbits(bits[:whole], bitorder="little"))
        self._carry = bits[whole:].copy()

    def finish_bits(self) -> None:
        if len(self._carry):
            self.write(np.packbits(self._carry, bitorder="little"))
            self._carry = np.zeros(0, dtype=np.uint8)

    def hash_into(self, digest: hashlib._Hash) -> None:
        if self.dropped:
            return
        self._file.flush()
        self._file.seek(0)
        for block in iter(lambda: self._file.read(_BLOCK), b""):
            digest.update(block)
        digest.update(b"\x00" * (-self.size % 8))

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class _Node:
    """One array of the batch (a column or a child of one) and the buffers it writes."""

    def __init__(self, type_: pa.DataType, scratch: Path, index: int) -> None:
        self.type = type_
        self.length = 0
        self.nulls = 0
        self.children: list[_Node] = []
        self._offset_base = 0
        stem = scratch / f"buffer-{index:04d}"
        self.validity = _Buffer(stem.with_suffix(".validity"), bits=True)
        self.offsets: _Buffer | None = None
        self.values: _Buffer | None = None
        if pa.types.is_boolean(type_):
            self.values = _Buffer(stem.with_suffix(".values"), bits=True)
        elif pa.types.is_string(type_) or pa.types.is_binary(type_):
            self.offsets = _Buffer(stem.with_suffix(".offsets"), bits=False)
            self.values = _Buffer(stem.with_suffix(".values"), bits=False)
        elif pa.types.is_list(type_):
            self.offsets = _Buffer(stem.with_suffix(".offsets"), bits=False)
        elif pa.types.is_struct(type_):
            pass
        elif pa.types.is_integer(type_) or pa.types.is_floating(type_):
            self.values = _Buffer(stem.with_suffix(".values"), bits=False)
        else:
            raise TypeError(f"content hash: unsupported column type {type_}")

    @classmethod
    def tree(cls, type_: pa.DataType, scratch: Path, nodes: list[_Node]) -> _Node:
        """This node and its children, appended to ``nodes`` in Arrow's (pre-)order."""
        node = cls(type_, scratch, len(nodes))
        nodes.append(node)
        if pa.types.is_list(type_):
            node.children = [cls.tree(type_.value_type, scratch, nodes)]
        elif pa.types.is_struct(type_):
            node.children = [cls.tree(f.type, scratch, nodes) for f in type_]
        return node

    def feed(self, array: pa.Array) -> None:
        n = len(array)
        self.length += n
        self.nulls += array.null_count
        raw = array.buffers()
        self.validity.write_bits(_bits(raw[0], array.offset, n))
        if pa.types.is_boolean(self.type):
            assert self.values is not None
            self.values.write_bits(_bits(raw[1], array.offset, n))
        elif pa.types.is_string(self.type) or pa.types.is_binary(self.type):
            offsets = self._write_offsets(raw[1], array.offset, n)
            assert self.values is not None
            if raw[2] is not None and offsets[-1] > offsets[0]:
                self.values.write(memoryview(raw[2])[offsets[0] : offsets[-1]])
        elif pa.types.is_list(self.type):
            offsets = self._write_offsets(raw[1], array.offset, n)
            values = array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
            self.children[0].feed(values)
        elif pa.types.is_struct(self.type):
            for i, child in enumerate(self.children):
                child.feed(array.field(i))
        else:
            width = self.type.bit_width // 8
            assert self.values is not None
            self.values.write(memoryview(raw[1])[array.offset * width : (array.offset + n) * width])

    def _write_offsets(self, buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
        offsets = np.frombuffer(buffer, dtype=np.int32)[offset : offset + n + 1]
        rebased = offsets[1:] - offsets[0] + self._offset_base
        assert self.offsets is not None
        if self.offsets.size == 0:
            self.offsets.write(np.zeros(1, dtype=np.int32))
        self.offsets.write(rebased.astype(np.int32))
        self._offset_base = int(rebased[-1]) if n else self._offset_base
        return offsets

    def buffers(self) -> list[_Buffer]:
        """This node's buffers as the IPC body lays them out (children follow separately)."""
        self.validity.finish_bits()
        self.validity.dropped = self.nulls == 0
        if self.validity.dropped:
            self.validity.size = 0
        out = [self.validity]
        if self.values is not None and self.values.bits:
            self.values.finish_bits()
        out += [b for b in (self.offsets, self.values) if b is not None]
        return out

    def close(self) -> None:
        for buffer in (self.validity, self.offsets, self.values):
            if buffer is not None:
                buffer.close()


def _bits(buffer: pa.Buffer | None, offset: int, n: int) -> np.ndarray:
    """``n`` bits of an Arrow bitmap from bit ``offset`` (all ones when there is none)."""
    if buffer is None:
        return np.ones(n, dtype=np.uint8)
    start, stop = offset // 8, -(-(offset + n) // 8)
    raw = np.frombuffer(buffer, dtype=np.uint8)[start:stop]
    return np.unpackbits(raw, bitorder="little")[offset % 8 : offset % 8 + n]


def _message_end(stream: bytes, start: int) -> int:
    """End of the encapsulated IPC message (with its body) that begins at ``start``."""
    size = struct.unpack_from("<i", stream, start + 4)[0]
    flat = start + 8
    fields = _fields(stream, struct.unpack_from("<I", stream, flat)[0] + flat)
    body = struct.unpack_from("<q", stream, fields[3])[0] if fields[3] else 0
    return flat + size + body


def _fields(buf: bytes | bytearray, pos: int) -> list[int]:
    """Each field's absolute position in the flatbuffer table at ``pos`` (0: absent)."""
    vtable = pos - struct.unpack_from("<i", buf, pos)[0]
    size = struct.unpack_from("<H", buf, vtable)[0]
    offsets = struct.unpack_from(f"<{(size - 4) // 2}H", buf, vtable + 4)
    return [pos + o if o else 0 for o in offsets] + [0] * 8


def _patch_record_batch(
    message: bytearray,
    rows: int,
    nodes: list[tuple[int, int]],
    buffers: list[tuple[int, int]],
    body_length: int,
) -> None:
    """Put the big batch's numbers into a one-row batch's Message (same flatbuffer layout)."""
    flat = 8
    fields = _fields(message, flat + struct.unpack_from("<I", message, flat)[0])
    header = fields[2] + struct.unpack_from("<I", message, fields[2])[0]
    struct.pack_into("<q", message, fields[3], body_length)
    batch = _fields(message, header)
    struct.pack_into("<q", message, batch[0], rows)
    for field, values in ((batch[1], nodes), (batch[2], buffers)):
        vector = field + struct.unpack_from("<I", message, field)[0]
        count = struct.unpack_from("<I", message, vector)[0]
        if count != len(values):
            raise ValueError(f"content hash: {count} IPC entries, expected {len(values)}")
        struct.pack_into(f"<{2 * count}q", message, vector + 4, *(v for p in values for v in p))
