"""A third-party encoder as a plugin author would write it, on the public API
only: MPEG-4 Part 2 in Matroska (a codec browsers cannot play), with a
``repair()`` for crash recovery. Installed by tests with ``install_plugin``."""

SOURCE = '''
from fractions import Fraction

import av
from recorder import PartStats, hookimpl


class Writer:
    def __init__(self, path, fmt, fps):
        self.fmt, self.fps, self.frames, self.last = fmt, fps, 0, 0.0
        # clusters of half a second, flushed as they close: what a crash can lose
        self.out = av.open(str(path), "w", format="matroska",
                           options={"cluster_time_limit": "500", "flush_packets": "1"})
        self.stream = self.out.add_stream("mpeg4", rate=int(fps))
        self.stream.width, self.stream.height, self.stream.pix_fmt = fmt.width, fmt.height, "yuv420p"
        self.stream.time_base = Fraction(1, 1000)
        self.origin = None

    def write(self, frame, pts):
        self.origin = pts if self.origin is None else self.origin
        video = av.VideoFrame(self.fmt.width, self.fmt.height, "bgra")
        video.planes[0].update(bytes(frame))  # rows of 320 or 640 px need no padding
        video.pts, video.time_base = round((pts - self.origin) * 1000), Fraction(1, 1000)
        self.out.mux(self.stream.encode(video))
        self.frames, self.last = self.frames + 1, pts - self.origin

    def close(self):
        self.out.mux(self.stream.encode(None))
        self.out.close()
        return PartStats(self.frames, self.last + 1 / self.fps)


class Mpeg4:
    extension = ".mkv"

    def __init__(self, options):
        pass

    def open_part(self, path, fmt, fps):
        return Writer(path, fmt, fps)

    def repair(self, path, fps):
        """Remux every packet that still demuxes into a clean file in place of the torn one."""
        fixed = path.with_name(path.name + ".fixed")
        frames, last = 0, None
        with av.open(str(path)) as source, av.open(str(fixed), "w", format="matroska") as target:
            stream = source.streams.video[0]
            out = target.add_stream_from_template(stream)
            try:
                for packet in source.demux(stream):
                    if packet.dts is None or packet.size == 0:
                        continue
                    packet.stream = out
                    target.mux(packet)
                    frames += 1
                    last = float(packet.pts * stream.time_base)
            except av.FFmpegError:
                pass  # the torn tail
        fixed.replace(path)
        return PartStats(frames, last + 1 / fps) if frames else None


@hookimpl
def recorder_register_encoders(register):
    register("mpeg4-mkv", Mpeg4)
'''
