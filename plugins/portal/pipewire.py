"""Frames of a PipeWire node, read with GStreamer's ``pipewiresrc`` through PyGObject.

``pipewiresrc fd=FD path=NODE ! videoconvert ! BGRx ! appsink``: the appsink
keeps only the newest buffer, so a slow grab never queues stale pictures. A
wlroots portal sends a buffer only when the screen changed (screencopy with
damage), so "no new buffer since the last grab" means "nothing changed" and
costs nothing. pipewiresrc does not pass PipeWire's damage regions
(SPA_META_VideoDamage) on as GStreamer metadata: the rows that changed are
found by comparing the new picture with the last one (see ``rows.py``).
"""

from __future__ import annotations

import threading
import time

INSTALL = ("the portal source needs PyGObject and GStreamer's PipeWire plugin: "
           "pip install 'recorder[wayland]' and apt-get install gstreamer1.0-pipewire "
           "gstreamer1.0-plugins-base gir1.2-gstreamer-1.0")
FIRST_FRAME_TIMEOUT = 10.0  # seconds for the stream to be negotiated
FIRST_PICTURE_WAIT = 1.0  # seconds to wait for a first picture before recording starts without it


class Missing(Exception):
    """PyGObject or a GStreamer element is not installed."""


class Ended(Exception):
    """The stream ended or failed (the compositor or the portal went away)."""


def _gst():
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:
        raise Missing(f"{INSTALL} ({exc})") from None
    Gst.init(None)
    for element in ("pipewiresrc", "videoconvert", "appsink"):
        if Gst.ElementFactory.find(element) is None:
            raise Missing(f"{INSTALL} (GStreamer has no {element})")
    return Gst


class PipeWireFrames:
    """The newest picture of one node as BGRx rows; ``ended`` is set when the stream is gone."""

    def __init__(self, fd: int, node: int):
        self.Gst = Gst = _gst()
        self.pipeline = Gst.parse_launch(
            f"pipewiresrc name=src fd={fd} path={node} "
            "! videoconvert ! video/x-raw,format=BGRx "
            "! appsink name=sink max-buffers=1 drop=true sync=false enable-last-sample=false")
        self.sink = self.pipeline.get_by_name("sink")
        self.ended = threading.Event()
        self.why = ""
        self.width = self.height = 0
        self.buffers = 0  # buffers taken from PipeWire (each is a picture the compositor sent)
        self.pipeline.set_state(Gst.State.PLAYING)

    def ready(self, timeout: float = FIRST_FRAME_TIMEOUT, wait_picture: float = FIRST_PICTURE_WAIT) -> bytes | None:
        """Wait until the stream is negotiated (its caps give the size) and return the first
        picture, or None if the compositor sends none within ``wait_picture`` seconds: a
        wlroots compositor sends a picture only when something was drawn since its last
        copy for the portal, so a still screen may send none until it changes."""
        Gst = self.Gst
        pad = self.sink.get_static_pad("sink")
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < timeout:
            sample = self.sink.emit("try-pull-sample", Gst.SECOND // 10)
            if sample is not None:
                self._size(sample.get_caps())
                return self._bytes(sample)
            self.poll()
            if self.ended.is_set():
                raise Ended(self.why)
            caps = pad.get_current_caps()
            if caps is not None and elapsed >= wait_picture:
                self._size(caps)
                return None
        raise Ended(f"no stream from PipeWire within {timeout:.0f} s")

    def _size(self, caps) -> None:
        structure = caps.get_structure(0)
        self.width, self.height = structure.get_value("width"), structure.get_value("height")

    def newest(self) -> bytes | None:
        """The picture sent since the last call, or None when the compositor sent none."""
        sample = self.sink.emit("try-pull-sample", 0)
        if sample is None:
            self.poll()
            return None
        caps = sample.get_caps().get_structure(0)
        if (caps.get_value("width"), caps.get_value("height")) != (self.width, self.height):
            raise Ended(f"the screen changed size to {caps.get_value('width')}x{caps.get_value('height')}")
        return self._bytes(sample)

    def _bytes(self, sample) -> bytes:
        self.buffers += 1
        buffer = sample.get_buffer()
        data = buffer.extract_dup(0, buffer.get_size())
        row = self.width * 4
        stride = len(data) // self.height if self.height else row
        if stride != row:  # padded rows: keep the picture only
            data = b"".join(data[y * stride:y * stride + row] for y in range(self.height))
        return data

    def poll(self) -> None:
        """Note an error or end of stream posted on the pipeline's bus."""
        Gst = self.Gst
        bus = self.pipeline.get_bus()
        while (msg := bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.EOS)) is not None:
            if msg.type == Gst.MessageType.ERROR:
                self.why = self.why or f"PipeWire stream failed: {msg.parse_error()[0].message}"
            else:
                self.why = self.why or "the PipeWire stream ended"
            self.ended.set()

    def close(self) -> None:
        self.pipeline.set_state(self.Gst.State.NULL)
