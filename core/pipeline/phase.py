"""Where a Recording is in its life: one value instead of flags that had to agree."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    PREPARING = "preparing"  # building, checking; nothing is recorded yet
    ASKING = "asking"  # the consent question is open
    READY = "ready"  # prepared: recording begins at record()
    RECORDING = "recording"  # capturing, then sealing
    HANDING_OVER = "handing-over"  # the sink may be moving the folder: core writes into it after
    FINISHED = "finished"  # sealed and handed over
    ABANDONED = "abandoned"  # refused or declined before anything was recorded

    @property
    def holding(self) -> bool:
        """Until recording begins, the session's events are only published and notified,
        never written (a declined consent leaves nothing)."""
        return self in (Phase.PREPARING, Phase.ASKING, Phase.READY, Phase.ABANDONED)

    @property
    def published(self) -> str | None:
        """The state the control channel reports while nothing is recorded; None once
        recording began (the session's own state then says paused, ending or ended)."""
        if self is Phase.ASKING:
            return "waiting-for-consent"
        return "starting" if self.holding else None
