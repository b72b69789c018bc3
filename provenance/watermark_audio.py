"""Audio watermark: keyed +-dB gain pattern over (time cell x frequency band) of the soundtrack.

Same cell layout and code as the video (provenance/wm_code.py): 16 time cells of 128 ms (a 2.048 s
period, repeated) x 48 equal bands between 300 Hz and 7 kHz (3 per layout row). Working in seconds and Hz
makes it independent of the sample rate (resampling), band energies over 128 ms survive AAC at 64 kb/s,
and the detector finds the time offset (cuts, trims) by circular correlation with the sync pattern.

Why it now works on speech (format audio/2): syllable and formant swings of 20-30 dB per band drowned
a +-2 dB pattern read band by band. (1) The detector reads each band relative to the mean of its 4
neighbour bands in the same 16 ms hop (a local spectral envelope): loudness and formants move
neighbours together, the mark does not (neighbours carry independent keyed cells). Per-cell SNR on
speech rose 2-3x. (2) Informed embedding: the embedder runs the detector's own measurement on its
output and raises the gain only of layout rows (3 bands) that do not yet read their target with the
right sign, within +-MAX_GAIN_DB; cells the host already pushes the right way cost nothing. (3) The
sync p-value is the rank of the real sync pattern among 255 keyed decoys (exact under "no mark";
the old Gaussian-tail figure was over-confident: unmarked audio reached sync z 6.2). (4) Soft bits
are capped at their median magnitude: the cells the embedder could not win are big host outliers
that derailed the Viterbi decoder.

Inaudible by construction (format audio/3; the detector is unchanged, so audio/2 marks read the same):
the mark is a gain g on the host's own STFT, so what it adds to a cell is (g - 1) x. (5) |g - 1| is
capped per (bin, 16 ms frame) so that, summed over a critical band, the addition stays within
-MASK_MARGIN_DB of the host's Johnston masking threshold (band energy spread over Bark by Schroeder's
function, lowered by 5.5 dB for a noise-like frame up to 14.5 + z dB for a tonal one). (6) Frames more
than SILENCE_DB below the loudest are untouched (silence and noise floors stay as they were; the gate is
per frame, a per-bin gate flickered along the noise floor: musical noise). (7) An overall SNR floor:
the whole pattern is shrunk (bisection in dB) until the mark is SNR_FLOOR_DB below the host.

Measured (`python -m evals.watermark_audio`, AAC 64 kb/s + 22.05 kHz, cuts of 3/4/5/7/10 s; the eval
prints the per-clip table and the balance table): audio/2 marked a quiet generated soundtrack at 6.6 dB
SNR and another at 5.0 dB, with a mark-to-mask ratio (NMR) up to +22 dB; speech NMR +3.2 dB worst,
30% of speech cells over the masking threshold. Now (mark at most 3 dB over the threshold): speech
NMR -2.4 dB worst, 16% of cells over, min SNR 11.2 dB, PESQ-WB of marked vs original speech 4.13-4.47
(AAC 64 kb/s alone: 4.02-4.53). Cost (this comparison's set still held a file found since to be held
out, LJSpeech, with 4 of its cuts; today's figures without it close this docstring): speech found in 13/19
cuts (audio/2: 15/19; JFK needs 7 s instead of 4 s, CMU ARCTIC from 3 s, eSpeak NG from 7 s), all sources 26/41
(audio/2 33/41: the tonal guitar bed and the sparse quiet soundtracks can no longer carry a mark
inaudibly). Exactly at the threshold: speech 8/19. An SNR floor of 20 dB instead of the masking bound:
speech 2/19, and still NMR +8 dB on one bed (SNR is not a perceptual measure; the floor here is a
10 dB backstop). 0/282 false positives, lowest log10 p -2.41. Tried and not kept: a larger gain bound
with the threshold shared by energy (same detection-vs-NMR curve), inverse-variance cell weights in
the detector, a lower sync weight, reading bands as mean log power (all no better on this set).
Embed 0.3-1 s per 10 s of 48 kHz stereo. Digital silence cannot carry a gain mark at all.

Re-upload edits (issue 21; the embedding is unchanged, so every audio/2-3 mark reads the same way): a
speed change (resampling) moves the cells in time and the bands in frequency by the same factor, a
pitch-preserving tempo change (WSOLA, phase vocoder) moves time only. (8) The detector reads the clip under
49 (time scale, frequency scale) hypotheses, +-6% in 0.5% steps in both families, from one spectrogram
(band edges scaled through a cumulative sum over bins, hops resampled along time), ~0.15 s of CPU per
10 s. (9) Exact p-values over the search: every pattern (real and decoys) is scored by its best z over all
hypotheses, so the rank stays exact; a second test at the unchanged scale alone (codecs, mixing, cuts
need no search, and there the decoys score lower) shares the error budget (weighted Bonferroni, half
each). (10) The payload is read at the unchanged scale and at the search's 3 best peaks (the sync alone
is weak: a wrong scale can outscore the right one by a little), each refined in 0.1% steps; the search's
bound is multiplied by its 3 reads. Tried and not kept: requiring every period to reach its targets in
the informed loop (excerpts +0.5-1 in t, but PESQ -0.1 to -0.2 and 1 dB less SNR); per-band or per-hop
robust scaling and other outlier clips in the detector (+-0.3 in t, mixed).
Measured without the held-out LJSpeech file (`python -m evals.watermark_audio --only attacks`, 11 clips of up
to 10 s, load average 6.2-6.8): exact payload after AAC/MP3/Opus 64 kb/s, speed +-5%, tempo +-5% and speed
+3% + MP3 on 10/11 clips each (the 11th, a quiet sparse generated soundtrack at 33 dB SNR, carries no mark
even unedited; before the search, speed and tempo +-5% lost the mark on JFK at p 0.02-0.8); music 6 dB
under the clip 6/11, the 5-s excerpt 8/11; 0 / 2242 false positives (lowest log10 p -2.11); detection
0.22 s CPU per 10 s (median). By clip length after AAC (`--only length`, load 6.2-9.4): 25/37 cuts, speech
with eSpeak 11/15 (JFK from 7 s, CMU ARCTIC from 3 s, eSpeak NG from 4 s); 0 / 274 false positives (lowest
log10 p -1.63).

Session 13 (issue 21; detector only, the embedder is unchanged: every audio/2-3 mark reads with it). (11) A band is
read as the power mean of its STFT bins with exponent READ_POWER = 0.1 (close to the mean of their log powers)
instead of their sum: the mark is one gain on every bin of a band, while a louder sound mixed in (a music bed's
harmonics) fills a few bins of it, and a sum follows those few. Bins are floored at READ_FLOOR = 1e-6 x the clip's
mean in-band bin power (below it is codec and resampler noise; the old absolute floor made the read depend on the
level). (12) With that read the detector clips whitened values at READ_CLIP_MADS = 1.5 and soft bits at SOFT_CLIP =
1.5 x their median (2.0 and 1.0 were chosen for the sum read; the embedder's own measurement keeps CLIP_MADS = 2.0,
which is part of the mark). (13) Hops more than READ_SILENCE_DB = 20 dB below the clip's median level (mean log band
power) add nothing to the fold: in a TTS voice's digital silence the whitening leaves only the band envelopes'
differences, a static offset that folds in as noise. Scratch runs on the attack table's marked copies (10 clips that
carry a mark), detector alone: the music bed 6 dB under at 7 offsets 0-3 s: sum read 49/70, power mean 67/70, with
(12) 70/70, with (13) 70/70; every 5-s excerpt 0.5 s apart 73 / 86 / 93 / 97 of 105 (eSpeak NG 0 / 0 / 2 / 6 of 11;
skipping hops 13 / 17 / 22 / 30 / 43 dB down: 95 / 97 / 98 / 96 / 93); the other edits 90/90 throughout. Short
synthetic clips (tone and noise, 3/4/5 s x 8 seeds, through embed_clip's AAC): 16 / 15 / 16 of 24 (under two sync
periods the noise-like host favours the sum's steadier estimate); the 4-s clip of tests/test_watermark_keys.py fell
from 10^-6.62 to 10^-5.54 there (its fixture is now 6 s).
`python -m evals.watermark_audio --only attacks` (load 2.1): every clip that carries a mark is found after every
edit, 10/11 on each column (music 6 dB under the clip 6/11 -> 10/11, the middle 5-s excerpt 8/11 -> 10/11; the 11th
clip carries no mark, below); every 5-s excerpt 0.5 s apart 97/116 (0/11 on the 11th); 0 / 2358 false positives (the
unmarked excerpts added), lowest log10 p -2.11; detection 0.20 s CPU per 10 s (median; sum read 0.146 s, power mean
0.162 s back to back in a scratch run at load ~5: the powers cost ~10%). Before (13), load 3.6: the same but the
middle excerpt 9/11 (eSpeak NG), excerpts 93/116, 0 / 2358, 0.19 s. With the published clip's own AAC encode first
(`--published default --fp-windows 100`, load 2.7): the same columns but the middle excerpt 9/11 (eSpeak NG), every
5-s excerpt 85/116 (eSpeak NG 0/11, tone+noise 7/11), 0 / 458 false positives, lowest log10 p -2.11: that encode
costs the short excerpts their margin.
`--only length` (load ~1): 25/37 -> 30/37 cuts after AAC (speech with eSpeak NG 11/15 as before: JFK at 4, 7, 10 s,
CMU ARCTIC from 4 s (10^-5.78 at 3 s), eSpeak NG from 4 s; the generated beds gained), 0 / 274 false positives,
lowest log10 p -2.11; the audibility columns are unchanged (the same embedder). Before (13): 30/37 too (CMU ARCTIC
from 3 s, eSpeak NG from 5 s).
Still lost: 5 of eSpeak NG's 11 5-s excerpts (per-cell SNR 0.7-0.9 in 5 s before (13), 1.5 over its 10 s: the
informed loop cancels the host's pattern over the whole clip only) and the paper-plane soundtrack (digital silence
but for two short sounds: a gain mark has nothing to scale there; only an added signal could carry it).
Tried and not kept (scratch, same copies): exponents 0.2-0.5 (0.25: excerpts 85 vs 86, music 62 vs 67; 0.5: 78, 56),
a mean of per-bin logs whitened and clipped per bin or their median (no better than 0.1), floors 1e-5 and 1e-7-1e-8
(music 0.915 vs 0.931 raw; excerpts 83-82/105), per-frame floors (no better), STFT windows of 2, 3, 6, 8 hops (4
best), NEIGHBOUR_BANDS 2/6, per-band weights from the period-to-period scatter (16 cells a band: too noisy, unedited
raw 0.98 -> 0.90), per-cell inverse-variance or t weights (0.003-0.013 lower raw everywhere), zeroing hops near the
floor band by band (not whole hops), the sum and power-mean folds added (excerpts 80-87, music 58-61), a full-period
envelope at the clip's edges (short synthetic clips 20/24 but excerpts 86-89, music 65-68).
Embedder side, measured with the power-mean read before (12), not shipped (the limits: speech NMR -2.4 dB worst, 16%
of cells over the mask, min SNR 11.2 dB, PESQ-WB 4.13 lowest): MARGIN 1.2 / 1.3 / 1.6 bought 5-s excerpts 94 / 95 /
99 of 105 (86 at 1.0) at speech NMR -2.5 / -2.3 / -1.8 dB worst, 18 / 19 / 24% of cells over, PESQ down to 4.135 /
4.12 / 4.08; MARGIN 1.3 with MASK_MARGIN_DB -2 stayed inside every limit (NMR -2.9, 12%, PESQ 4.14-4.43, SNR 11.4)
with excerpts 93/105 but lost the quiet red-ball bed under music at 4 of 7 offsets (64/70 vs 67/70); MARGIN 1.5 with
MASK_MARGIN_DB -2 / -1.5 took the kitchen to SNR 10.7 / 11.0 dB; the informed loop measuring with the power mean
itself: excerpts 85, music 60/70 (worse).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from scipy.fft import irfft
from scipy.ndimage import uniform_filter1d
from scipy.signal import get_window, resample_poly, stft

from provenance import wm_code
from provenance.wm_code import GRID, Layout

HOP_S = 0.016
HOPS_PER_CELL = 8
CELL_S = HOP_S * HOPS_PER_CELL  # 0.128 s
PERIOD_HOPS = HOPS_PER_CELL * GRID  # 128 hops = 2.048 s
N_BANDS = 3 * GRID  # band j carries layout row j % 16: each row is spread over 3 distant bands
BAND_EDGES_HZ = np.linspace(300.0, 7000.0, N_BANDS + 1)  # >= 4 STFT bins per band
# the time-offset search has only 128 hypotheses, so the sync needs less power than the video's
SYNC_WEIGHT = 0.75
HOST_CANCEL = 0.6  # open-loop start of the informed embedding (pre-compensates the host's own pattern)
GAIN_DB = 0.8  # target per unit of cell value (cells in {+-0.25, +-1.75}); 1.1 found the same, 1-2 dB lower SNR
MAX_GAIN_DB = 8.0  # the loop's bound on any gain; the masking bound below is usually tighter (audio/2: 5)
N_ITER = 8  # embed -> measure -> correct rounds (each ~0.1 s for 10 s of 48 kHz stereo)
MARGIN = 1.0  # rows are pushed until they read MARGIN x their target
NEIGHBOUR_BANDS = 4  # local spectral envelope: 2 bands each side (3 and 9 measured worse on speech)
CLIP_MADS = 2.0  # the embedder's measurement clips whitened values at this many robust SDs (part of the mark)
N_DECOYS = 255  # min sync p-value 1/256; with the CRC (2^-16) that is 6e-8 < the 1e-6 threshold
SOFT_CLIP = 1.5  # soft bits capped at this x their median magnitude (1.0 for the sum read)
DETECT_RATE = 16000
SCALE_STEP = 0.005  # speed/tempo hypotheses 0.5% apart: at most 0.25% off, 25 ms drift over 10 s
SCALE_STEPS = 12  # +-6%
N_SEARCH_READS = 3  # the payload is read at this many of the search's best scale hypotheses
MIN_SECONDS = 1.0
READ_POWER = 0.1  # the detector reads a band as the power mean of its bins with this exponent (sum: 1)
READ_CLIP_MADS = 1.5  # the detector's clip of whitened values (CLIP_MADS for the sum read up to session 12)
READ_SILENCE_DB = 20.0  # hops this far below the clip's median level carry nothing: the detector skips them
READ_FLOOR = 1e-6  # bins are floored at this x the clip's mean in-band bin power before the power mean
MASK_MARGIN_DB: float | None = -3.0  # dB below the Johnston threshold (negative: allowed above it)
SILENCE_DB: float | None = 60.0  # frames this far below the clip's loudest frame are left untouched
SNR_FLOOR_DB: float | None = 10.0  # the whole mark stays at least this far below the host


def _to_mono(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2 and x.shape[0] == 2:
        # x.astype(float64).mean(axis=0) without the float64 copy of both channels (the same sum and halving, so
        # the same values bit for bit; 11 -> 2 ms of the embedder's 0.35 s on 10 s of 48 kHz stereo)
        mono = np.add(x[0], x[1], dtype=np.float64)
        mono /= 2
        return mono
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0) if x.ndim == 2 else x


def _resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    if sr_from == sr_to:
        return x
    g = math.gcd(sr_from, sr_to)
    return resample_poly(x, sr_to // g, sr_from // g, axis=-1)


class AudioMark:
    def __init__(self, key: str) -> None:
        self.layout = Layout(key, "audio")
        # reference (band, hop) sync pattern over one period
        self.sync_ref = np.repeat(self.layout.sync.reshape(GRID, GRID), HOPS_PER_CELL, axis=1)
        # decoy sync patterns (keyed, independent of the real one): under "no mark" the real pattern is
        # exchangeable with them, so its rank among them is an exact Monte Carlo p-value for the sync
        seed = int.from_bytes(hashlib.sha256(f"{key}|audio-decoys".encode()).digest()[:8], "big")
        decoys = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(N_DECOYS, GRID, GRID))
        refs = np.concatenate([self.layout.sync.reshape(1, GRID, GRID), decoys])
        self._ref_rfft = np.conj(np.fft.rfft(np.repeat(refs, HOPS_PER_CELL, axis=2), axis=2))

    def _cell_grid(self, payload: bytes) -> np.ndarray:
        coded = wm_code.encode_payload(payload)
        return self.layout.cell_values(coded, SYNC_WEIGHT).reshape(GRID, GRID)  # (band row, time cell)

    def embed(self, x: np.ndarray, sr: int, payload: bytes) -> np.ndarray:
        """Mark float audio (channels, samples) or (samples,) at any rate; same shape out."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape[-1] < int(MIN_SECONDS * sr):
            return x.copy()
        canvas = _Canvas(x, sr)
        target = self._cell_grid(payload)[np.arange(N_BANDS) % GRID] * GAIN_DB  # (band, cell) in dB
        # informed embedding: measure what the detector will read (host + mark) and correct only the
        # cells that do not yet reach their target with the right sign; the host's own pattern is the
        # main noise on speech, so the loop cancels it where the masking bound allows
        gain = target - np.clip(HOST_CANCEL * self._host_cells_db(x, sr), -2.0, 2.0)
        y = canvas.apply(gain)
        for _ in range(N_ITER):
            got = self._host_cells_db(y, sr)
            # the detector sums the 3 bands of a layout row: a row is won when their mean reaches
            # the target, so bands already past it pay for the others
            got = np.tile(got.reshape(N_BANDS // GRID, GRID, GRID).mean(axis=0), (N_BANDS // GRID, 1))
            err = np.where(target > 0, np.maximum(0.0, target * MARGIN - got), np.minimum(0.0, target * MARGIN - got))
            if not np.any(err):
                break
            gain = np.clip(gain + err, -MAX_GAIN_DB, MAX_GAIN_DB)
            y = canvas.apply(gain)
        # the overall SNR floor: shrink the whole pattern (in dB) until the mark is SNR_FLOOR_DB below
        # the host (the per-cell masking bound alone lets a host with little headroom take a lot)
        if SNR_FLOOR_DB is not None and snr_db(x, y) < SNR_FLOOR_DB:
            lo, hi = 0.0, 1.0
            for _ in range(7):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if snr_db(x, canvas.apply(gain * mid)) >= SNR_FLOOR_DB else (lo, mid)
            y = canvas.apply(gain * lo)
        return y

    def _band_energies(self, x: np.ndarray, sr: int) -> np.ndarray:
        mono = _resample(_to_mono(x), sr, DETECT_RATE)
        hop = int(round(HOP_S * DETECT_RATE))
        nper = 4 * hop  # a longer window than the embedder's: steadier band energies per hop
        f, _, z = stft(mono, fs=DETECT_RATE, nperseg=nper, noverlap=nper - hop, boundary="even", padded=True)
        p = np.abs(z) ** 2
        band_idx = np.searchsorted(BAND_EDGES_HZ, f, side="right") - 1
        e = np.stack([p[band_idx == b].sum(axis=0) for b in range(N_BANDS)])
        return np.log(e + 1e-10)

    @staticmethod
    def _band_fold(le: np.ndarray, clip_mads: float, skip: np.ndarray | None = None) -> np.ndarray:
        """Whitened log band energies folded onto one period: (N_BANDS, PERIOD_HOPS); hops in `skip` add 0."""
        d = AudioMark._whiten(le, clip_mads)
        if skip is not None:
            d[:, skip] = 0.0
        d = np.pad(d, ((0, 0), (0, (-d.shape[1]) % PERIOD_HOPS)))
        return d.reshape(N_BANDS, -1, PERIOD_HOPS).sum(axis=1)

    @staticmethod
    def _whiten(le: np.ndarray, clip_mads: float) -> np.ndarray:
        """Log band energies (N_BANDS, hops) with the band envelopes and the local spectral envelope removed."""
        # remove each band's envelope over one period (a shorter window eats the mark's own cell
        # pattern: measured), then the local spectral envelope; clip outliers (onsets)
        d = le - uniform_filter1d(le, size=PERIOD_HOPS, axis=1, mode="nearest")
        # each band relative to the mean of its NEIGHBOUR_BANDS neighbours in the same hop: a local
        # spectral envelope that follows syllables and formants (their swings dwarf the mark), while
        # neighbouring bands carry independent keyed cells so the mark survives the subtraction
        k = NEIGHBOUR_BANDS + 1
        d = d - (uniform_filter1d(d, size=k, axis=0, mode="nearest") * k - d) / NEIGHBOUR_BANDS
        lim = clip_mads * np.median(np.abs(d)) * 1.4826 + 1e-9
        return np.clip(d, -lim, lim)

    def _host_cells_db(self, x: np.ndarray, sr: int) -> np.ndarray:
        """The content's own per-(band, cell) component as the detector will see it, in dB."""
        le = self._band_energies(x, sr)
        counts = np.bincount(np.arange(le.shape[1]) % PERIOD_HOPS, minlength=PERIOD_HOPS)
        fold = self._band_fold(le, CLIP_MADS) / np.maximum(counts, 1)
        host = fold.reshape(N_BANDS, GRID, HOPS_PER_CELL)[:, :, 1:-1].mean(axis=2)
        return host * (10 / math.log(10))

    def detect(self, x: np.ndarray, sr: int) -> dict:
        n = np.asarray(x).shape[-1]
        if n < int(MIN_SECONDS * sr):
            return wm_code.decide(None, 0.0, {"seconds": round(n / max(sr, 1), 3), "note": "too short"})
        spec = _Spectrogram(x, sr)
        # the sync search: every (time scale, frequency scale) hypothesis, every circular time offset,
        # for the real sync pattern and the 255 decoys alike. Each pattern's score is its best z over
        # the whole search, so the real pattern's rank among the decoys stays an exact p-value under
        # "no mark" however many hypotheses are tried (no Bonferroni factor, no over-confidence)
        hyps = scale_hypotheses()
        zs = np.stack([self._sync_z(spec.rows(a, b)) for a, b in hyps])  # (hypothesis, pattern)
        # two tests, each with half the error budget (weighted Bonferroni): (A) the unchanged scale alone
        # (most edits keep it: codecs, mixing, cuts; no search, so the decoys score lower), read once;
        # (B) the whole search, read at its N_SEARCH_READS best hypotheses. Each test's sync p-value is
        # the real pattern's exact rank among the decoys scored the same way (in B, each pattern by its
        # best z over every hypothesis, so trying more scales makes nothing over-confident); each read is
        # a chance for the CRC to pass by luck, so B's bound is multiplied by its number of reads
        i0 = hyps.index((1.0, 1.0))
        best_z = zs.max(axis=0)
        rank_a = int(np.sum(zs[i0, 1:] >= zs[i0, 0]))
        rank_b = int(np.sum(best_z[1:] >= best_z[0]))
        log_p_a = min(0.0, math.log(2 * (1 + rank_a) / (N_DECOYS + 1)))
        log_p_b = min(0.0, math.log(2 * N_SEARCH_READS * (1 + rank_b) / (N_DECOYS + 1)))
        # A reads at the real pattern's best scale within +-0.2% (a finer step than the search's: its peak
        # is where the cells line up best); B where the real pattern peaks over the search (a wrong
        # scale can outscore the right one by a little: the sync alone is weak, the payload carries the
        # evidence), refined the same way
        real = zs[:, 0]
        reads = [(*self._refine(spec, 1.0, 1.0, float(real[i0])), log_p_a)]
        peaks = [int(i) for i in np.argsort(-real) if i != i0 and _local_max(real, hyps, int(i))]
        for i in peaks[:N_SEARCH_READS]:
            reads.append((*self._refine(spec, hyps[i][0], hyps[i][1], float(real[i])), log_p_b))
        best: dict | None = None
        for a, b, log_p in reads:
            res = self._read(spec.rows(a, b), log_p)
            res.update(sync_z=round(float(best_z[0]), 2), seconds=round(n / sr, 3), speed=round(a, 4),
                       pitch=round(b, 4))
            if best is None or res["log10_p"] < best["log10_p"]:
                best = res
        assert best is not None
        return best

    def _refine(self, spec: _Spectrogram, a: float, b: float, z: float) -> tuple[float, float]:
        """The best scale near a hypothesis by the real pattern alone (steps of a fifth of SCALE_STEP)."""
        best = (z, a, b)
        for d in (-2, -1, 1, 2):
            f = 1 + d * SCALE_STEP / 5
            a2, b2 = a * f, (b * f if b != 1.0 else 1.0)
            z2 = float(self._sync_z(spec.rows(a2, b2), real_only=True)[0])
            if z2 > best[0]:
                best = (z2, a2, b2)
        return best[1], best[2]

    def _read(self, fold: np.ndarray, log_p_sync: float) -> dict:
        """Decode the payload from a folded grid at its best sync offset."""
        corr = np.fft.irfft((np.fft.rfft(fold, axis=1) * self._ref_rfft[0]).sum(axis=0), n=PERIOD_HOPS)
        k = int(np.argmax(corr))
        aligned = np.roll(fold, -k, axis=1)
        # central hops of each cell only (the edges are blurred by the STFT window and smoothing)
        per_cell = aligned.reshape(GRID, GRID, HOPS_PER_CELL)[:, :, 1:-1].mean(axis=2)
        soft = self.layout.soft_bits(per_cell.ravel())
        if SOFT_CLIP:
            # the cells the embedder could not win are the host's big outliers: a confident wrong soft
            # bit derails the Viterbi decoder, so cap every bit's say (symmetric: the FP bound holds)
            lim = SOFT_CLIP * float(np.median(np.abs(soft))) + 1e-12
            soft = np.clip(soft, -lim, lim)
        return wm_code.decide(soft, log_p_sync, {"offset_s": round(k * HOP_S, 3)})

    def _sync_z(self, fold: np.ndarray, real_only: bool = False) -> np.ndarray:
        """Peak z of the circular time correlation of a folded (row, hop) grid with each sync pattern."""
        # a broadcast product, not a BLAS matmul: many small batched products made OpenBLAS threads spin
        # (measured 30x slower on a loaded 2-core machine)
        ff = np.fft.rfft(fold, axis=1)
        refs = self._ref_rfft[:1] if real_only else self._ref_rfft
        return _peak_z_rows(np.fft.irfft((refs * ff).sum(axis=1), n=PERIOD_HOPS, axis=1))


def scale_hypotheses() -> list[tuple[float, float]]:
    """(time scale, frequency scale) pairs the detector tries: a speed change moves both by the same
    factor (resampling), a tempo change moves time only (pitch-preserving stretch)."""
    steps = 1.0 + SCALE_STEP * np.arange(-SCALE_STEPS, SCALE_STEPS + 1)
    out = [(float(s), float(s)) for s in steps]
    out += [(float(s), 1.0) for s in steps if s != 1.0]
    return out


def _local_max(z: np.ndarray, hyps: list[tuple[float, float]], i: int) -> bool:
    """Whether hypothesis i scores at least as high as its neighbours in the same family."""
    a, b = hyps[i]
    fam = [j for j, (a2, b2) in enumerate(hyps) if (b2 == a2) == (b == a) or (a2 == 1.0 and b2 == 1.0)]
    near = [j for j in fam if j != i and abs(hyps[j][0] - a) < 1.5 * SCALE_STEP]
    return all(z[i] >= z[j] for j in near)


class _Spectrogram:
    """The clip's power spectrogram at DETECT_RATE, read as folded layout rows under a time/frequency scale."""

    def __init__(self, x: np.ndarray, sr: int) -> None:
        mono = _resample(_to_mono(x), sr, DETECT_RATE)
        hop = int(round(HOP_S * DETECT_RATE))
        nper = 4 * hop  # a longer window than the embedder's: steadier band energies per hop
        self.f, _, z = stft(mono, fs=DETECT_RATE, nperseg=nper, noverlap=nper - hop, boundary="even", padded=True)
        p = np.abs(z) ** 2
        # a band is read as the power mean of its bins (exponent READ_POWER, near the mean of log powers), not
        # their sum: the mark is the same gain on every bin of a band, while a louder sound mixed in (a music
        # bed's harmonics) fills a few bins, and a sum is ruled by those few. Bins far below the clip's mean
        # in-band power are floored (their log is codec and resampling noise; an absolute floor depends on level)
        in_band = (self.f >= BAND_EDGES_HZ[0]) & (self.f < BAND_EDGES_HZ[-1])
        floor = READ_FLOOR * float(np.mean(p[in_band])) + 1e-20
        self.cum = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum((p + floor) ** READ_POWER, axis=0)])

    def rows(self, a: float, b: float) -> np.ndarray:
        """Folded (GRID rows, PERIOD_HOPS) grid, reading the clip as if it had been played a x faster
        with its spectrum moved by b: band edges at b x the embedder's, hop h at clip time h / a."""
        idx = np.searchsorted(self.f, BAND_EDGES_HZ * b, side="left")
        n_bins = np.maximum(idx[1:] - idx[:-1], 1)[:, None]
        le = np.log((self.cum[idx[1:]] - self.cum[idx[:-1]]) / n_bins + 1e-30) / READ_POWER
        if a != 1.0:
            t = np.arange(int((le.shape[1] - 1) * a) + 1) / a
            i0 = np.minimum(t.astype(np.int64), le.shape[1] - 2)
            w = t - i0
            le = le[:, i0] * (1 - w) + le[:, i0 + 1] * w
        # hops far below the clip's median level (a TTS voice's digital silence between phrases) hold no mark:
        # there whitening leaves only the band envelopes' differences, a static offset that folds in as noise
        level = le.mean(axis=0)
        skip = level < np.median(level) - READ_SILENCE_DB * math.log(10) / 10
        fold = AudioMark._band_fold(le, READ_CLIP_MADS, skip)
        return fold.reshape(N_BANDS // GRID, GRID, PERIOD_HOPS).sum(axis=0)  # band j -> row j % 16


class _Canvas:
    """The host's STFT and its per-(bin, frame) masking bound, computed once per embed.

    Inaudible by construction: the mark is a gain g on the host's own STFT, so in each cell it adds
    (g - 1) x, and |g - 1| is capped so that this stays below the host's masking threshold there
    (Johnston 1988: the band energy spread over Bark, lowered by a tonality-dependent offset from
    5.5 dB for noise to 14.5 + z dB for tones). Frames more than SILENCE_DB below the clip's loudest
    frame get no gain at all (silence and near-silence stay exactly as they were).

    apply() runs once per round of the informed loop (up to 1 + N_ITER times), so it does only what changes:
    the gain of the in-band bins (out of band it is exactly 1: those bins are the host's own) and an inverse
    STFT whose overlap-add is vectorised. The result is bit-identical to scipy.signal.istft on the whole
    gained STFT (tested), whose overlap-add is a Python loop over the ~60 frames a second (half the embed's
    CPU time). The inverse runs on a frame-major copy of the STFT (each frame's bins contiguous): the same
    transforms and sums, so the same samples bit for bit, with contiguous inverse FFTs and overlap-add (10 s of
    48 kHz stereo: the inverse FFTs 84 -> 66 ms, the overlap-add 31 -> 25 ms per embed)."""

    def __init__(self, x: np.ndarray, sr: int) -> None:
        self.x, self.sr = x, sr
        self.hop = max(8, int(round(HOP_S * sr)))
        self.nper = 2 * self.hop
        f, t, self.z = stft(x, fs=sr, nperseg=self.nper, noverlap=self.nper - self.hop, boundary="even", padded=True)
        self.cell_idx = (np.floor((t + 1e-9) / CELL_S).astype(np.int64)) % GRID  # time -> cell
        band_idx = np.searchsorted(BAND_EDGES_HZ, f, side="right") - 1
        self.in_band = (band_idx >= 0) & (band_idx < N_BANDS)
        self.band_idx = band_idx[self.in_band]
        # the in-band bins are one run (the band edges rise with frequency) and the frames' copy for apply()
        first = int(np.argmax(self.in_band))
        self._band = slice(first, first + int(self.in_band.sum()))
        self._zt = np.ascontiguousarray(np.swapaxes(self.z, -1, -2))  # (..., frames, bins)
        p = np.abs(self.z) ** 2
        p = p.reshape(-1, *p.shape[-2:]).sum(axis=0)  # channels summed: one gain for all channels
        # the masking model sees the mark's own range only (an empty top octave would read as tonal)
        self.lo_db, self.hi_db = mask_bounds_db(p[self.in_band], f[self.in_band])
        # istft's window, scaling and overlap-added squared window (the same for every round)
        self.win = get_window("hann", self.nper)
        n_seg = self.z.shape[-1]
        self.norm = _overlap_add(np.broadcast_to(self.win**2, (n_seg, self.nper)), self.hop)
        self.norm = self.norm[self.nper // 2 : -(self.nper // 2)]
        self.norm = np.where(self.norm > 1e-10, self.norm, 1.0)

    def apply(self, per_band: np.ndarray) -> np.ndarray:
        # smooth the gain along time so cell boundaries do not click, then bound it by the masking
        gain_db = uniform_filter1d(per_band[self.band_idx][:, self.cell_idx], size=3, axis=1, mode="wrap")
        gain_db = np.clip(gain_db, self.lo_db, self.hi_db)
        z = self._zt.astype(np.complex128)  # a copy, in the precision the gained STFT had (float64 gains)
        z[..., self._band] *= (10 ** (gain_db / 20)).T
        # scipy.signal.istft(z, boundary=True), step by step (see the class docstring), frame by frame
        frames = irfft(z, axis=-1, n=self.nper, overwrite_x=True)  # (..., frames, nper)
        frames *= self.win.sum()
        frames *= self.win
        y = _overlap_add(frames, self.hop)[..., self.nper // 2 : -(self.nper // 2)]
        y /= self.norm
        x = self.x
        y = y[..., : x.shape[-1]]
        if y.shape[-1] < x.shape[-1]:
            y = np.concatenate([y, x[..., y.shape[-1] :]], axis=-1)
        return np.clip(y, -1.0, 1.0).astype(np.float32)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Frames (..., n, 2 * hop) overlap-added at `hop`: (..., (n + 1) * hop). Each output sample sums the same
    two terms in the same order as scipy.signal.istft's loop (the earlier frame's second half first)."""
    *lead, n, _ = frames.shape
    out = np.zeros((*lead, n + 1, hop), dtype=frames.dtype)
    out[..., 1:, :] += frames[..., hop:]
    out[..., :-1, :] += frames[..., :hop]
    return out.reshape(*lead, (n + 1) * hop)


def bark(f_hz: np.ndarray) -> np.ndarray:
    """Zwicker and Terhardt's critical-band rate."""
    f = np.asarray(f_hz, dtype=np.float64)
    return 13 * np.arctan(0.00076 * f) + 3.5 * np.arctan((f / 7500.0) ** 2)


def masking_threshold(p: np.ndarray, f_hz: np.ndarray, margin_db: float = 0.0) -> np.ndarray:
    """Simultaneous masking threshold (same units as p) for a power spectrogram p (bins, frames).

    Johnston (1988): energy per critical band, spread with Schroeder's spreading function, lowered
    by an offset that moves from 5.5 dB (noise-like frame) to 14.5 + z dB (tonal frame; tonality from
    the spectral flatness, -60 dB = fully tonal), minus margin_db. Returned per bin: the band's
    threshold shared out evenly over its bins."""
    z = bark(f_hz)
    zb = np.floor(z).astype(np.int64)
    bands, inv, n_bins = np.unique(zb, return_inverse=True, return_counts=True)
    e = np.zeros((len(bands), p.shape[1]))
    np.add.at(e, inv, p)  # energy per critical band and frame
    dz = (bands[:, None] - bands[None, :]).astype(np.float64)  # maskee - masker, in Bark
    sf_db = 15.81 + 7.5 * (dz + 0.474) - 17.5 * np.sqrt(1 + (dz + 0.474) ** 2)
    spread = (10 ** (sf_db / 10)) @ e
    sfm_db = 10 * np.log10((np.exp(np.mean(np.log(p + 1e-20), axis=0)) + 1e-20) / (np.mean(p, axis=0) + 1e-20))
    alpha = np.clip(sfm_db / -60.0, 0.0, 1.0)  # 1 = tonal
    offset_db = alpha[None, :] * (14.5 + bands[:, None]) + (1 - alpha[None, :]) * 5.5
    thr = spread * 10 ** (-(offset_db + margin_db) / 10)
    return (thr / n_bins[:, None])[inv]


def mask_bounds_db(p: np.ndarray, f_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (bin, frame) gain bounds in dB that keep the added (g - 1) x under the masking threshold."""
    if MASK_MARGIN_DB is None:  # no masking bound (format audio/2)
        hi, lo = np.full(p.shape, MAX_GAIN_DB), np.full(p.shape, -MAX_GAIN_DB)
    else:
        r = np.sqrt(masking_threshold(p, f_hz, MASK_MARGIN_DB) / (p + 1e-30))  # allowed |g - 1|
        hi = 20 * np.log10(1 + np.minimum(r, 10 ** (MAX_GAIN_DB / 20) - 1))
        lo = 20 * np.log10(np.maximum(1 - r, 10 ** (-MAX_GAIN_DB / 20)))
    if SILENCE_DB is None:
        return lo, hi
    # whole frames, not single bins: a per-bin gate flickers on and off along the noise floor (measured:
    # musical noise, PESQ 4.07 -> 2.3 on a guitar bed)
    frame = p.sum(axis=0)
    silent = (frame <= frame.max() * 10 ** (-SILENCE_DB / 10))[None, :]
    return np.where(silent, 0.0, lo), np.where(silent, 0.0, hi)


def _peak_z_rows(corr: np.ndarray) -> np.ndarray:
    """Per row: how far the best circular shift stands out from the others (its 4 neighbours each side
    excluded), as a z-score."""
    n = corr.shape[1]
    k = np.argmax(corr, axis=1)
    near = (np.arange(n)[None, :] - k[:, None]) % n
    keep = (near > 4) & (near < n - 4)
    others = np.where(keep, corr, np.nan)
    mu, sd = np.nanmean(others, axis=1), np.nanstd(others, axis=1)
    return (corr[np.arange(len(k)), k] - mu) / np.where(sd > 0, sd, 1e-12)


def snr_db(original: np.ndarray, marked: np.ndarray) -> float:
    o = np.asarray(original, dtype=np.float64)
    d = np.asarray(marked, dtype=np.float64) - o
    num, den = float(np.sum(o * o)), float(np.sum(d * d))
    return float("inf") if den == 0 else 10 * math.log10(max(num, 1e-20) / den)
