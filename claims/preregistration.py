"""Pre-registration a referee can check: the pinned declaration digests and the amendments log.

Every claim and every reading has a declaration digest (claims/digest.py). The digests of the
catalogue as declared are pinned, one line ``CLAIM_ID[@READING] DIGEST``, in
``claims/catalogue/declarations.txt``; every change of a declaration is an entry of the amendments
log ``claims/catalogue/amendments.toml`` (a list of ``[[amendment]]`` tables: date, commit, claim,
optional reading, what changed, why, which data had been seen, the verdict before and after at the
same seed and budget, and the digests before and after). The chain is checkable
(``chain_problems``): each key's current digest equals its pinned digest, the pinned digest is the
``digest_after`` of the key's latest log entry that carries one, and each such entry's
``digest_before`` is the previous one's ``digest_after``. Entries written before digests existed
carry empty digests; an entry for claim ``*`` records the digests of every key at once; ``claim``
may be a list of ids for one change of code that several claims share.

``digest_before`` / ``digest_after`` are a string (the digest of ``claim`` or ``claim@reading``) or a
table ``{"CLAIM_ID[@READING]" = DIGEST, ...}`` for a change that moves several keys (a reading's
change moves its claim's digest too); ``digest_after = "removed"`` ends a key (a dropped reading).
"""
from __future__ import annotations

import datetime as dt
import functools
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

from .registry import all_claims

CATALOGUE = Path(__file__).parent / "catalogue"
PINNED_PATH = CATALOGUE / "declarations.txt"
LOG_PATH = CATALOGUE / "amendments.toml"
NOT_GIT = "not a git checkout"
REMOVED = "removed"
REQUIRED = ("date", "commit", "claim", "what", "why", "data_seen", "verdict_before", "verdict_after")
OPTIONAL = ("reading", "digest_before", "digest_after")
# the sources whose uncommitted changes make a run's commit "-dirty" (what a digest covers: claims/digest.py)
DECLARING_PATHS = ("claims/catalogue", "claims/theory", "claims/stats.py", "claims/aggregate.py")


class AmendmentsError(ValueError):
    """A malformed amendments log or pinned-digests file (names the file and the entry or line)."""


def key(claim_id: str, reading: str | None = None) -> str:
    """``CLAIM_ID`` or ``CLAIM_ID@READING``: how the pinned file and the log name a declaration."""
    return f"{claim_id}@{reading}" if reading else claim_id


def current_digests(claims: Sequence[Any] | None = None) -> dict[str, str]:
    """The declaration digest of every claim and reading of the catalogue (or of ``claims``), by key."""
    out: dict[str, str] = {}
    for claim in all_claims() if claims is None else claims:
        out[key(claim.id)] = claim.declaration()
        for reading in claim.readings:
            out[key(claim.id, reading.name)] = claim.reading_declaration(reading)
    return out


def render_pinned(digests: Mapping[str, str]) -> str:
    """The pinned-digests file's text for ``digests``."""
    head = ("# Declaration digests of every claim and reading (claims/digest.py), pinned. A digest changes only\n"
            "# together with an [[amendment]] in amendments.toml whose digest_after is the new digest\n"
            "# (docs/preregistration.md). Print the current ones with `resnet-claims list --digests`.\n")
    return head + "".join(f"{k} {d}\n" for k, d in digests.items())


def load_pinned(path: Path | None = None) -> dict[str, str]:
    """The pinned digests by key (default: PINNED_PATH)."""
    path = PINNED_PATH if path is None else path
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = body.split()
        if len(parts) != 2:
            raise AmendmentsError(f"{path}:{number}: expected 'CLAIM_ID[@READING] DIGEST', got {line!r}")
        out[parts[0]] = parts[1]
    return out


