"""Export a session to one file: the shared machinery behind every exporter.

Core owns what is the same for every format: the session's timeline, the
range (``--from``/``--to``), gaps (concatenated, or held as a still frame
with ``--keep-gaps``), scaling and frame rate, the progress callback, and
writing to a temporary name that is renamed only when the file is complete.
An exporter plugin only says how to encode.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import attrs
import av
import av.filter
from recorder import platform
from recorder.errors import UsageError
from recorder.disk.files import create_private_file, private_workdir
from recorder.disk.memory import memory_output, release
from recorder.playback.timeline import GAP_MIN, Segment, Timeline
from recorder.session import chapters

TIME_BASE = Fraction(1, 1000)
MAX_SIDE = 16384  # pixels: what the codecs take (and memory allows)


@attrs.frozen
class Protection:
    """How an export of protected parts is protected: ``write(source, target)`` writes the file
    ``source`` (in memory) protected into ``target`` (new); the output's name gets ``suffix``."""
    suffix: str
    write: Callable[[Path, Path], None]


@attrs.define
class ExportJob:
    timeline: Timeline
    output: Path  # where the exporter writes (a temporary name next to the final one)
    start: float = 0.0  # --from, on the session timeline
    stop: float | None = None  # --to
    scale: str = ""  # "1280x720", "1280" (width, keep aspect) or "0.5"
    fps: float | None = None
    keep_gaps: bool = False
    progress: Callable[[float], None] = lambda seconds: None
    # (time in the output, title): the session's marks, pauses, gaps (export_session sets them)
    chapters: list[tuple[float, str]] = attrs.Factory(list)

    def metadata(self) -> dict[str, str]:
        """What the exported file says about the session (title, date, ids, labels)."""
        manifest = self.timeline.manifest
        # JSON, not "key=value; ...": a label's value may hold ";" and "=" (and is read back whole)
        comment = {"session": manifest.session_id, "support_session_id": manifest.support_session_id,
                   "labels": dict(manifest.labels)}
        return {"title": f"Support session {manifest.support_session_id or manifest.session_id[:8]}",
                "creation_time": manifest.started_at.isoformat(),
                "comment": json.dumps({k: v for k, v in comment.items() if v}, ensure_ascii=False)}

    @property
    def end(self) -> float:
        return self.timeline.end if self.stop is None else min(self.stop, self.timeline.end)

    def ranges(self) -> list[tuple[Segment, float, float, float]]:
        """(segment, from, to, gap before it) for every segment in range; times on the session timeline."""
        out, previous_end = [], None
        for seg in self.timeline.segments:
            a, b = max(seg.start, self.start), min(seg.start + seg.duration, self.end)
            if b <= a:
                continue
            gap = 0.0
            if self.keep_gaps and previous_end is not None and a - previous_end >= GAP_MIN:
                gap = a - previous_end
            out.append((seg, a, b, gap))
            previous_end = b
        return out

    def duration(self) -> float:
        """Length of the output."""
        return sum(b - a + gap for _, a, b, gap in self.ranges())

    def place(self, t: float) -> float | None:
        """Where ``t`` on the session timeline is in the output (an instant between two parts:
        where the output goes on after it, or its place in a gap held as a still frame); None
        outside the range exported."""
        if t < self.start - 1e-6 or t > self.end + 1e-6:
            return None
        cursor = 0.0
        for _, a, b, gap in self.ranges():
            if t < a:
                return cursor + max(0.0, gap - (a - t))
            if t <= b:
                return cursor + gap + (t - a)
            cursor += gap + (b - a)
        return cursor

    def write_chapters(self, container) -> None:
        """For exporters: the chapters into a PyAV output ``container``, before its first packet
        (formats without chapters ignore them)."""
        starts: list[int] = []  # ms, each after the one before: Matroska's readers drop a chapter that is not
        for start, _ in sorted(self.chapters, key=lambda chapter: chapter[0]):
            starts.append(max(round(start * 1000), starts[-1] + 1 if starts else 0))
        ends = [*starts[1:], max(round(self.duration() * 1000), starts[-1] + 1 if starts else 0)]
        titles = [title for _, title in sorted(self.chapters, key=lambda chapter: chapter[0])]
        entries = [{"id": index + 1, "start": start, "end": end, "time_base": TIME_BASE, "metadata": {"title": title}}
                   for index, (start, end, title) in enumerate(zip(starts, ends, titles))]
        if entries:
            container.set_chapters(entries)

    def size(self, width: int, height: int) -> tuple[int, int]:
        """Output size for a source of ``width`` x ``height``, even numbers for yuv420p."""
        if not self.scale:
            w, h = width, height
        elif m := re.fullmatch(r"(\d{1,6})x(\d{1,6})", self.scale):
            w, h = int(m[1]), int(m[2])
        elif re.fullmatch(r"\d{1,6}", self.scale):
            w = int(self.scale)
            h = round(height * w / width)
        elif re.fullmatch(r"\d*\.\d+", self.scale) and 0 < float(self.scale) <= 4:
            w, h = round(width * float(self.scale)), round(height * float(self.scale))
        else:
            raise UsageError(f"--scale {self.scale!r}: give WIDTHxHEIGHT, a WIDTH, or a factor such as 0.5")
        if w < 2 or h < 2:
            raise UsageError(f"--scale {self.scale!r} gives {w}x{h}: at least 2 pixels a side")
        if w > MAX_SIDE or h > MAX_SIDE:
            raise UsageError(f"--scale {self.scale!r} gives {w}x{h}: at most {MAX_SIDE} pixels a side")
        return max(2, w - w % 2), max(2, h - h % 2)

    def source_size(self) -> tuple[int, int]:
        """The largest part's size: parts of another size (the screen changed across a
        restart) are letterboxed into it, none of them is scaled up past its own detail
        unless it is smaller."""
        sizes = []
        for seg in self.timeline.segments:
            with av.open(str(seg.path)) as container:
                ctx = container.streams.video[0].codec_context
                sizes.append((ctx.width, ctx.height))
        return max(sizes, key=lambda size: size[0] * size[1])

    def frames(self) -> Iterator[tuple[av.VideoFrame, float]]:
        """Every source frame in range as (frame, time in the output), in order."""
        cursor = 0.0  # output time at the start of the next segment
        last: av.VideoFrame | None = None
        for seg, a, b, gap in self.ranges():
            if gap and last is not None:
                yield last, cursor  # the still frame, held for the interruption's length
                cursor += gap
            with av.open(str(seg.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    t = seg.start + float(frame.time)
                    if t < a - 1e-6:
                        continue
                    if t >= b - 1e-6:
                        break
                    yield frame, cursor + (t - a)
                    last = frame
                    self.progress(cursor + (t - a))
            cursor += b - a

    def letterbox(self, width: int, height: int, pix_fmt: str) -> Callable[[av.VideoFrame], av.VideoFrame]:
        """For exporters: frame -> a ``pix_fmt`` frame of ``width`` x ``height``, never stretched."""
        return Letterbox(width, height, pix_fmt)

    def resampled(self, fps: float) -> Iterator[tuple[av.VideoFrame, float]]:
        """Frames at a constant rate: each tick shows the latest source frame."""
        step, tick = 1.0 / fps, 0
        previous = None
        for frame, t in self.frames():
            while previous is not None and tick * step < t - 1e-6:
                yield previous, tick * step
                tick += 1
            previous = frame
        end = self.duration()
        while previous is not None and tick * step < end - 1e-6:
            yield previous, tick * step
            tick += 1


class Letterbox:
    """Frames into the output size: scaled if they have its aspect ratio, otherwise
    scaled to fit and centred on black (FFmpeg's scale and pad filters), never stretched."""

    def __init__(self, width: int, height: int, pix_fmt: str):
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self.graphs: dict[tuple[int, int, str], av.filter.Graph] = {}

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if abs(frame.width * self.height - frame.height * self.width) <= max(frame.width, frame.height):
            return frame.reformat(width=self.width, height=self.height, format=self.pix_fmt)
        key = (frame.width, frame.height, frame.format.name)
        if key not in self.graphs:
            self.graphs[key] = self._graph(*key)
        graph = self.graphs[key]
        graph.push(frame)
        return graph.pull()

    def _graph(self, width: int, height: int, fmt: str) -> av.filter.Graph:
        graph = av.filter.Graph()
        steps = [graph.add_buffer(width=width, height=height, format=fmt, time_base=TIME_BASE),
                 graph.add("scale", f"{self.width}:{self.height}:force_original_aspect_ratio=decrease"),
                 graph.add("pad", f"{self.width}:{self.height}:(ow-iw)/2:(oh-ih)/2:black"),
                 graph.add("format", self.pix_fmt),
                 graph.add("buffersink")]
        for a, b in zip(steps, steps[1:]):
            a.link_to(b)
        graph.configure()
        return graph


def encode(job: ExportJob, *, container: str, codec: str, pix_fmt: str, options: dict[str, str] | None = None,
           bit_rate: int | None = None, fps: float | None = None, container_options: dict | None = None) -> None:
    """Decode the session and encode it into ``job.output`` with one codec and container."""
    width, height = job.size(*job.source_size())
    rate = fps or job.fps
    source = job.resampled(rate) if rate else job.frames()
    with av.open(str(job.output), "w", format=container, options=container_options or {}) as out:
        out.metadata.update(job.metadata())
        job.write_chapters(out)
        # the nominal rate sets the last frame's length: the session's own rate keeps the full duration
        nominal = rate or job.timeline.manifest.fps
        stream = out.add_stream(codec, rate=Fraction(nominal).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        if bit_rate:
            stream.bit_rate = bit_rate
        if options:
            stream.options = options
        last_pts = -1
        fit = job.letterbox(width, height, pix_fmt)
        for frame, t in source:
            picture = fit(frame)
            pts = max(round(t * 1000), last_pts + 1)
            picture.pts, picture.time_base, last_pts = pts, TIME_BASE, pts
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))


def exporter_for(host, fmt: str):
    """The exporter of format ``fmt`` (any case: MP4 is mp4), or a usage error naming those there are."""
    component = host.registry.get(fmt.lower())
    if component is None or component.kind != "exporter":
        formats = ", ".join(sorted(c.name for c in host.registry.of_kind("exporter")))
        raise UsageError(f"unknown export format '{fmt}' (available: {formats})")
    return component.factory(None)


def check_job(host, timeline: Timeline, fmt: str, output: Path, *, suffix: str = "", **job: object) -> None:
    """Every usage error of an export, each one line, before any work: the format, the output's
    name (it ends in the format's extension, then ``suffix`` when the export is protected) and
    folder (it exists: only the file is created), the range and the size."""
    extension = getattr(exporter_for(host, fmt), "extension", "")
    output = output.expanduser().absolute()
    name = output.name.removesuffix(suffix) if suffix else output.name
    if extension and not name.lower().endswith(extension.lower()):
        given = Path(name).suffix
        raise UsageError(f"--format {fmt.lower()} writes {extension} files, but {output.name} ends in "
                         f"{given or 'no extension'}: name it {Path(name).stem}{extension}")
    if not output.parent.is_dir():
        raise UsageError(f"{output.parent} does not exist: recorder writes FILE into a folder that exists"
                         if not output.parent.exists() else f"{output.parent} is not a folder")
    export_job = ExportJob(timeline, output, **job)  # type: ignore[arg-type]
    if export_job.stop is not None and export_job.stop <= export_job.start:
        relation = "before" if export_job.stop < export_job.start else "the same as"
        raise UsageError(f"--to {export_job.stop:g} s is {relation} --from {export_job.start:g} s: "
                         "nothing to export")
    if export_job.start >= timeline.end:
        raise UsageError(f"--from {export_job.start:g} s is past the end: the session is {timeline.end:.1f} s long")
    video = timeline.manifest.video  # a bad --scale is a usage error before any work
    export_job.size(*((video.width, video.height) if video else (1920, 1080)))


def export_session(host, timeline: Timeline, fmt: str, output: Path, *, force: bool = False,
                   progress: Callable[[float], None] = lambda seconds: None, protect: Protection | None = None,
                   **job: object) -> Path:
    """Run the ``fmt`` exporter; the output appears only when complete (never half-written).
    With ``protect`` (a session whose part stream protects its parts), the exporter writes into
    memory and only the file that stream protected reaches the disk, named ``output`` + its suffix."""
    output = output.expanduser().absolute()
    if protect is not None and protect.suffix and not output.name.endswith(protect.suffix):
        output = output.with_name(output.name + protect.suffix)
    check_job(host, timeline, fmt, output, suffix=protect.suffix if protect is not None else "", **job)
    if output.exists() and not force:
        raise UsageError(f"{output} exists; use --force to overwrite it")
    exporter = exporter_for(host, fmt)
    export_job = ExportJob(timeline, output, progress=progress, **job)
    export_job.chapters = [(placed, title) for t, title in chapters.on_timeline(timeline.events(), host.order)
                           if (placed := export_job.place(t)) is not None]
    # Written in a private folder of its own beside the output (0700, unpredictable name),
    # where nobody else can plant a link, then renamed into place when complete.
    with private_workdir(output) as workdir:
        target = workdir / output.name
        if protect is not None:  # the exporter writes into memory; only the protected file reaches the disk
            export_job.output = memory_output(output.name.removesuffix(protect.suffix) if protect.suffix
                                              else output.name)
        else:
            export_job.output = target
            create_private_file(target)  # 0600 from the first byte; exporters write into it
        exporter.export(export_job)
        if protect is not None:
            protect.write(export_job.output, target)
            release(export_job.output)
        platform.make_owner_only(target, folder=False)
        platform.replace(target, output)  # Windows: retried while a player still holds the old file
    return output
