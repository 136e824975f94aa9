"""Exporter ``mp4``: H.264 in MP4 — the parts' own stream copied when nothing needs changing."""

from __future__ import annotations

import av
from recorder import encode_export as encode, hookimpl

FASTSTART = {"movflags": "+faststart"}


def _same_stream(job) -> bool:
    if job.scale or job.fps or job.keep_gaps or job.start > 0 or job.stop is not None:
        return False
    seen = set()
    for seg in job.timeline.segments:
        with av.open(str(seg.path)) as container:
            ctx = container.streams.video[0].codec_context
            seen.add((ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b"")))
    return len(seen) == 1 and next(iter(seen))[0] == "h264"


def _copy(job) -> None:
    cursor = 0.0
    with av.open(str(job.output), "w", format="mp4", options=FASTSTART) as out:
        out.metadata.update(job.metadata())
        job.write_chapters(out)
        target = None
        for seg in job.timeline.segments:
            with av.open(str(seg.path)) as container:
                stream = container.streams.video[0]
                if target is None:
                    target = out.add_stream_from_template(stream)
                offset = round(cursor / stream.time_base)
                for packet in container.demux(stream):
                    if packet.dts is None:
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = target
                    out.mux(packet)
            cursor += seg.duration
            job.progress(cursor)


class Mp4Exporter:
    extension = ".mp4"

    def __init__(self, options=None):
        pass

    def export(self, job) -> None:
        if _same_stream(job):
            _copy(job)
        else:
            encode(job, container="mp4", codec="libx264", pix_fmt="yuv420p",
                   options={"crf": "23", "preset": "veryfast"}, container_options=FASTSTART)


@hookimpl
def recorder_register_exporters(register):
    register("mp4", Mp4Exporter, description="H.264 in MP4 (stream copy where possible)")