def load_log(path: Path | None = None) -> list[dict[str, Any]]:
    """The amendments log's entries in file order (default: LOG_PATH), each checked for its keys and date."""
    path = LOG_PATH if path is None else path
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise AmendmentsError(f"{path}: cannot read the amendments log ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise AmendmentsError(f"{path}: not valid TOML ({exc})") from None
    entries = data.get("amendment", [])
    for i, entry in enumerate(entries, 1):
        where = f"{path}: [[amendment]] number {i} ({entry.get('claim', '?')})"
        missing = [k for k in REQUIRED if not (isinstance(entry.get(k), str) and (entry[k].strip() or k == "commit"))
                   and not (k == "claim" and _claim_list(entry.get(k)))]
        unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
        if missing or unknown:
            raise AmendmentsError(f"{where}: missing or empty field(s) {missing}, unknown field(s) {unknown}; "
                                  f"fields: {', '.join(REQUIRED)} (required), {', '.join(OPTIONAL)} (optional)")
        try:
            dt.date.fromisoformat(entry["date"])
        except ValueError:
            raise AmendmentsError(f"{where}: date {entry['date']!r} is not YYYY-MM-DD") from None
        for field in ("digest_before", "digest_after"):
            if not isinstance(entry.get(field, ""), (str, dict)):
                raise AmendmentsError(f"{where}: {field} must be a digest or a table of digests by key")
    return entries


def _claim_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def claims_of(entry: Mapping[str, Any]) -> list[str]:
    """The claim ids an entry names: one id, or a list of ids for a change of shared code."""
    claim = entry["claim"]
    return list(claim) if isinstance(claim, list) else [claim]


def changes(entry: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The keys an entry moves, each with (digest before, digest after); empty for an entry without digests."""
    before, after = entry.get("digest_before", ""), entry.get("digest_after", "")
    if isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        return {k: (str(before.get(k, "")), str(v)) for k, v in after.items()}
    if not after:
        return {}
    return {key(c, entry.get("reading")): (str(before or ""), str(after)) for c in claims_of(entry)}


def chain_problems(log: Sequence[Mapping[str, Any]], pinned: Mapping[str, str],
                   current: Mapping[str, str]) -> list[str]:
    """What breaks the chain current digest == pinned digest == latest logged digest_after (each a
    line saying what to add or correct); empty when the declarations are as logged."""
    problems: list[str] = []
    last: dict[str, str] = {}
    for i, entry in enumerate(log, 1):
        for k, (before, after) in changes(entry).items():
            if k in last and before != last[k]:
                problems.append(f"amendment {i} ({entry['date']}, {k}): digest_before {before or '(empty)'} is not "
                                f"the digest_after of the previous entry for {k}, {last[k]}")
            last[k] = after
    for k, digest in current.items():
        if pinned.get(k) != digest:
            problems.append(f"{k}: the declaration changed (pinned {pinned.get(k, 'nothing')}, now {digest}). Add "
                            f"an [[amendment]] (`python -m claims.preregistration` prints one with the digests "
                            f"filled in) to claims/catalogue/amendments.toml with what changed, why, the data "
                            f"seen and the verdict before and after at the same seed and budget, digest_before = "
                            f"\"{last.get(k, '')}\", digest_after = \"{digest}\", and set the line '{k} {digest}' in "
                            f"claims/catalogue/declarations.txt")
        elif last.get(k) != digest:
            problems.append(f"{k}: pinned digest {digest} is not the digest_after of any amendment (latest: "
                            f"{last.get(k, 'none')}); the pinned file changed without an [[amendment]] entry")
    for k in sorted(set(pinned) - set(current)):
        problems.append(f"{k}: pinned in claims/catalogue/declarations.txt but no longer declared; remove the line "
                        f"and log an [[amendment]] with digest_after = \"{REMOVED}\"")
    for k in sorted(set(last) - set(current)):
        if last[k] != REMOVED and k not in pinned:
            problems.append(f"{k}: no longer declared, but its latest amendment's digest_after is {last[k]}, not "
                            f"\"{REMOVED}\"")
    return problems


def skeleton(log: Sequence[Mapping[str, Any]], pinned: Mapping[str, str], current: Mapping[str, str],
             date: str | None = None) -> str:
    """A ready-to-fill [[amendment]] for every key whose digest moved since it was pinned (digest tables
    filled in, text fields left to write); empty when nothing moved."""
    last: dict[str, str] = {}
    for entry in log:
        last.update({k: after for k, (_, after) in changes(entry).items()})
    moved = [k for k in current if pinned.get(k) != current[k]] + sorted(set(pinned) - set(current))
    if not moved:
        return ""
    claims = sorted({k.split("@", 1)[0] for k in moved})
    claim = f'"{claims[0]}"' if len(claims) == 1 else "[" + ", ".join(f'"{c}"' for c in claims) + "]"
    lines = ["[[amendment]]", f'date = "{date or dt.date.today().isoformat()}"', 'commit = ""', f"claim = {claim}"]
    lines += [f'{field} = ""  # to write' for field in REQUIRED[3:]]
    lines += ["[amendment.digest_before]"] + [f'"{k}" = "{last.get(k, pinned.get(k, ""))}"' for k in moved]
    lines += ["[amendment.digest_after]"] + [f'"{k}" = "{current.get(k, REMOVED)}"' for k in moved]
    return "\n".join(lines) + "\n"


def is_recording(entry: Mapping[str, Any]) -> bool:
    """An entry that records digests (claim ``*``) rather than amending a declaration."""
    return entry.get("claim") == "*"


def data_was_seen(entry: Mapping[str, Any]) -> bool:
    """Whether the claim had been measured when the entry's change was made ("none..." says it had not)."""
    return not str(entry.get("data_seen", "")).strip().lower().startswith("none")


def amendments_for(claim_id: str, log: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The log's amendments of one claim and its readings, in order (digest recordings left out)."""
    entries = load_log() if log is None else log
    return [dict(e) for e in entries if claim_id in claims_of(e) and not is_recording(e)]


def amendment_text(entry: Mapping[str, Any]) -> str:
    """One amendment as a few lines of text (``resnet-claims list --verbose``)."""
    target = ", ".join(key(c, entry.get("reading")) for c in claims_of(entry))
    commit = entry["commit"] or "not yet committed"
    return (f"{entry['date']} ({commit}) {target}: {entry['what']}\n      why: {entry['why']}\n"
            f"      data seen: {entry['data_seen']}\n      before: {entry['verdict_before']}\n"
            f"      after: {entry['verdict_after']}")


def describe(claim: Any) -> str:
    """Kind, digest and amendments of a claim (``resnet-claims list --verbose ID``)."""
    entries = amendments_for(claim.id)
    measured = [e for e in entries if data_was_seen(e)]
    lines = [f"    kind: {claim.kind} ({claim.kind_why})", f"    declaration digest: {claim.declaration()}"]
    for reading in claim.readings:
        flag = f" (not counted: {reading.degenerate})" if reading.degenerate else ""
        lines.append(f"        @{reading.name}: {claim.reading_declaration(reading)}{flag}")
    if claim.positive_controls:
        lines.append(f"    positive controls: {', '.join(claim.positive_controls)}")
    lines.append(f"    amendments: {len(entries)}" + (f", {len(measured)} made after data had been seen" if measured else ""))
    lines += [f"    - {amendment_text(e)}" for e in entries]
    return "\n".join(lines)


@functools.lru_cache(maxsize=None)
def package_commit() -> str:
    """The git commit of the checkout the package runs from, "-dirty" when its declaring sources
    (DECLARING_PATHS) have uncommitted changes; NOT_GIT for an installed copy or without git."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    head = git("rev-parse", "HEAD")
    if not top or not head or Path(top).resolve() != root:
        return NOT_GIT
    dirty = git("status", "--porcelain", "--", *DECLARING_PATHS)
    return head + ("-dirty" if dirty else "")


if __name__ == "__main__":  # python -m claims.preregistration: the amendment to add for the declarations that moved
    print(skeleton(load_log(), load_pinned(), current_digests()) or "every declaration is as pinned", end="")

