"""Exporter ``webm``: VP9 in WebM."""

from __future__ import annotations

from recorder import encode_export as encode, hookimpl

VP9 = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}


class WebmExporter:
    extension = ".webm"

    def __init__(self, options=None):
        pass

    def export(self, job) -> None:
        encode(job, container="webm", codec="libvpx-vp9", pix_fmt="yuv420p", options=VP9)


@hookimpl
def recorder_register_exporters(register):
    register("webm", WebmExporter, description="VP9 in WebM")
