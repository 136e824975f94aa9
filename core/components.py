"""What each kind of component is: the methods core calls, as ``typing.Protocol`` classes.

A component kind (``Source``, ``Encoder`` and the ``PartWriter`` it opens, ``Sink``,
``Guard``, ``Notifier``, ``Exporter``, ``PartStream`` and its ``PartStreamWriter``, ``Indexer``) lists what every component of that kind has.
What only some have is a capability of its own, one small protocol each
(``Repairs``, ``Preflights``, ``HearsPartSealed``...): core asks
``isinstance(component, Repairs)`` instead of looking for a method by name, so the
question and the answer are both declared. Capabilities are ``runtime_checkable``,
which checks that the names exist, not their signatures: mypy checks those, for every
built-in plugin (tests/test_component_types.py).

A plugin need not inherit from any of these; having the methods is enough. The
parameters are positional-only: core passes them by position, so a plugin may name
them as it likes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # for annotations only: this module imports nothing of recorder when run
    from recorder.playback.export import ExportJob
    from recorder.session.model import Event, Part, Session
    from recorder.session.streams import RecoveredPart
    from recorder.values import Changes, Chapter, Notification, PartStats, Screen, TextSeen, VideoFormat

# -- the kinds ------------------------------------------------------------------------


class Source(Protocol):
    """Captures the screen (or something else) frame by frame."""

    def open(self) -> VideoFormat:
        """Start capturing; the size and pixel format every frame will have."""

    def grab(self) -> bytes | bytearray | memoryview | Changes:
        """One frame in the announced pixel format, or ``Changes`` (only the rows that changed)."""

    def close(self) -> None: ...


class PartWriter(Protocol):
    """Writes one part file: frames in, ``PartStats`` out when closed."""

    def write(self, frame: Any, pts: float, /) -> None: ...

    def close(self) -> PartStats: ...


class Encoder(Protocol):
    """Opens a ``PartWriter`` for each part of the session."""

    @property
    def extension(self) -> str:
        """The part files' suffix, with its dot (".mp4")."""

    def open_part(self, path: Path, video_format: VideoFormat, fps: float, /) -> PartWriter: ...


class Sink(Protocol):
    """Decides where a session's folder is while recording, and where it goes after."""

    def prepare(self, session: Session, folder_name: str, /) -> Path:
        """Create (0700) and return the folder parts are written to."""

    def finish(self, session: Session, /) -> Path:
        """The sealed session is handed over; where its folder is now."""


class Guard(Protocol):
    """Watches something outside the pipeline while recording; calls ``session.warn``
    or ``session.request_end``. A guard with nothing to watch keeps both as no-ops."""

    def start(self, session: Session, /) -> None: ...

    def stop(self) -> None: ...


class Notifier(Protocol):
    """Delivers notifications (to the support tool, the desktop, a file...)."""

    def notify(self, notification: Notification, /) -> None: ...


class Exporter(Protocol):
    """Writes a session in another format (``recorder export``)."""

    @property
    def extension(self) -> str: ...

    def export(self, job: ExportJob, /) -> None:
        """Write the session to ``job.output``."""


