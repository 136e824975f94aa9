"""Encoder ``h264``: libx264 through PyAV into fragmented MP4.

Fragmented MP4 keeps every completed fragment decodable if the process dies,
and fragments are cut by duration (on any frame), so the crash-loss bound
does not depend on the keyframe interval. A sealed or recovered part is
finished into a regular MP4 (see finish.py) so that every player seeks it
right and knows its duration.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path

import attrs
import av
from av.video.reformatter import ColorRange, Colorspace
from recorder import PartStats, VideoFormat, hookimpl, option, platform
from recorder.plugins.h264 import hints, tags
from recorder.plugins.h264.finish import finish, finished_stats
from recorder.plugins.h264.fmp4 import samples, scan

TIME_BASE = Fraction(1, 1000)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
TUNES = ("", "film", "animation", "grain", "stillimage", "fastdecode", "zerolatency")


@attrs.frozen
class H264Options:
    preset: str = option("veryfast", "libx264 preset: speed against file size.",
                         validator=attrs.validators.in_(PRESETS))
    crf: int = option(23, "Constant rate factor, 0 (lossless) to 51; lower is better quality.",
                      validator=[attrs.validators.ge(0), attrs.validators.le(51)])
    keyframe_interval: float = option(10.0, "Seconds between keyframes (seek granularity).",
                                      validator=[attrs.validators.gt(0), attrs.validators.le(3600)])
    tune: str = option("", "libx264 tune (e.g. stillimage); empty for none.",
                       validator=attrs.validators.in_(TUNES))
    fragment_seconds: float = option(0.5, "Seconds per MP4 fragment; with lookahead, bounds what a crash loses.",
                                     validator=[attrs.validators.gt(0), attrs.validators.le(60)])
    lookahead: float = option(0.3, "Seconds of frames libx264 may hold back for rate control; "
                                   "frames held back are lost in a crash.", validator=[attrs.validators.ge(0), attrs.validators.le(10)])
    hints: bool = option(True, "Tell libx264 which macroblocks did not change (from the source's change "
                               "tracking), so that it skips analysing them; false analyses every macroblock.")
    threads: int = option(0, "Encoder threads; 0 chooses one thread (the least CPU in all) where it keeps "
                             "up easily (up to 1080p30 with veryfast), libx264's own choice above.",
                          validator=[attrs.validators.ge(0), attrs.validators.le(256)])


class H264PartWriter:
    def __init__(self, path: Path, fmt: VideoFormat, fps: float, options: H264Options, stream=None):
        self.fmt = fmt
        self.path = Path(path)
        # Finishing writes through a descriptor of our own: it still reaches the file
        # if the session's folder is deleted meanwhile (core then copies the file out).
        # Into a stream (an encrypted part) the part stays fragmented: finishing rewrites
        # its start, which a stream cannot (a key holder's reader finishes it instead).
        self.fd = platform.open_binary(path, os.O_RDWR | os.O_CREAT) if stream is None else None
        self.container = av.open(str(path) if stream is None else stream, "w", format="mp4", options={
            # No mfra (skip_trailer): the part is finished with a full moov instead.
            "movflags": "empty_moov+default_base_moof+skip_trailer",
            "frag_duration": str(int(options.fragment_seconds * 1_000_000)),
            "flush_packets": "1",
        })
        stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width = fmt.width - fmt.width % 2  # yuv420p needs even dimensions
        stream.height = fmt.height - fmt.height % 2
        stream.pix_fmt = "yuv420p"
        for name, value in COLOUR.items():
            setattr(stream.codec_context, name, value)
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.gop_size = max(1, round(options.keyframe_interval * fps))  # upper bound
        # No B-frames: without an edit list (impossible with an empty moov) they
        # would shift the part's first frame off zero, and they delay output.
        stream.codec_context.max_b_frames = 0
        # Frames held back are lost in a crash and each costs a picture of memory.
        frames_ahead = min(round(options.lookahead * fps), PRESET_LOOKAHEAD[options.preset])
        # chromaloc=1: convert_rows averages each pair of pixels into a chroma sample, which
        # sits between them, not on the left one as H.264 assumes unless told (mpv follows it).
        x264 = {"crf": str(options.crf), "preset": options.preset,
                "x264-params": f"rc-lookahead={frames_ahead}:sync-lookahead={min(frames_ahead, 2)}:chromaloc=1"}
        if options.tune:
            x264["tune"] = options.tune
        if options.hints and hints.available():
            x264["mb_info"] = "1"  # libx264 reads the macroblock hints each picture carries
        stream.options = x264
        stream.thread_count = options.threads or encoder_threads(fmt, fps, options.preset)
        self.stream = stream
        self.picture: av.VideoFrame | None = None  # yuv420p, updated where the screen changed
        self.band: av.VideoFrame | None = None  # bgra, the last changed rows converted
        self.hints: hints.Hints | None = None  # what changed, told to libx264 with the picture
        self.use_hints = "mb_info" in x264
        self.frames = 0
        self.bytes_written = 0  # encoded bytes, including what the muxer has not flushed yet
        self.packets = 0
        self.mux_failed = False
        self.origin: float | None = None
        self.next_key: int | None = None
        self.key_ms = round(options.keyframe_interval * 1000)
        self.last_pts = -1
        self.fps = fps
        self.chapters: list = []  # written when the part is finished (finish.py)
        tags.wait_for_tags(self)

    takes_changed_rows = True
    takes_changed_rects = True

    def set_chapters(self, chapters: list) -> None:
        """The part's chapters (``recorder.Chapter``), given by core just before ``close``. A part
        written into a stream (encrypted) is never finished here: its chapters are in exports."""
        self.chapters = list(chapters)

    def set_tags(self, values: dict[str, str]) -> None:
        """Container tags; only before the first frame (they are written with the header)."""
        self.container.metadata.update(values)

    def write(self, frame, pts: float, changed: list[tuple[int, int]] | None = None,
              rects: list[tuple[int, int, int, int]] | None = None) -> None:
        """``changed``: the row ranges of ``frame`` that differ from the previous
        frame written (None: treat everything as changed); ``rects``: within
        them, the rectangles that did, where the source knows (None: whole rows)."""
        self._update(frame, changed)
        video = self.picture
        if self.origin is None:
            self.origin = pts  # each part's own timeline starts at 0
            tags.forget(self)
        ticks = max(round((pts - self.origin) * 1000), self.last_pts + 1)  # must strictly increase
        video.pts = ticks
        video.time_base = TIME_BASE
        # Keyframes by time, not frame count: with unchanged frames skipped, a
        # frame count would stretch the seek interval on a still screen.
        if self.next_key is None or ticks >= self.next_key:
            video.pict_type = av.video.frame.PictureType.I
            self.next_key = ticks + self.key_ms
            changed = None
        else:
            video.pict_type = av.video.frame.PictureType.NONE  # the frame object is reused
        self._hint(changed, rects)
        self.last_pts = ticks
        self._mux(self.stream.encode(video))
        self.frames += 1

    def _hint(self, changed, rects) -> None:
        if self.hints is None:
            return
        if changed is None:
            self.hints.clear()
        elif rects is not None:
            self.hints.set(rects)
        else:
            self.hints.set([(0, top, self.picture.width, bottom - top) for top, bottom in changed])

    def _mux(self, packets) -> None:
        for packet in packets:
            self.bytes_written += packet.size
            self.packets += 1
        try:
            self.container.mux(packets)
        except BaseException:
            # The output refused a write (a full disk, a failed encryption stream): FFmpeg's
            # I/O context is left in error, and muxing into it again faults in libavformat.
            self.mux_failed = True
            raise

    def projected_bytes(self) -> int:
        """The part's size if it were closed after one more frame: libx264 holds
        frames back for lookahead, and they come out when the part is closed;
        then finishing appends the index."""
        if not self.packets:
            return 0
        in_flight = self.frames - self.packets + 1
        media = (self.bytes_written + in_flight * self.bytes_written / self.packets) * 1.02
        return int(media) + INDEX_BASE + INDEX_PER_FRAME * (self.frames + 1)

    def _update(self, frame, changed) -> None:
        # Colour conversion costs as much as encoding: convert only the rows that
        # changed, into the same yuv420p picture (libx264 copies each picture it
        # is given, so reusing it is safe).
        height = self.stream.height
        if changed is None or self.picture is None:
            if self.picture is None:
                self.picture = av.VideoFrame(self.stream.width, height, "yuv420p")
                if self.use_hints:
                    self.hints = hints.Hints.attach(self.picture)
            changed = [(0, height)]
        for top, bottom in changed:
            # Chroma is filtered across neighbouring rows: a change reaches one
            # chroma row (two picture rows) beyond its edges.
            top, bottom = max(0, top - top % 2 - REACH), min(height, bottom + bottom % 2 + REACH)
            for start in range(top, bottom, STRIPE):  # stripes: a 4K frame needs no 33 MB copy
                self._convert(frame, start, min(bottom, start + STRIPE))

    def _convert(self, frame, top: int, bottom: int) -> None:
        # Converted with a margin of at least MARGIN rows each side (or the
        # frame's edge), so that chroma filtered across the band's edges comes
        # out as it would in a whole-frame conversion. The window is shifted
        # rather than cut at the frame's edges, so that stripes and a window
        # that keeps its size all reuse one bgra frame.
        height = self.stream.height
        size = min(height, -(-(bottom - top + 2 * MARGIN) // MARGIN) * MARGIN)
        lo = min(max(0, top - MARGIN), height - size)
        hi = lo + size
        if self.band is None or self.band.height != size:
            self.band = av.VideoFrame(self.stream.width, size, "bgra")
        copy_rows(convert_rows(frame, self.fmt, self.stream.width, lo, hi, self.band), lo, self.picture, top, bottom)

    def close(self) -> PartStats:
        tags.forget(self)
        try:
            try:
                if self.mux_failed:
                    raise OSError("the part's output failed earlier: nothing more is written to it")
                self._mux(self.stream.encode(None))
            except BaseException:
                # FFmpeg's own handle on the file is closed even when the last write failed
                # (a full disk): Windows renames no open file, and the part could not be sealed.
                with contextlib.suppress(Exception):
                    self.container.close()
                raise
            self.container.close()
            if self.origin is None:
                return PartStats(frames=0, duration=0.0)
            if self.fd is None:  # written into a stream: what was muxed, each frame lasting to the next
                return PartStats(frames=self.packets, duration=(self.last_pts + 1000 / self.fps) / 1000)
            table = finish(self.fd, scan(self.fd), self.chapters)
        finally:
            if self.fd is not None:
                os.close(self.fd)
        return PartStats(frames=table.frames, duration=table.duration / table.timescale)


# What finishing appends, at most: the header's moov again (tags included), then
# per frame its size and duration, and per fragment (one frame at the least) its
# offset and frame count (stsz 4, stts 8, stco 4 + stsc 12 bytes).
INDEX_BASE = 4096
INDEX_PER_FRAME = 28

# libx264's CPU per pixel by preset, relative to ultrafast (measured on
# full-screen 1080p testsrc2: ultrafast 6.0 ms a frame on one thread,
# veryfast 13.5 ms), and how much one thread is given: 2.5x ultrafast at
# 1080p30, about 45% of a core here, so that a slower laptop still keeps up.
PRESET_COST = {"ultrafast": 1, "superfast": 1.4, "veryfast": 2.25, "faster": 3.5, "fast": 4.5, "medium": 6,
               "slow": 10, "slower": 20, "veryslow": 40}
PRESET_LOOKAHEAD = {"ultrafast": 0, "superfast": 0, "veryfast": 10, "faster": 20, "fast": 30, "medium": 40,
                    "slow": 50, "slower": 60, "veryslow": 60}  # libx264's own rc-lookahead
ONE_THREAD_BUDGET = 1920 * 1080 * 30 * 2.5


def encoder_threads(fmt: VideoFormat, fps: float, preset: str) -> int:
    # libx264's frame threads cost about 15% more CPU in all (measured at
    # 1080p30 ultrafast), which matters more here than latency.
    return 1 if fmt.width * fmt.height * fps * PRESET_COST[preset] <= ONE_THREAD_BUDGET else 0


# What the stream says about its colours (AVCOL_* values; libx264 writes them
# in the VUI, the muxer in a colr box), matching what convert_rows does.
# Untagged, players guess, and differently (ffmpeg BT.601; Chromium and mpv
# BT.709 at HD sizes). The matrix is BT.601 (SMPTE 170M) rather than BT.709
# because VLC 3 converts in software (snapshots, filters, non-GL outputs) with
# BT.601 whatever the tag says, and every other player follows the tag.
# Primaries BT.709: those of an sRGB screen, so that colour-managed players
# convert nothing. Transfer BT.709, not sRGB: mpv converts an sRGB-tagged
# transfer to its output's and shifts colours by ~10 levels. Limited range:
# some decoders and browser paths still ignore the full-range flag.
COLOUR = {"colorspace": 6, "color_range": 1, "color_primaries": 1, "color_trc": 1}
MARGIN = 16  # rows; a multiple of 2 so that chroma rows line up
REACH = 2  # rows
STRIPE = 512  # rows converted at a time


def convert_rows(frame, fmt: VideoFormat, width: int, top: int, bottom: int,
                 band: av.VideoFrame | None = None) -> av.VideoFrame:
    """Rows ``top:bottom`` of a bgra frame, cropped to ``width``, as yuv420p;
    ``band``, a bgra frame of that size, is reused if given."""
    band = band or av.VideoFrame(width, bottom - top, "bgra")
    plane, row = band.planes[0], fmt.width * 4
    data = memoryview(frame)[top * row:bottom * row]
    if plane.line_size == row:
        plane.update(data)
    else:  # padded rows, or an odd width cropped to an even one
        view, stride, used = memoryview(plane), plane.line_size, width * 4
        for y in range(bottom - top):
            view[y * stride:y * stride + used] = data[y * row:y * row + used]
    return band.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG,
                         threads=1)


def copy_rows(band: av.VideoFrame, band_top: int, picture: av.VideoFrame, top: int, bottom: int) -> None:
    """Copy picture rows ``top:bottom`` (even) from ``band``, which starts at row ``band_top``."""
    for index, (source, target) in enumerate(zip(band.planes, picture.planes)):
        scale = 1 if index == 0 else 2  # chroma has half the rows
        first, last, offset = top // scale, bottom // scale, band_top // scale
        src, dst = memoryview(source), memoryview(target)
        if source.line_size == target.line_size:
            size = source.line_size
            dst[first * size:last * size] = src[(first - offset) * size:(last - offset) * size]
        else:
            used = min(source.line_size, target.line_size)
            for y in range(first, last):
                s = (y - offset) * source.line_size
                dst[y * target.line_size:y * target.line_size + used] = src[s:s + used]


class H264Encoder:
    extension = ".mp4"
    writes_to_stream = True  # open_part(..., stream=) writes the part into a write-only stream

    def __init__(self, options: H264Options):
        self.options = options

    def open_part(self, path: Path, fmt: VideoFormat, fps: float, stream=None) -> H264PartWriter:
        return H264PartWriter(path, fmt, fps, self.options, stream)

    def repair(self, path: Path, fps: float) -> PartStats | None:
        return self.repair_with_chapters(path, fps, [])

    def repair_with_chapters(self, path: Path, fps: float, chapters: list) -> PartStats | None:
        """Keep a broken part up to its last complete fragment (after a crash or a
        full disk) and finish it with its ``chapters``, as sealing would have."""
        fd = platform.open_binary(path, os.O_RDWR)
        try:
            layout = scan(fd)
            if layout.finished:  # finished before the crash: only its rename was lost
                return PartStats(*finished_stats(fd, layout))
            os.ftruncate(fd, layout.end)
            platform.fsync(fd)
            if not layout.moofs:
                return None
            try:
                table = finish(fd, layout, chapters)
            except OSError:  # no room for the index (a full disk): the fragmented part still plays
                table = samples(fd, layout)
            return PartStats(table.frames, table.duration / table.timescale)
        finally:
            os.close(fd)


@hookimpl
def recorder_part_opened(session, part):
    tags.tag_part(session, part)


@hookimpl
def recorder_register_encoders(register):
    register("h264", H264Encoder, options=H264Options, description="H.264 (libx264) in fragmented MP4")
