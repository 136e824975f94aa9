"""Exporter ``wmv``: Windows Media Video 8 (wmv2) in an ASF container."""

from __future__ import annotations

from recorder import encode_export as encode, hookimpl


class WmvExporter:
    extension = ".wmv"

    def __init__(self, options=None):
        pass

    def export(self, job) -> None:
        width, height = job.size(*job.source_size())
        # wmv2 has no constant-quality mode: about 3 bits per pixel per second
        # keeps screen text readable (6 Mbit/s at 1080p).
        encode(job, container="asf", codec="wmv2", pix_fmt="yuv420p", bit_rate=max(500_000, width * height * 3))


@hookimpl
def recorder_register_exporters(register):
    register("wmv", WmvExporter, description="Windows Media Video (wmv2) in ASF")
