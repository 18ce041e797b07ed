"""Decompress Spark event-log files by their codec suffix, as a stream of byte chunks.

Spark names a compressed event log after its codec's short name (`.zstd`, `.lz4`, `.snappy`,
`.lzf`) and may add `.inprogress`. Each codec writes its library's *stream* format, not the
format a command-line tool would expect: zstd-jni writes ordinary zstd frames (several, as the
log is flushed); lz4-java's `LZ4BlockOutputStream` writes "LZ4Block" blocks (magic, token,
little-endian compressed/original lengths, xxhash32 checksum, payload; a zero-length block ends a
stream and streams may be concatenated); snappy-java's `SnappyOutputStream` writes a 16-byte
header (0x82 "SNAPPY" 0x00, version, compatible version) and then big-endian length-prefixed raw
snappy chunks, and a concatenated stream repeats the header; ning compress-lzf's `LZFOutputStream`
(Spark's `LZFCompressionCodec`) writes chunks of "ZV", a type byte (0: stored, 1: LZF-compressed)
and big-endian 16-bit lengths (stored: the length; compressed: compressed then original length),
the raw LZF block decoded by python-lzf. A log still being written can end
in a cut-off block: with `tolerate_truncation` the stream simply stops at the last whole block.
Otherwise a stream that ends inside a block or frame (or, for lz4, without the end-of-stream block
lz4-java writes on close) is cut off, an error. Only the decoder libraries' own errors on corrupt
data become "corrupt" refusals, raised where each library is called; anything else (a bug of this
tool) is left to surface as what it is.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO, Iterator

import cramjam
import lz4.block
import lzf
import zstandard

from sparkdelay.ground.errors import UserError

CHUNK = 1 << 16
CODECS = ("zstd", "lz4", "snappy", "lzf")
# Spark 1.x named a log folder's codec by class (COMPRESSION_CODEC_<name>); either form is Spark's.
CODEC_CLASSES = {f"org.apache.spark.io.{cls}CompressionCodec": short
                 for cls, short in (("LZ4", "lz4"), ("LZF", "lzf"), ("Snappy", "snappy"), ("ZStd", "zstd"))}
BY_NAME = object()   # iter_chunks(codec=BY_NAME): the codec the file's name implies

_LZ4_MAGIC = b"LZ4Block"
_LZ4_HEADER = struct.Struct("<8sBiii")  # magic, token, compressed len, original len, checksum
_LZ4_RAW, _LZ4_COMPRESSED = 0x10, 0x20
_SNAPPY_MAGIC = b"\x82SNAPPY\x00"
_SNAPPY_HEADER_LEN = 16
_LZF_MAGIC = b"ZV"
_LZF_STORED, _LZF_COMPRESSED = 0, 1


class _Truncated(Exception):
    """The compressed stream ends inside a block."""


def codec_of(path: str | Path) -> str | None:
    """The codec short name implied by a log file's name, or None for an uncompressed log."""
    name = Path(path).name
    if name.endswith(".inprogress"):
        name = name[: -len(".inprogress")]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    if suffix in CODECS:
        return suffix
    return None


def codec_named(name: str, where: str) -> str:
    """A Spark codec name (short, or a CompressionCodec class as Spark 1.x wrote) -> short name."""
    short = CODEC_CLASSES.get(name, name)
    if short not in CODECS:
        raise UserError(f"{where}: unknown compression codec {name!r} (Spark writes {', '.join(CODECS)})")
    return short


