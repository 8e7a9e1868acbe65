"""Docker's attach and logs streams: frames in, text out (pure, no I/O).

Without a TTY the Engine multiplexes stdout and stderr into frames: one byte
for the stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, a big-endian
32-bit length, then that many bytes. With a TTY the stream is the raw bytes.
The API before 1.42 labels both ``application/vnd.docker.raw-stream``, so
:class:`StreamDecoder` tells them apart by the first eight bytes, which a
frame header always matches and printable output practically never does.
"""

from __future__ import annotations

import codecs
import struct

__all__ = ["StreamDecoder"]

_HEADER = struct.Struct(">BxxxL")


class StreamDecoder:
    """Turns chunks of an attach or logs stream into text (stdout and stderr alike)."""

    def __init__(self, *, multiplexed: bool | None = None) -> None:
        #: None until the first eight bytes tell
        self.multiplexed = multiplexed
        self._buffer = b""
        self._need = 0  # payload bytes still to come of the current frame
        self._text = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> str:
        """The text in ``data`` (frames may span chunks)."""
        if self.multiplexed is None:
            self._buffer += data
            if len(self._buffer) < _HEADER.size:
                return ""
            head = self._buffer[: _HEADER.size]
            self.multiplexed = head[0] in (0, 1, 2) and head[1:4] == b"\0\0\0"
            data, self._buffer = self._buffer, b""
        if not self.multiplexed:
            return self._text.decode(data)
        out: list[str] = []
        self._buffer += data
        while self._buffer:
            if self._need:
                payload = self._buffer[: self._need]
                self._buffer = self._buffer[len(payload) :]
                self._need -= len(payload)
                out.append(self._text.decode(payload))
                continue
            if len(self._buffer) < _HEADER.size:
                break
            _stream, self._need = _HEADER.unpack(self._buffer[: _HEADER.size])
            self._buffer = self._buffer[_HEADER.size :]
        return "".join(out)

    def close(self) -> str:
        """Whatever is left (a short stream that never filled a header is raw text)."""
        rest = ""
        if self.multiplexed is None and self._buffer:
            rest = self._text.decode(self._buffer)
            self._buffer = b""
        return rest + self._text.decode(b"", final=True)
