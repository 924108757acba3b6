"""Step 4, pipes: open each well-known named pipe on IPC$ and close it again.

Rules:
1. ``PIPES`` are the endpoints enumeration tools use (null-sessions.md §5) plus the ones
   Windows once listed in NullSessionPipes (§2.3). Each is a CREATE on the principal's IPC$
   tree with the access rpcclient asks for (0x0012019F), and is closed at once.
2. The status is the evidence: STATUS_ACCESS_DENIED is the server's null-session pipe check
   (MS-SRVS 3.1.6.17, NullSessionPipes) or the pipe's security; STATUS_OBJECT_NAME_NOT_FOUND
   means the server has no such pipe.
3. Without IPC$ (RestrictAnonymous = 2 on Samba) every pipe is skipped, naming the IPC$ status.
"""

from __future__ import annotations

from ...wire.create import AccessMask, CreateOptions
from ..evidence import Outcome, PipeProbe
from .common import Link

__all__ = ["PIPES", "PIPE_ACCESS", "probe_pipes"]

PIPES = ("srvsvc", "wkssvc", "lsarpc", "samr", "netlogon", "spoolss", "winreg", "eventlog", "epmapper",
         "browser")
PIPE_ACCESS = int(AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA
                  | AccessMask.FILE_READ_EA | AccessMask.FILE_WRITE_EA | AccessMask.FILE_READ_ATTRIBUTES
                  | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.READ_CONTROL | AccessMask.SYNCHRONIZE)


async def probe_pipes(link: Link, out: list[PipeProbe]) -> None:
    """Each of ``PIPES``, appended to ``out`` as it is answered (a deadline keeps what is done)."""
    for name in PIPES:
        ipc, tid = await link.ipc()
        if tid is None:
            out.append(PipeProbe(name, Outcome.skipped(f"no IPC$: {ipc.evidence()}")))
            continue

        async def open_close(c, name=name, tid=tid):  # type: ignore[no-untyped-def]
            fid = await c.create(tid, name, access=PIPE_ACCESS, options=CreateOptions.NON_DIRECTORY_FILE)
            await c.close(tid, fid)

        result, _ = await link.run(open_close, answers=2)
        out.append(PipeProbe(name, result))
