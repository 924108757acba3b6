"""What ``nullsmb probe`` is pointed at: TARGET strings and --rid-range, parsed and checked.

A TARGET is ``host``, ``host:port``, ``[v6addr]:port``, a CIDR range (``10.0.0.0/24``,
optionally ``10.0.0.0/24:4445``), or ``@file`` (one TARGET per line; ``#`` starts a comment;
``@-`` reads standard input).

Rules:
1. Pure: no sockets, no name resolution. Reading an ``@file`` goes through an injected
   ``read_file`` so tests need no files; host names are resolved later, when connecting.
2. Every mistake is a ``UsageError`` with one line that names the offending text; the CLI
   prints it and exits 2.
3. Bounded: a CIDR range expands lazily (``iter_targets`` yields one ``Target`` at a time), at
   most ``MAX_RANGE`` addresses per range; ``--rid-range`` holds at most ``MAX_RIDS`` RIDs.
   For a range of more than two addresses the IPv4 network and broadcast addresses are left out
   (``ipaddress.hosts()``).
4. Duplicates (same host and port, as written) are probed once; ranges are not compared with
   each other or with single hosts (that would need a set as large as the ranges).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_RID_RANGE",
    "MAX_RANGE",
    "MAX_RIDS",
    "Target",
    "TargetSpec",
    "UsageError",
    "count_targets",
    "iter_targets",
    "parse_rid_ranges",
    "parse_targets",
]

MAX_RANGE = 65536  # addresses per CIDR range (a /16)
MAX_RIDS = 100_000
DEFAULT_RID_RANGE = "500-550,1000-1050"  # enum4linux-ng's default ranges
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


class UsageError(ValueError):
    """Bad command-line input: one line for ``error: ...``, exit code 2."""


@dataclass(frozen=True, slots=True)
class Target:
    """One host to probe. ``label`` is how it was written (or the address, for a range)."""

    host: str
    port: int
    label: str

    @property
    def address(self) -> str:
        """``host:port``, with brackets around an IPv6 address."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One parsed TARGET: a single host, or a network (expanded by ``iter_targets``)."""

    text: str
    host: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None  # None: --port

    @property
    def size(self) -> int:
        if self.network is None:
            return 1
        n = self.network.num_addresses
        return n - 2 if self.network.version == 4 and n > 2 else n


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"bad port {text!r} in target {whole!r} (1-65535)")
    return int(text)


def _parse_one(text: str) -> TargetSpec:
    whole = text
    text = text.strip()
    if not text:
        raise UsageError("empty target")
    port: int | None = None
    if text.startswith("["):  # [v6]:port or [v6]
        end = text.find("]")
        if end < 0:
            raise UsageError(f"bad target {whole!r}: missing ']'")
        rest = text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"bad target {whole!r}: expected ':PORT' after ']'")
            port = _port(rest[1:], whole)
        text = text[1:end]
    elif text.count(":") == 1:  # host:port or v4 CIDR:port
        text, port_text = text.split(":")
        port = _port(port_text, whole)
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError(f"bad CIDR range {whole!r}") from None
        spec = TargetSpec(whole.strip(), network=network, port=port)
        if spec.size > MAX_RANGE:
            raise UsageError(f"range {whole.strip()!r} has {spec.size} addresses; at most {MAX_RANGE} "
                             "per range (split it)")
        return spec
    try:
        host = str(ipaddress.ip_address(text))
    except ValueError:
        if not _HOSTNAME.match(text):
            raise UsageError(f"bad target {whole!r}: not a host name, address or CIDR range") from None
        host = text.rstrip(".").lower()
    return TargetSpec(whole.strip(), host=host, port=port)


def parse_targets(args: Sequence[str], read_file: Callable[[str], str]) -> list[TargetSpec]:
    """TARGET arguments to specs; ``@file`` arguments are read with ``read_file(path)``
    (``"-"`` for standard input), which may raise ``OSError`` (reported as a UsageError)."""
    specs: list[TargetSpec] = []
    if not args:
        raise UsageError("no TARGET given")
    for arg in args:
        if arg.startswith("@"):
            path = arg[1:]
            if not path:
                raise UsageError("'@' needs a file name (or '@-' for standard input)")
            try:
                content = read_file(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read target file {path!r}: {getattr(exc, 'strerror', None) or exc}") \
                    from None
            found = 0
            for number, line in enumerate(content.splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                for word in line.split():
                    try:
                        specs.append(_parse_one(word))
                    except UsageError as exc:
                        raise UsageError(f"{path} line {number}: {exc}") from None
                    found += 1
            if not found:
                raise UsageError(f"target file {path!r} lists no target")
        else:
            specs.append(_parse_one(arg))
    return specs


def count_targets(specs: Iterable[TargetSpec]) -> int:
    """How many hosts ``iter_targets`` yields at most (before duplicates are dropped)."""
    return sum(s.size for s in specs)


def iter_targets(specs: Iterable[TargetSpec], default_port: int) -> Iterator[Target]:
    """The hosts to probe, one at a time (rule 3), single-host duplicates dropped (rule 4)."""
    seen: set[tuple[str, int]] = set()
    for spec in specs:
        port = spec.port if spec.port is not None else default_port
        if spec.network is None:
            assert spec.host is not None
            if (spec.host, port) in seen:
                continue
            seen.add((spec.host, port))
            yield Target(spec.host, port, spec.text)
            continue
        addresses = spec.network.hosts() if spec.network.num_addresses > 2 else iter(spec.network)
        for addr in addresses:
            yield Target(str(addr), port, str(addr))


def parse_rid_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``"500-550,1000-1050"`` (single RIDs allowed: ``"500,1000-1010"``) to inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    total = 0
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,10})(?:\s*-\s*(\d{1,10}))?", part)
        if not m:
            raise UsageError(f"bad --rid-range {text!r}: {part!r} is not N or N-M")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo or hi > 0xFFFFFFFF:
            raise UsageError(f"bad --rid-range {text!r}: {part!r} must be N-M with N <= M < 2^32")
        total += hi - lo + 1
        if total > MAX_RIDS:
            raise UsageError(f"--rid-range {text!r} covers more than {MAX_RIDS} RIDs")
        ranges.append((lo, hi))
    return tuple(ranges)
