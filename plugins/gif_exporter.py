"""Exporter ``gif``: an animated GIF for short clips, with a palette made for the clip
(ffmpeg's palettegen/paletteuse) at 10 fps and at most 800 px wide unless told otherwise."""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
from recorder import hookimpl

TIME_BASE = Fraction(1, 1000)  # of the frames the session's timeline gives
DEFAULT_FPS = 10.0
MAX_WIDTH = 800


class GifExporter:
    extension = ".gif"

    def __init__(self, options=None):
        pass

    def export(self, job) -> None:
        source_w, source_h = job.source_size()
        if not job.scale and source_w > MAX_WIDTH:
            job.scale = str(MAX_WIDTH)
        width, height = job.size(source_w, source_h)
        fps = job.fps or DEFAULT_FPS
        graph = av.filter.Graph()
        buffer = graph.add_buffer(width=width, height=height, format="rgb24", time_base=TIME_BASE)
        split = graph.add("split")
        palettegen = graph.add("palettegen", "stats_mode=diff")
        paletteuse = graph.add("paletteuse", "dither=bayer:bayer_scale=4:diff_mode=rectangle")
        sink = graph.add("buffersink")
        buffer.link_to(split)
        split.link_to(palettegen, 0, 0)
        split.link_to(paletteuse, 1, 0)
        palettegen.link_to(paletteuse, 0, 1)
        paletteuse.link_to(sink)
        graph.configure()
        with av.open(str(job.output), "w", format="gif") as out:
            stream = out.add_stream("gif", rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
            stream.time_base = stream.codec_context.time_base = Fraction(1, 100)  # GIF delays are centiseconds
            fit = job.letterbox(width, height, "rgb24")
            for frame, t in job.resampled(fps):
                picture = fit(frame)
                picture.pts, picture.time_base = round(t * 1000), TIME_BASE
                graph.push(picture)
            graph.push(None)  # the palette is made from every frame, then frames come out
            while True:
                try:
                    frame = graph.pull()
                except (av.error.EOFError, av.error.BlockingIOError):
                    break
                frame.pts = round(frame.pts * frame.time_base * 100)
                frame.time_base = Fraction(1, 100)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))


@hookimpl
def recorder_register_exporters(register):
    register("gif", GifExporter, description="animated GIF for short clips (own palette, 10 fps)")
