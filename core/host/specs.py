"""The hooks recorder calls. Every hook is documented in docs/plugins.md, with
the thread that calls it and what it may block.

Registration hooks assemble the pipeline: each receives a ``register``
callable and adds named components. Lifecycle hooks announce what happened;
they are called with keyword arguments and stay off the per-frame path.
"""

from __future__ import annotations

from recorder.host.markers import hookspec

# -- registration: once, when plugins are loaded (main thread) -------------------


@hookspec
def recorder_register_sources(register):
    """Register capture sources: ``register(name, factory, options=OptionsClass)``.

    ``factory(options)`` returns an object with ``open() -> VideoFormat``,
    ``grab() -> bytes-like`` (one frame in the announced pixel format), or
    ``recorder.Changes`` (only the rows that changed), and ``close()``: a
    ``recorder.Source`` (its optional capabilities: recorder/components.py).
    """


@hookspec
def recorder_register_encoders(register):
    """Register encoders: ``factory(options)`` returns an object with an
    ``extension`` (".mp4"), ``open_part(path, video_format, fps) -> PartWriter``
    and optionally ``repair(path, fps) -> PartStats | None``; the part writer
    has ``write(frame, pts)`` (with ``takes_changed_rows = True``,
    ``write(frame, pts, changed=rows)``) and ``close() -> PartStats``: a
    ``recorder.Encoder`` and its ``recorder.PartWriter``."""


@hookspec
def recorder_register_sinks(register):
    """Register sinks: ``factory(options)`` returns an object with
    ``prepare(session, folder_name) -> Path`` (creates, 0700, and returns the
    folder parts are written to), optionally ``part_sealed(session, part)``
    and ``destinations(session)``, and ``finish(session) -> Path``: a ``recorder.Sink``."""


@hookspec
def recorder_register_guards(register):
    """Register guards: ``factory(options)`` returns an object with
    ``start(session)`` and ``stop()``, optionally ``preflight(session)`` and
    ``before_seal()``. A guard watches something outside the pipeline and
    calls ``session.warn(...)`` or ``session.request_end(...)``: a ``recorder.Guard``."""


@hookspec
def recorder_register_notifiers(register):
    """Register notifiers: ``factory(options)`` returns an object with
    ``notify(notification)`` and optionally ``start(session)`` and ``stop()``: a
    ``recorder.Notifier``."""


@hookspec
def recorder_register_exporters(register):
    """Register export formats: ``factory(options)`` returns an object with an
    ``extension`` (".wmv") and ``export(job)``, which writes the session to
    ``job.output``; ``recorder.encode_export(job, container=..., codec=...,
    pix_fmt=...)`` does the decoding, range, gaps, scaling and frame rate: a
    ``recorder.Exporter``."""


@hookspec
def recorder_register_part_streams(register):
    """Register part streams: ``factory(options)`` returns an object that carries a part's
    bytes from the encoder to its file and back (``suffix``, ``label``, ``protects``,
    ``open``, ``recover``, ``verify``, and for protecting streams ``describe``, ``load_key``,
    ``read``, ``needs_whole``, ``protect``; docs/plugins.md says which thread calls each).
    A plugin turns one on for a session with ``session.wrap_parts(name, meta)`` (from a
    guard's ``preflight``); the manifest records it on every part."""


@hookspec
def recorder_register_indexers(register):
    """Register indexers (text on screen, for ``recorder search``): ``factory(options)``
    returns an object with ``read(screen, rects) -> list[TextSeen]`` (``screen`` a
    ``recorder.Screen``, masks already grey; ``rects`` where to read, empty: everywhere) and
    ``close()``: a ``recorder.Indexer``. Called in the indexing worker, never on capture's path."""


@hookspec
def recorder_register_options(register):
    """Register options for a plugin that has no component (hooks only):
    ``register(name, OptionsClass, description="")``. The profile's
    ``[profiles.P.<name>]`` table is validated against the class before
    recording starts, and ``session.options_for(name)`` returns the instance."""


# -- lifecycle of a recording ----------------------------------------------------


@hookspec
def recorder_session_started(session):
    """The session folder exists and capture is about to begin (main thread)."""


@hookspec
def recorder_part_opened(session, part):
    """A new part file is being written (its name still has the ``.partial`` suffix).
    Encoder thread: while it runs, frames queue up."""


@hookspec
def recorder_part_sealed(session, part):
    """A part is complete: renamed to its final name, hashed, in the manifest.
    Sealer thread: blocking delays the next seal and the end of the session, not capture."""


@hookspec
def recorder_session_event(session, event):
    """An event was added to the session's timeline; called on the thread that
    added it (any thread, capture and encoder included): return quickly."""


@hookspec(firstresult=True)
def recorder_prompt_save_location(session, default, problem, prefer, timeout):
    """Ask where to save the session; stops at the first non-None result.

    ``default`` is the remembered (or Documents) folder, ``problem`` the reason
    the previous answer was refused (None on the first ask), ``prefer`` the
    profile's choice of prompt (``auto``, ``terminal``, ``dialog``), and
    ``timeout`` None, or the seconds there are to answer (before a restart).
    Return a ``recorder.SaveChoice``: its ``path``, or None if the user gave
    up. Return None to let another prompt ask. Main thread, after sealing.
    """


