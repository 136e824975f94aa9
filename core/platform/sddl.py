"""Windows security descriptors as SDDL text, built and read as plain strings (so
that the logic is tested on Linux); advapi32 converts them only at the edge
(``recorder.platform.windows``)."""

from __future__ import annotations

import re

# SYSTEM, Administrators, TrustedInstaller: accounts that own the machine anyway.
ADMIN_SIDS = ("S-1-5-18", "S-1-5-32-544",
              "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464")
EVERYONE = "S-1-1-0"
SDDL_ALIASES = {"SY": "S-1-5-18", "BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "WD": EVERYONE,
                "AU": "S-1-5-11", "CO": "S-1-3-0", "OW": "S-1-3-4", "IU": "S-1-5-4", "AN": "S-1-5-7",
                "BG": "S-1-5-32-546", "PU": "S-1-5-32-547"}
# Rights that let someone change what a folder holds or a file says: FILE_WRITE_DATA
# (ADD_FILE), FILE_APPEND_DATA (ADD_SUBDIRECTORY), FILE_DELETE_CHILD, DELETE, WRITE_DAC,
# WRITE_OWNER, GENERIC_WRITE, GENERIC_ALL.
WRITE_RIGHTS = 0x2 | 0x4 | 0x40 | 0x10000 | 0x40000 | 0x80000 | 0x40000000 | 0x10000000
SDDL_RIGHTS = {"GA": 0x10000000, "GW": 0x40000000, "GR": 0x80000000, "GX": 0x20000000,
               "FA": 0x1F01FF, "FW": 0x120116, "FR": 0x120089, "FX": 0x1200A0,
               "SD": 0x10000, "WD": 0x40000, "WO": 0x80000, "RC": 0x20000,
               "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40,
               "LO": 0x80, "CR": 0x100}
# A NULL DACL: Windows grants every access to everyone (not "no access", as it reads).
NULL_DACL = "NO_ACCESS_CONTROL"


def owner_only_sddl(user_sid: str) -> str:
    """The security descriptor of a private file or folder: a protected DACL (``P``: no
    ACE inherited from the parent) granting full control (``FA``) to the user and
    SYSTEM, inherited by what is created inside (``OICI``); nobody else has an ACE."""
    return f"D:P(A;OICI;FA;;;{user_sid})(A;OICI;FA;;;SY)"


def sddl_writers(sddl: str, trusted: set[str]) -> tuple[str | None, list[str]]:
    """(owner SID, SIDs outside ``trusted`` that may write) of the SDDL string of a
    descriptor read with its DACL. A NULL DACL (``D:NO_ACCESS_CONTROL``) or no DACL at
    all (no ``D:`` part) lets everyone do anything: Everyone (S-1-1-0) is a writer.
    Inherit-only ACEs (``IO``) do not apply to the object itself; deny ACEs take
    nothing away from the question "could someone write"."""
    owner_match = re.search(r"O:([^:()]+?)(?=[GDS]:|$)", sddl)
    owner = SDDL_ALIASES.get(owner_match.group(1), owner_match.group(1)) if owner_match else None
    if "D:" not in sddl:
        return owner, [] if EVERYONE in trusted else [EVERYONE]
    dacl = sddl.split("D:", 1)[1].split("S:", 1)[0]
    flags = dacl.split("(", 1)[0]  # P, AI, AR, NO_ACCESS_CONTROL, before the first ACE
    if NULL_DACL in flags:
        return owner, [] if EVERYONE in trusted else [EVERYONE]
    writers = []
    for ace in re.findall(r"\(([^)]*)\)", dacl):
        fields = ace.split(";")
        if len(fields) < 6 or fields[0] not in ("A", "OA") or "IO" in fields[1]:
            continue
        sid = SDDL_ALIASES.get(fields[5], fields[5])
        if sid in trusted or not _mask(fields[2]) & WRITE_RIGHTS:
            continue
        writers.append(sid)
    return owner, writers


def _mask(rights: str) -> int:
    if rights.lower().startswith("0x"):
        return int(rights, 16)
    return sum(SDDL_RIGHTS.get(rights[i:i + 2], 0) for i in range(0, len(rights), 2))
