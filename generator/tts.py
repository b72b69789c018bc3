"""Text to speech through the eSpeak NG library shipped in the `espeakng-loader` wheel (ctypes, no system
package needed). When the library cannot be loaded, `available()` says why and callers record that no
TTS engine is installed instead of failing."""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np

_LOCK = threading.Lock()  # libespeak-ng keeps global state: one synthesis at a time per process
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
MAX_TEXT = 600


class EspeakTTS:
    name = "espeak-ng"

    def __init__(self) -> None:
        self._lib = None
        self._why = ""
        self.sample_rate = 0
        self._chunks: list[np.ndarray] = []
        try:
            import espeakng_loader

            lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                       espeakng_loader.get_data_path().encode(), 0)
            if sr <= 0:
                raise OSError(f"espeak_Initialize returned {sr}")
            self._cb = _CALLBACK(self._collect)  # keep a reference: the library calls it later
            lib.espeak_SetSynthCallback(self._cb)
            self._lib, self.sample_rate = lib, int(sr)
        except (ImportError, OSError, AttributeError) as e:
            self._why = f"no TTS engine installed (eSpeak NG library not loadable: {e})"

    def _collect(self, wav, n, _events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def available(self) -> tuple[bool, str]:
        return (self._lib is not None, self._why)

    def synth(self, text: str, voice: int = 0) -> np.ndarray:
        """Float32 mono samples at self.sample_rate. `voice` picks a pitch/rate variant per speaker."""
        if self._lib is None:
            raise RuntimeError(self._why)
        data = text[:MAX_TEXT].encode("utf-8")
        with _LOCK:
            self._chunks = []
            self._lib.espeak_SetVoiceByName(b"en-us" if voice % 2 == 0 else b"en")
            self._lib.espeak_SetParameter(_ESPEAK_PITCH, 35 + 18 * (voice % 3), 0)
            self._lib.espeak_SetParameter(_ESPEAK_RATE, 160 + 10 * (voice % 2), 0)
            self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0


@functools.cache
def get_tts() -> EspeakTTS:
    return EspeakTTS()
