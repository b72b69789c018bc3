"""Payload coding shared by the video and audio watermarks: Reed-Solomon ECC, keyed cell layout,
soft decoding with erasures, and a false-positive bound.

Layout: a 16x16 grid of cells (256). A keyed +-1 sync pattern covers every cell (it is what the
detector searches for to find the grid's offset and scale). On top of it, each of the 128 coded bits
owns 2 keyed cells with keyed signs. The video tiles this grid over the frame; the audio lays it
over (time x frequency band).

False positive bound (what `p_value` reports): under "no watermark" the soft bits are symmetric and
independent, so for any fixed codeword c, P(sum c_i s_i >= t * ||s||) <= exp(-t^2/2) (Hoeffding on
random signs). A union bound over all 2^64 payloads gives p_payload <= 2^64 exp(-T^2/2) however the
decoder picked c. The sync statistic is independent of the payload cells and its own p-value
(Gaussian tail, Bonferroni over every shift/scale tried) multiplies in.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

GRID = 16
N_CELLS = GRID * GRID
PAYLOAD_BYTES = 8
PARITY_BYTES = 8
N_CODED_BITS = (PAYLOAD_BYTES + PARITY_BYTES) * 8  # 128
CELLS_PER_BIT = N_CELLS // N_CODED_BITS  # 2
DEFAULT_KEY = "reelgate-watermark-v1"
LOG_2_64 = 64 * math.log(2)

_rs = RSCodec(PARITY_BYTES)


class Layout:
    """The keyed sync pattern and bit-to-cell assignment for one key (and one medium salt)."""

    def __init__(self, key: str = DEFAULT_KEY, salt: str = "video") -> None:
        seed = int.from_bytes(hashlib.sha256(f"{key}|{salt}".encode()).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        self.sync = rng.choice(np.array([-1.0, 1.0]), size=N_CELLS)  # per cell
        perm = rng.permutation(N_CELLS)
        self.bit_of_cell = np.empty(N_CELLS, dtype=np.int64)
        self.bit_of_cell[perm] = np.arange(N_CELLS) % N_CODED_BITS
        self.cell_sign = rng.choice(np.array([-1.0, 1.0]), size=N_CELLS)
        # scramble so an all-zero payload is not a constant pattern
        self.whitening = rng.integers(0, 2, size=N_CODED_BITS).astype(np.uint8)

    def cell_values(self, coded_bits: np.ndarray, sync_weight: float = 1.0) -> np.ndarray:
        """Per-cell signal (256,) for coded bits in {0,1}: sync + payload, both +-1."""
        b = (coded_bits.astype(np.uint8) ^ self.whitening).astype(np.float64) * 2 - 1
        return sync_weight * self.sync + b[self.bit_of_cell] * self.cell_sign

    def soft_bits(self, cells: np.ndarray) -> np.ndarray:
        """Soft coded bits (positive = 1) from measured per-cell values, sync contribution removed."""
        cells = np.asarray(cells, dtype=np.float64).ravel()
        alpha = float(cells @ self.sync) / N_CELLS
        resid = cells - alpha * self.sync
        soft = np.zeros(N_CODED_BITS)
        np.add.at(soft, self.bit_of_cell, resid * self.cell_sign)
        return np.where(self.whitening == 1, -soft, soft)


def encode_payload(payload: bytes) -> np.ndarray:
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"payload must be exactly {PAYLOAD_BYTES} bytes (64 bits), got {len(payload)}")
    code = bytes(_rs.encode(payload))
    return np.unpackbits(np.frombuffer(code, dtype=np.uint8))


def _try_decode(hard: np.ndarray, erase: list[int]) -> bytes | None:
    data = bytearray(np.packbits(hard.astype(np.uint8)).tobytes())
    try:
        msg, _, _ = _rs.decode(data, erase_pos=erase or None)
    except (ReedSolomonError, ValueError, IndexError):
        return None
    return bytes(msg)


def decode_soft(soft: np.ndarray) -> bytes | None:
    """Hard RS decode; if that fails, retry with the least reliable bytes erased (soft information)."""
    hard = (soft > 0).astype(np.uint8)
    msg = _try_decode(hard, [])
    if msg is not None:
        return msg
    byte_rel = np.abs(soft).reshape(-1, 8).min(axis=1)
    order = list(np.argsort(byte_rel))
    for n_erase in (2, 4, 6):
        msg = _try_decode(hard, sorted(int(i) for i in order[:n_erase]))
        if msg is not None:
            return msg
    return None


def payload_statistic(soft: np.ndarray, payload: bytes) -> tuple[float, float, float]:
    """(T, bit agreement, log p_payload) for a candidate payload."""
    code = encode_payload(payload).astype(np.float64) * 2 - 1
    norm = float(np.linalg.norm(soft)) or 1e-12
    t = float(code @ soft) / norm
    agree = float(np.mean((soft > 0) == (code > 0)))
    log_p = min(0.0, LOG_2_64 - t * t / 2) if t > 0 else 0.0
    return t, agree, log_p


def log_gauss_tail(z: float) -> float:
    """log P(N(0,1) >= z), stable for large z."""
    if z < 5:
        return math.log(max(1e-300, 0.5 * math.erfc(z / math.sqrt(2))))
    return -z * z / 2 - math.log(z * math.sqrt(2 * math.pi)) + math.log1p(-1 / (z * z))


def bonferroni_log_p(z: float, n_hypotheses: int) -> float:
    return min(0.0, math.log(max(1, n_hypotheses)) + log_gauss_tail(z))


def to_p(log_p: float) -> float:
    return float(math.exp(max(log_p, -745.0)))