def iter_chunks(path: str | Path, tolerate_truncation: bool = False, codec=BY_NAME) -> Iterator[bytes]:
    """Yield the decompressed bytes of one log file, in order (`codec`: a short name or None
    to override the name's, for Spark 1.x log folders whose files carry no suffix)."""
    if codec is BY_NAME:
        codec = codec_of(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise UserError(f"{path}: cannot read event log ({exc.strerror})") from None
    with f:
        reader = {None: _plain, "zstd": _zstd, "lz4": _lz4, "snappy": _snappy, "lzf": _lzf}[codec]
        try:
            yield from reader(f)
        except _Truncated as exc:
            # A running application's log may end mid-block (the rest is not written yet); a
            # finished one may not: the bytes after the cut are lost, so the log would be silently short.
            if not tolerate_truncation:
                raise UserError(f"{path}: {codec} stream is cut off ({exc})") from None


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise _Truncated(f"needed {n} bytes, found {len(data)}")
    return data


def _plain(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _zstd(f: BinaryIO) -> Iterator[bytes]:
    # Spark flushes the zstd stream at every flush of the log, so a file holds many frames;
    # one decompressobj per frame lets a frame cut off at the end of the file be noticed.
    dctx = zstandard.ZstdDecompressor()
    dobj, in_frame = dctx.decompressobj(), False
    while chunk := f.read(CHUNK):
        while chunk:
            try:
                out = dobj.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise UserError(f"{f.name}: corrupt zstd data ({exc})") from None
            in_frame = True
            if out:
                yield out
            if not dobj.eof:
                break
            chunk, dobj, in_frame = dobj.unused_data, dctx.decompressobj(), False
    if in_frame:
        raise _Truncated("last zstd frame is incomplete")


def _lz4(f: BinaryIO) -> Iterator[bytes]:
    ended = True   # an empty file holds no stream; after a block, only an end block closes the stream
    while True:
        at = f.tell()
        head = f.read(_LZ4_HEADER.size)
        if not head:
            if not ended:
                raise _Truncated("no end-of-stream block after the last LZ4Block")
            return
        if len(head) < _LZ4_HEADER.size:
            raise _Truncated("partial LZ4Block header")
        magic, token, clen, olen, _checksum = _LZ4_HEADER.unpack(head)
        if magic != _LZ4_MAGIC:
            raise UserError(f"{f.name}: not an lz4-java block stream (bad magic at byte {at})")
        method = token & 0xF0
        # lz4-java's block size is 2^(10 + the token's low bits); no block holds more, and a
        # compressed payload is never larger than LZ4's bound for its content.
        block = 1 << (10 + (token & 0x0F))
        bound = olen + olen // 255 + 16
        if (method not in (_LZ4_RAW, _LZ4_COMPRESSED) or not 0 <= olen <= block or clen < 0
                or (method == _LZ4_RAW and clen != olen) or clen > bound):
            raise UserError(f"{f.name}: corrupt LZ4Block header at byte {at}")
        if olen == 0:
            ended = True   # end-of-stream marker; another stream may follow
            continue
        ended = False
        payload = _read_exact(f, clen)
        # The xxhash32 checksum is not verified: the JSON parse that follows catches corruption.
        if method == _LZ4_RAW:
            yield payload
            continue
        try:
            out = lz4.block.decompress(payload, uncompressed_size=olen)
        except lz4.block.LZ4BlockError as exc:
            raise UserError(f"{f.name}: corrupt LZ4Block at byte {at} ({exc})") from None
        if len(out) != olen:
            raise UserError(f"{f.name}: corrupt LZ4Block at byte {at} ({len(out)} bytes, header says {olen})")
        yield out


def _snappy(f: BinaryIO) -> Iterator[bytes]:
    header = f.read(_SNAPPY_HEADER_LEN)
    if len(header) < _SNAPPY_HEADER_LEN:
        if not header:
            return
        raise _Truncated("partial snappy-java header")
    if not header.startswith(_SNAPPY_MAGIC):
        raise UserError(f"{f.name}: not a snappy-java stream (missing SNAPPY magic header)")
    while True:
        size_bytes = f.read(4)
        if not size_bytes:
            return
        if len(size_bytes) < 4:
            raise _Truncated("partial chunk length")
        if size_bytes == _SNAPPY_MAGIC[:4]:
            _read_exact(f, _SNAPPY_HEADER_LEN - 4)  # a concatenated stream's header
            continue
        at = f.tell() - 4
        (size,) = struct.unpack(">i", size_bytes)
        if size < 0:
            raise UserError(f"{f.name}: corrupt snappy chunk length at byte {at}")
        chunk = _read_exact(f, size)
        try:
            out = bytes(cramjam.snappy.decompress_raw(chunk))
        except cramjam.DecompressionError as exc:
            raise UserError(f"{f.name}: corrupt snappy chunk at byte {at} ({exc})") from None
        yield out


def _lzf(f: BinaryIO) -> Iterator[bytes]:
    while True:
        at = f.tell()
        head = f.read(5)
        if not head:
            return
        if len(head) < 3:
            raise _Truncated("partial LZF chunk header")
        if head[:2] != _LZF_MAGIC:
            raise UserError(f"{f.name}: not an LZF stream (no ZV chunk header at byte {at})")
        kind = head[2]
        if kind == _LZF_STORED:
            if len(head) < 5:
                raise _Truncated("partial LZF chunk header")
            (size,) = struct.unpack(">H", head[3:5])
            yield _read_exact(f, size)
            continue
        if kind != _LZF_COMPRESSED:
            raise UserError(f"{f.name}: corrupt LZF chunk header at byte {at} (type {kind})")
        head += f.read(7 - len(head))
        if len(head) < 7:
            raise _Truncated("partial LZF chunk header")
        clen, olen = struct.unpack(">HH", head[3:7])
        payload = _read_exact(f, clen)
        try:
            out = lzf.decompress(payload, olen)
        except ValueError as exc:   # python-lzf's error for corrupt data
            raise UserError(f"{f.name}: corrupt LZF chunk at byte {at} ({exc})") from None
        if out is None or len(out) != olen:
            raise UserError(f"{f.name}: corrupt LZF chunk at byte {at} (does not decompress to the "
                            f"{olen} bytes its header says)")
        yield out


def decompress_bytes(path: str | Path) -> bytes:
    """The whole decompressed content of one file (small files and tests)."""
    out = io.BytesIO()
    for chunk in iter_chunks(path):
        out.write(chunk)
    return out.getvalue()