class PartStreamWriter(Protocol):
    """What the encoder writes a part's bytes into, when a part stream carries them."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...

    def checkpoint(self, frames: int, duration: float, /) -> None:
        """Make what was written survive a kill (instead of core's fsync)."""

    def close(self) -> list[str]:
        """Complete the file and close its descriptor; the side files to keep with the part."""

    @property
    def error(self) -> BaseException | None:
        """What broke the stream, or None."""


class PartStream(Protocol):
    """Carries a part's bytes from the encoder to its file, and back (encryption, a checksum sidecar)."""

    @property
    def suffix(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def protects(self) -> bool:
        """True: a part cannot be read without a key; the stream is then also ``Protects``."""

    def open(self, fd: int, part: Part, folder: Path, /) -> PartStreamWriter: ...

    def recover(self, folder: Path, part: Part, path: Path, /) -> RecoveredPart: ...

    def verify(self, folder: Path, part: Part, /) -> tuple[str, list[str]]: ...


class Indexer(Protocol):
    """Reads the text on a settled screen (``recorder index``, and while recording at the
    lowest priority). ``rects``: where to read, (x, y, w, h) with a margin; empty: the whole
    screen. One ``TextSeen`` per line of text."""

    def read(self, screen: Screen, rects: Sequence[tuple[int, int, int, int]], /) -> list[TextSeen]: ...

    def close(self) -> None: ...


# -- capabilities: what only some components have -----------------------------------

# Part streams
@runtime_checkable
class Protects(Protocol):
    """A part stream whose parts are read back with a key (``protects = True``)."""

    def describe(self, parts: list[Part], /) -> str: ...

    def load_key(self, reference: str, /) -> Any: ...

    def read(self, folder: Path, part: Part, key: Any, /) -> bytes: ...

    def needs_whole(self, part: Part, /) -> bool: ...

    def protect(self, source: Path, target: Path, parts: list[Part], /) -> None: ...


# Sources
@runtime_checkable
class BindsSession(Protocol):
    """A source told which session it records for, before ``open()`` (to warn or end it)."""

    def bind(self, session: Session, /) -> None: ...


@runtime_checkable
class Paced(Protocol):
    """A source that says whether it runs on the clock; ``realtime = False`` (a test
    pattern, a benchmark) has its frames timed as if taken on schedule."""

    @property
    def realtime(self) -> bool: ...


@runtime_checkable
class RanksForAuto(Protocol):
    """A source (its factory: a class or function attribute) that says how well it fits this
    desktop for ``source = "auto"``: a rank (the highest wins) or None where it cannot record."""

    def auto_rank(self, environ: dict[str, str]) -> int | None: ...


# Encoders and their part writers
@runtime_checkable
class Repairs(Protocol):
    """An encoder that can seal a part its writer left unfinished (a crash, a failure)."""

    def repair(self, path: Path, fps: float, /) -> PartStats | None: ...


@runtime_checkable
class TakesChapters(Protocol):
    """A part writer that writes chapters into its part: core gives it the part's chapters right
    before ``close``, which writes them with the part's index (so they are in it when it is hashed)."""

    def set_chapters(self, chapters: list[Chapter], /) -> None: ...


@runtime_checkable
class RepairsWithChapters(Protocol):
    """An encoder whose repair (crash recovery) writes the part's chapters too, as closing would have."""

    def repair_with_chapters(self, path: Path, fps: float, chapters: list[Chapter], /) -> PartStats | None: ...


@runtime_checkable
class WritesToStream(Protocol):
    """An encoder whose ``open_part`` can write into a write-only stream instead of a file."""

    @property
    def writes_to_stream(self) -> bool: ...


@runtime_checkable
class CountsFrames(Protocol):
    """A part writer that says how many frames it has written so far."""

    @property
    def frames(self) -> int: ...


@runtime_checkable
class ProjectsSize(Protocol):
    """A part writer that knows how large its file will be (for ``max_part_size``)
    better than the file's size on disk does."""

    def projected_bytes(self) -> int: ...


@runtime_checkable
class TakesChangedRows(Protocol):
    """A part writer that, with ``takes_changed_rows = True``, is called
    ``write(frame, pts, changed=rows)`` with the row ranges that changed."""

    @property
    def takes_changed_rows(self) -> bool: ...


@runtime_checkable
class TakesChangedRects(Protocol):
    """A part writer taking changed rows that, with ``takes_changed_rects = True``, also
    takes ``rects=``: the changed rectangles within them."""

    @property
    def takes_changed_rects(self) -> bool: ...


# Sinks
@runtime_checkable
class NamesDestinations(Protocol):
    """A sink that names the folders the session may end up in (disk guards watch them)."""

    def destinations(self, session: Session, /) -> list[Path]: ...


@runtime_checkable
class AsksWhereToSave(Protocol):
    """A sink that says whether it ever asks where the session goes; one that never asks
    (``asks_where_to_save = False``) has ``--save-to``, the answer given in advance, refused
    before anything is written rather than ignored."""

    @property
    def asks_where_to_save(self) -> bool: ...


# Guards
@runtime_checkable
class Preflights(Protocol):
    """A guard that may refuse to start the recording: ``preflight`` raises to refuse."""

    def preflight(self, session: Session, /) -> None: ...


@runtime_checkable
class RequiresPreflight(Protocol):
    """A guard whose preflight must finish: with ``preflight_required = True``, one cut
    short by its time budget stops the recording instead of letting it start."""

    @property
    def preflight_required(self) -> bool: ...


@runtime_checkable
class EndsSupportSession(Protocol):
    """A guard whose end reasons end the support session too: ``{reason: why}``, the why
    shown to both sides ("not enough disk space where it is recorded")."""

    @property
    def ends_support_session(self) -> dict[str, str]: ...


@runtime_checkable
class BeforeSeal(Protocol):
    """A guard told that capture has ended and sealing begins (a disk guard frees its reserve)."""

    def before_seal(self) -> None: ...


# Notifiers (start and stop also for guards, where they are part of the kind)
@runtime_checkable
class StartsWithSession(Protocol):
    def start(self, session: Session, /) -> None: ...


@runtime_checkable
class Stops(Protocol):
    def stop(self) -> None: ...


@runtime_checkable
class KeepsReceipt(Protocol):
    """A notifier that delivers the session's receipt (a dict) when it is issued."""

    def receipt(self, receipt: dict[str, Any], /) -> None: ...


# The session's lifecycle, heard by the session's own guards (and a sink's part_sealed):
# called right after the hook of the same name, ``recorder_<name>``.
@runtime_checkable
class HearsPartSealed(Protocol):
    def part_sealed(self, session: Session, part: Part, /) -> None: ...


@runtime_checkable
class HearsSessionEvent(Protocol):
    """Called on the thread that added the event (capture and encoder included): return quickly."""

    def session_event(self, session: Session, event: Event, /) -> None: ...


@runtime_checkable
class HearsSessionReceipt(Protocol):
    def session_receipt(self, session: Session, receipt: dict[str, Any], /) -> None: ...


@runtime_checkable
class HearsSessionEnded(Protocol):
    def session_ended(self, session: Session, /) -> None: ...


# Each kind's protocol, by the kind's name in the registry (``recorder.host.registry.KINDS``).
KIND_INTERFACES: dict[str, type] = {"source": Source, "encoder": Encoder, "sink": Sink, "guard": Guard,
                                    "notifier": Notifier, "exporter": Exporter, "part_stream": PartStream,
                                    "indexer": Indexer}
# The lifecycle capabilities, by the method's name (the hook's name without ``recorder_``).
LIFECYCLE: dict[str, type] = {"part_sealed": HearsPartSealed, "session_event": HearsSessionEvent,
                              "session_receipt": HearsSessionReceipt, "session_ended": HearsSessionEnded}