@hookspec(firstresult=True)
def recorder_prompt_consent(session, question, prefer, timeout):
    """Ask the person at this machine whether the session may be recorded; stops at
    the first non-None result.

    ``question`` is the text to show (it names nothing of either machine),
    ``prefer`` the profile's ``consent_prompt`` (``auto``, ``terminal``,
    ``dialog``), ``timeout`` the seconds there are to answer. Return
    ``(answer, how)``: ``answer`` is ``"yes"``, ``"no"`` or ``"no-answer"`` (the
    time ran out), ``how`` a word for the timeline (``"terminal"``). Return None
    if this prompt cannot ask here. Main thread, before anything is written.
    """


@hookspec
def recorder_session_receipt(session, receipt):
    """The session's receipt (a dict: ids, labels, parts, totals, ``head``) was issued,
    for keeping outside the folder. Not for an interrupted session. Main thread.
    Heard before the notifiers and the control channel carry it: a plugin may add a
    key of its own (``signed``, say), which the head does not cover."""


@hookspec
def recorder_session_ended(session):
    """Everything is sealed, the manifest is final and the sink has finished (main thread)."""


# -- after a recording ------------------------------------------------------------


@hookspec
def recorder_session_recovered(session, report):
    """Crash recovery sealed what a crashed run left in ``session.folder``
    (``report``: one line per part). Remove anything of yours left there."""


@hookspec
def recorder_session_saved(session):
    """``recorder save`` moved the session to ``session.folder``."""


@hookspec
def recorder_session_indexed(session):
    """``recorder index`` (or the end of a recording's catch-up) listed a changed text index
    in the finished session's session.json (``session.folder``): a file that changed after the
    session ended."""


@hookspec
def recorder_session_hold(session, event):
    """``recorder hold`` or ``recorder release`` put ``event`` (kind ``hold`` or ``release``,
    ``event.data["reason"]``) on the timeline of a session that is not being recorded; its
    session.json in ``session.folder`` already has it. (A hold on a session being recorded reaches
    guards as any event does.) Return a list of ``(ok, line)``: what you did, and what failed
    (False: the command exits 1). Called again for the same event when a crash cut the command
    short: doing your part twice must do no harm."""


@hookspec
def recorder_session_roots():
    """Return a list of folders that hold session folders of yours (staging,
    for example), so that ``recorder list`` finds a session even if the
    catalog lost it."""


# -- the command line: when a command other than the control verbs runs (main thread) --


@hookspec
def recorder_register_commands(cli):
    """Add commands to ``recorder``: ``cli`` is its click group, so
    ``cli.add_command(command)`` or ``@cli.command()``. ``cli.get_command(ctx, name)``
    returns one of recorder's commands, to which an option may be added. A name
    recorder or another plugin already uses is refused. Not called for ``status``,
    ``pause``, ``resume``, ``mark``, ``events`` and ``stop``, which stay fast."""


@hookspec(firstresult=True)
def recorder_find_session(ref, cache):
    """A session that is not on this machine: ``ref`` is what the user typed (an
    id or its prefix, untrusted). Return the folder of a copy you fetched into
    ``cache`` (recorder's private cache folder for such copies), or None.
    ``info``, ``verify``, ``play``, ``export`` and ``save`` ask, and the user
    waits for the answer."""


@hookspec
def recorder_search_sessions(options, cache, local):
    """Sessions from elsewhere for ``recorder search`` to search besides this machine's:
    return a list of folders in ``cache`` (recorder's private cache folder for them),
    each holding a session's ``session.json`` and its text index, which you fetched.
    ``options``: the command's options by name, those your plugin added to it included
    (the archive adds ``--archive``: ``options["in_archive"]``); ``local``: the ids of
    the sessions on this machine, searched here (fetch none of them). Search applies its
    filters to what you return; applying them first saves fetching."""


@hookspec
def recorder_session_files(folder):
    """Return a list of file names your plugin keeps in the session folder ``folder``
    beside what its manifest lists (a signature, say), so that ``recorder verify``
    does not call them unexpected. Only names: verify checks nothing of them."""


@hookspec
def recorder_verify_receipt(folder, manifest, receipt):
    """``recorder verify SESSION --receipt`` checks the session in ``folder`` (its
    ``manifest``) against ``receipt``: the dict given, or its head hash (a str).
    Return a list of ``(ok, line)``: what checks out (True) and what is wrong
    (False), each line naming what it is about; said after recorder's own checks."""


@hookspec
def recorder_session_notes(session_ids):
    """Return a list of ``recorder.SessionNote``: what your plugin knows about
    these sessions, added to their rows by ``recorder list`` (``--json`` too)
    and to ``recorder info``."""
