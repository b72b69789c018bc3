"""Bank files in the formats Meta's tools read and write.

- `te` (default): one "<signal_type> <signal>" per line, what threatexchange's LocalFileSignalExchangeAPI
  (the "file" exchange HMA and the `threatexchange` CLI fetch from) reads and appends to.
- `csv`: the table `threatexchange dataset -P --csv` prints: a header `signal_type,signal_str,collab,category,
  tags`, then one row per signal (extra columns are kept as the entry's note on import).

A file is parsed whole and every line checked before anything is stored: one bad line refuses the file,
naming the line and why (threatexchange's own reader skips lines it cannot split, which would import a
damaged list half-way without a word).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from safety.hashbank.signals import MD5, PDQ, SHA256, SIGNAL_TYPES, SignalError, normalise

FORMATS = ("te", "csv")
CSV_HEADER = ("signal_type", "signal_str", "collab", "category", "tags")
# ThreatExchange's indicator type names (its API and `simple.<TYPE>.te` files) for the same signals
INDICATOR_TYPES = {"HASH_PDQ": PDQ, "HASH_VIDEO_MD5": MD5, "HASH_VIDEO_SHA256": SHA256}
MAX_ERRORS_SHOWN = 5


class BankFileError(ValueError):
    """A bank file that cannot be imported; nothing of it was."""


@dataclass(frozen=True)
class FileSignal:
    signal_type: str
    signal: str  # normalised
    note: str
    line: int


def _type(name: str) -> str:
    name = name.strip()
    return INDICATOR_TYPES.get(name.upper(), name.lower())


def detect_format(text: str) -> str:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return "csv" if first.replace(" ", "").lower().startswith("signal_type,") else "te"


def parse(text: str, fmt: str | None = None) -> list[FileSignal]:
    """Every signal of the file, normalised; raises BankFileError naming the first bad lines."""
    fmt = fmt or detect_format(text)
    if fmt not in FORMATS:
        raise BankFileError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    rows = _csv_rows(text) if fmt == "csv" else _te_rows(text)
    out: list[FileSignal] = []
    errors: list[str] = []
    for line, stype, signal, note in rows:
        try:
            if stype not in SIGNAL_TYPES:
                raise SignalError(f"unknown signal type {stype!r} (known: {', '.join(SIGNAL_TYPES)})")
            out.append(FileSignal(stype, normalise(stype, signal), note, line))
        except SignalError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise BankFileError(f"{len(errors)} bad line(s), nothing imported: "
                            + "; ".join(errors[:MAX_ERRORS_SHOWN]) + more)
    if not out:
        raise BankFileError("the file holds no signals")
    return out


def _te_rows(text: str) -> Iterable[tuple[int, str, str, str]]:
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        stype, _, signal = raw.strip().partition(" ")
        if not signal.strip():
            raise BankFileError(f"line {n}: expected '<signal_type> <signal>', got {raw[:80]!r}; nothing imported")
        yield n, _type(stype), signal.strip(), ""


def _csv_rows(text: str) -> Iterable[tuple[int, str, str, str]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != list(CSV_HEADER[:2]):
        raise BankFileError(f"a CSV bank file starts with the header {','.join(CSV_HEADER)}; nothing imported")
    for row in reader:
        n = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            raise BankFileError(f"line {n}: expected at least signal_type,signal_str; nothing imported")
        note = "; ".join(f"{k}={v}" for k, v in zip(header[2:], row[2:], strict=False) if v.strip())
        yield n, _type(row[0]), row[1].strip(), note[:500]


def write(signals: Iterable[tuple[str, str, str]], fmt: str = "te", collab: str = "") -> str:
    """(signal_type, signal, note) rows as a bank file."""
    if fmt not in FORMATS:
        raise BankFileError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "te":
        return "".join(f"{t} {s}\n" for t, s, _ in signals)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for t, s, note in signals:
        w.writerow((t, s, collab, "", note))
    return buf.getvalue()
