"""Prompt -> Scene: subjects (colour, size, material), actions, setting, time of day, weather, camera,
style, sound cues and quoted dialogue, split into shots ("then", "cut to") with subjects kept consistent.

A rule-based parser over small lexicons: deterministic, explainable, and every choice it makes is
written into the scene dict so a reviewer can see why the clip looks the way it does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from generator.validate import STYLES, clean_prompt

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35), "crimson": (180, 20, 40), "blue": (30, 80, 220), "navy": (20, 30, 110),
    "green": (40, 170, 60), "yellow": (245, 210, 30), "orange": (245, 130, 20), "purple": (130, 50, 180),
    "violet": (140, 80, 210), "pink": (245, 120, 170), "white": (240, 240, 240), "black": (25, 25, 28),
    "gray": (128, 128, 132), "grey": (128, 128, 132), "brown": (120, 75, 40), "gold": (230, 180, 40),
    "golden": (230, 180, 40), "silver": (190, 192, 200), "teal": (20, 150, 150), "cyan": (40, 200, 230),
    "magenta": (220, 40, 200), "tan": (205, 160, 110), "beige": (220, 200, 160),
}
SIZES = {"tiny": 0.45, "little": 0.7, "small": 0.7, "big": 1.35, "large": 1.35, "huge": 1.8, "giant": 2.0,
         "enormous": 2.0}
MATERIALS = {"wooden": "wood", "wood": "wood", "metal": "metal", "metallic": "metal", "steel": "metal",
             "iron": "metal", "glass": "glass", "rubber": "rubber", "plastic": "plastic", "stone": "stone",
             "concrete": "concrete", "marble": "marble", "tiled": "tile", "tile": "tile", "sandy": "sand",
             "sand": "sand", "grassy": "grass", "grass": "grass", "icy": "ice", "ice": "ice", "snowy": "snow",
             "carpet": "carpet", "carpeted": "carpet", "dirt": "dirt", "muddy": "dirt"}
SURFACES = ("floor", "ground", "table", "surface", "deck", "court", "road", "pavement", "stage", "lawn")

# noun -> (kind, default colour name, default material, default size)
NOUNS: dict[str, tuple[str, str | None, str, float]] = {
    "ball": ("ball", None, "rubber", 1.2), "basketball": ("ball", "orange", "rubber", 1.32),
    "football": ("ball", "white", "rubber", 1.32), "soccer ball": ("ball", "white", "rubber", 1.32),
    "tennis ball": ("ball", "yellow", "rubber", 0.66), "beach ball": ("ball", None, "plastic", 1.68),
    "bowling ball": ("ball", "black", "stone", 1.2), "marble": ("ball", "cyan", "glass", 0.48),
    "orb": ("ball", "gold", "glass", 1.2), "sphere": ("ball", None, "metal", 1.2),
    "apple": ("ball", "red", "fruit", 0.72), "orange": ("ball", "orange", "fruit", 0.72),
    "box": ("box", "brown", "wood", 1.0), "cube": ("box", None, "plastic", 1.0),
    "crate": ("box", "brown", "wood", 1.2), "block": ("box", None, "wood", 0.9),
    "brick": ("box", "red", "stone", 0.7), "dice": ("box", "white", "plastic", 0.5),
    "person": ("person", None, "cloth", 1.3), "man": ("person", None, "cloth", 1.3),
    "woman": ("person", None, "cloth", 1.3), "girl": ("person", None, "cloth", 1.04),
    "boy": ("person", None, "cloth", 1.04), "child": ("person", None, "cloth", 0.98),
    "kid": ("person", None, "cloth", 0.98), "character": ("person", None, "cloth", 1.3),
    "astronaut": ("person", "white", "cloth", 1.3), "dancer": ("person", None, "cloth", 1.3),
    "chef": ("person", "white", "cloth", 1.3), "knight": ("person", "silver", "metal", 1.37),
    "robot": ("person", "silver", "metal", 1.3), "skater": ("person", None, "cloth", 1.3),
    "surfer": ("person", None, "cloth", 1.3), "runner": ("person", None, "cloth", 1.3),
    "dog": ("dog", "brown", "fur", 1.3), "puppy": ("dog", "tan", "fur", 0.91),
    "corgi": ("dog", "orange", "fur", 1.1), "cat": ("cat", "gray", "fur", 1.04),
    "kitten": ("cat", "orange", "fur", 0.78), "car": ("car", None, "metal", 1.0),
    "truck": ("car", None, "metal", 1.35), "bus": ("car", "yellow", "metal", 1.6),
    # other four-legged animals share one quadruped rig, sized and coloured per species
    "horse": ("animal", "brown", "fur", 1.6), "cow": ("animal", "white", "fur", 1.5),
    "sheep": ("animal", "white", "fur", 1.0), "bear": ("animal", "brown", "fur", 1.5),
    "panda": ("animal", "white", "fur", 1.3), "rabbit": ("animal", "gray", "fur", 0.5),
    "bunny": ("animal", "white", "fur", 0.5), "fox": ("animal", "orange", "fur", 0.8),
    "lion": ("animal", "gold", "fur", 1.4), "tiger": ("animal", "orange", "fur", 1.4),
    "deer": ("animal", "tan", "fur", 1.3), "wolf": ("animal", "gray", "fur", 1.1),
    "pig": ("animal", "pink", "fur", 1.0), "goat": ("animal", "beige", "fur", 1.0),
    "elephant": ("animal", "gray", "skin", 2.0), "giraffe": ("animal", "gold", "fur", 1.8),
    "squirrel": ("animal", "brown", "fur", 0.4), "mouse": ("animal", "gray", "fur", 0.3),
    "raccoon": ("animal", "gray", "fur", 0.7), "zebra": ("animal", "white", "fur", 1.5),
    "people": ("person", None, "cloth", 1.3), "lady": ("person", None, "cloth", 1.3),
    "teenager": ("person", None, "cloth", 1.2), "student": ("person", None, "cloth", 1.25),
    "soldier": ("person", "green", "cloth", 1.3), "musician": ("person", None, "cloth", 1.3),
    "guitarist": ("person", None, "cloth", 1.3), "player": ("person", None, "cloth", 1.3),
    "cyclist": ("person", None, "cloth", 1.3), "doctor": ("person", "white", "cloth", 1.3),
    "farmer": ("person", "brown", "cloth", 1.3), "baby": ("person", None, "cloth", 0.6),
    "motorcycle": ("car", None, "metal", 0.6), "bicycle": ("car", None, "metal", 0.5),
    "bike": ("car", None, "metal", 0.5), "van": ("car", "white", "metal", 1.3),
    "taxi": ("car", "yellow", "metal", 1.0), "jeep": ("car", "green", "metal", 1.1),
    "bird": ("bird", None, "feather", 0.6), "parrot": ("bird", "green", "feather", 0.6),
    "owl": ("bird", "brown", "feather", 0.7), "duck": ("bird", "yellow", "feather", 0.6),
    "swan": ("bird", "white", "feather", 0.9), "butterfly": ("bird", "orange", "feather", 0.4),
    "crow": ("bird", "black", "feather", 0.6), "dove": ("bird", "white", "feather", 0.55),
    "seagull": ("bird", "white", "feather", 0.7),
    "eagle": ("bird", "brown", "feather", 0.9), "pigeon": ("bird", "gray", "feather", 0.55),
}
PERSON_LIKE = ("person",)
ANIMATE = ("person", "dog", "cat", "animal", "bird", "car")

ACTIONS: dict[str, str] = {
    "bounc": "drop", "drop": "drop", "fall": "drop", "fell": "drop", "tumbl": "drop",
    "roll": "roll", "walk": "walk", "stroll": "walk", "wander": "walk", "run": "run", "ran": "run",
    "jog": "run", "sprint": "run", "chas": "run", "danc": "dance", "jump": "jump", "hop": "jump",
    "fly": "fly", "flie": "fly", "soar": "fly", "glid": "fly", "driv": "drive", "rac": "drive",
    "speed": "drive", "throw": "throw", "thrown": "throw", "toss": "throw", "collid": "collide",
    "crash": "collide", "smash": "collide", "surf": "surf", "wav": "wave", "talk": "talk", "say": "talk",
    "speak": "talk", "sing": "talk", "shout": "talk", "sit": "idle", "stand": "idle", "sleep": "idle",
}
DEFAULT_ACTION = {"ball": "drop", "box": "drop", "person": "idle", "dog": "idle", "cat": "idle",
                  "animal": "idle", "car": "drive", "bird": "fly"}

SETTINGS: dict[str, str] = {
    "room": "indoor", "indoor": "indoor", "inside": "indoor", "kitchen": "indoor", "living room": "indoor",
    "gym": "indoor", "studio": "indoor", "office": "indoor", "house": "indoor", "hall": "indoor",
    "beach": "beach", "ocean": "beach", "sea": "beach", "shore": "beach", "coast": "beach",
    "city": "city", "street": "city", "downtown": "city", "alley": "city", "road": "city",
    "forest": "forest", "woods": "forest", "jungle": "forest", "field": "field", "meadow": "field",
    "park": "field", "garden": "field", "farm": "field", "lawn": "field", "desert": "desert",
    "dune": "desert", "mountain": "mountain", "cliff": "mountain", "hill": "mountain", "space": "space",
    "moon": "space", "planet": "space", "mars": "space", "stage": "stage", "concert": "stage",
    "arena": "stage", "stadium": "stage", "snowfield": "snow", "tundra": "snow", "arctic": "snow",
}
SETTING_FLOOR = {"indoor": "wood", "beach": "sand", "city": "concrete", "forest": "grass", "field": "grass",
                 "desert": "sand", "mountain": "stone", "space": "stone", "stage": "wood", "snow": "snow"}
TIMES: dict[str, str] = {
    "dawn": "dawn", "sunrise": "dawn", "daybreak": "dawn", "morning": "morning", "noon": "day",
    "midday": "day", "daytime": "day", "afternoon": "day", "sunny": "day", "sunset": "sunset",
    "golden hour": "sunset", "evening": "sunset", "dusk": "dusk", "twilight": "dusk", "night": "night",
    "midnight": "night", "moonlit": "night", "moonlight": "night", "starry": "night", "nighttime": "night",
}
WEATHER: dict[str, str] = {
    "rain": "rain", "rainy": "rain", "raining": "rain", "drizzle": "rain", "storm": "rain",
    "stormy": "rain", "thunderstorm": "rain", "snow": "snow", "snowing": "snow", "snowy": "snow",
    "snowfall": "snow", "blizzard": "snow", "fog": "fog", "foggy": "fog", "mist": "fog", "misty": "fog",
    "haze": "fog", "wind": "wind", "windy": "wind", "breeze": "wind", "breezy": "wind",
}
CAMERA: list[tuple[str, str]] = [
    (r"pan(?:s|ning)? (?:to the )?left", "pan_left"), (r"pan(?:s|ning)? (?:to the )?right", "pan_right"),
    (r"zoom(?:s|ing)? in", "zoom_in"), (r"push(?:es|ing)? in", "zoom_in"), (r"dolly in", "zoom_in"),
    (r"zoom(?:s|ing)? out", "zoom_out"), (r"pull(?:s|ing)? (?:back|out)", "zoom_out"),
    (r"tilt(?:s|ing)? up", "tilt_up"), (r"tilt(?:s|ing)? down", "tilt_down"),
    (r"tracking shot|track(?:s|ing)? (?:the|it|him|her)|follow(?:s|ing)? (?:the|it|him|her)", "track"),
    (r"slow[- ]?mo(?:tion)?\b", "slow_motion"), (r"hand[- ]?held|shaky cam|shaky", "shake"),
    (r"close[- ]?up", "close_up"), (r"wide shot|wide angle|establishing shot", "wide"),
]
STYLE_WORDS: dict[str, str] = {
    "cinematic": "cinematic", "film still": "cinematic", "movie": "cinematic", "photorealistic": "photorealistic",
    "photoreal": "photorealistic", "realistic": "photorealistic", "anime": "anime", "manga": "anime",
    "cartoon": "cartoon", "cartoonish": "cartoon", "animated": "cartoon", "watercolor": "watercolor",
    "watercolour": "watercolor", "painting": "watercolor", "painted": "watercolor", "noir": "noir",
    "black and white": "noir", "black-and-white": "noir", "pixel art": "pixel", "8-bit": "pixel",
    "pixelated": "pixel", "retro game": "pixel", "sketch": "sketch", "pencil": "sketch", "drawing": "sketch",
}
MOODS: dict[str, str] = {
    "happy": "happy", "upbeat": "happy", "cheerful": "happy", "joyful": "happy", "playful": "happy",
    "fun": "happy", "sad": "sad", "melancholic": "sad", "melancholy": "sad", "somber": "sad",
    "mournful": "sad", "calm": "calm", "gentle": "calm", "peaceful": "calm", "relaxing": "calm",
    "soft": "calm", "chill": "calm", "lofi": "calm", "lo-fi": "calm", "dreamy": "calm", "romantic": "calm",
    "tense": "tense", "suspense": "tense", "suspenseful": "tense", "eerie": "tense", "scary": "tense",
    "horror": "tense", "creepy": "tense", "ominous": "tense", "epic": "epic", "heroic": "epic",
    "dramatic": "epic", "triumphant": "epic", "intense": "epic",
}
INSTRUMENTS: dict[str, str] = {
    "guitar": "guitar", "ukulele": "ukulele", "piano": "piano", "keys": "piano", "synth": "synth",
    "synthesizer": "synth", "electronic": "synth", "strings": "strings", "violin": "strings",
    "cello": "strings", "orchestra": "strings", "orchestral": "strings", "drum": "drums", "drums": "drums",
    "percussion": "drums", "flute": "flute", "whistle": "flute",
}
AMBIENT: dict[str, str] = {
    "rain": "rain", "raining": "rain", "storm": "rain", "wind": "wind", "windy": "wind", "breeze": "wind",
    "crowd": "crowd", "cheering": "cheer", "cheers": "cheer", "applause": "cheer", "clapping": "cheer",
    "waves": "waves", "surf": "waves", "ocean": "waves", "birds": "birds", "birdsong": "birds",
    "chirping": "birds", "traffic": "traffic", "thunder": "thunder", "thunderstorm": "thunder",
    "fire": "fire", "crackling": "fire", "campfire": "fire", "crickets": "crickets",
}
SETTING_AMBIENCE = {"beach": ["waves", "wind"], "city": ["traffic"], "forest": ["birds"], "field": ["birds"],
                    "desert": ["wind"], "mountain": ["wind"], "stage": ["crowd"], "snow": ["wind"],
                    "indoor": ["room"], "space": ["room"]}
SHOT_SPLIT = re.compile(r"(?:[.;,]?\s*\b(?:and then|then|cut to|after that|afterwards|later|next,)\b[:,]?\s*)",
                        re.IGNORECASE)
QUOTE = re.compile(r"[\"\u201c\u201d\u201e]([^\"\u201c\u201d\u201e]{1,300})[\"\u201c\u201d\u201e]")
COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "several": 3, "a pair of": 2, "a few": 3}
PRONOUNS = ("it", "he", "she", "they", "him", "her", "them")


@dataclass
class Subject:
    id: str
    kind: str
    noun: str
    color_name: str
    color: tuple[int, int, int]
    size: float
    material: str
    cameo: str | None = None


@dataclass
class Shot:
    index: int
    text: str
    subjects: list[str]
    actions: dict[str, str]
    setting: str
    floor: str
    time_of_day: str
    weather: str
    camera: list[str]
    slow_motion: float
    start: float = 0.0
    seconds: float = 0.0
    dialogue: list[dict] = field(default_factory=list)  # {"speaker": id|None, "text": str}


@dataclass
class Scene:
    prompt: str
    style: str
    subjects: dict[str, Subject]
    shots: list[Shot]
    music: dict | None  # {"mood", "instrument", "tempo"}
    ambience: list[str]
    dialogue: list[str]
    dropped_shots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["subjects"] = {k: asdict(v) for k, v in self.subjects.items()}
        return d


def _find_words(text: str, table: dict[str, str], prefix: bool = False, plural: bool = False
                ) -> list[tuple[int, str, str]]:
    """(position, matched word, value) for each lexicon entry found as a word (or word prefix / plural)."""
    hits = []
    for key, val in table.items():
        pat = r"\b" + re.escape(key) + (r"\w*" if prefix else r"(?:e?s)?\b" if plural else r"\b")
        hits += [(m.start(), m.group(0), val) for m in re.finditer(pat, text)]
    # longest match first at equal positions ("soccer ball" over "ball")
    hits.sort(key=lambda h: (h[0], -len(h[1])))
    out, last_end = [], -1
    for pos, word, val in hits:
        if pos >= last_end:
            out.append((pos, word, val))
            last_end = pos + len(word)
    return out


def _first(text: str, table: dict[str, str]) -> str | None:
    hits = _find_words(text, table)
    return hits[0][2] if hits else None


def _nouns(text: str) -> list[tuple[int, str]]:
    """Object nouns with plural forms ('balls', 'boxes', 'puppies')."""
    found: list[tuple[int, str]] = []
    for noun in sorted(NOUNS, key=len, reverse=True):
        plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2] not in "aeiou" else noun + (
            "es" if noun.endswith(("x", "s", "ch")) else "s")
        for m in re.finditer(rf"\b({re.escape(noun)}|{re.escape(plural)})\b", text):
            used_as_adjective = re.match(r"\s+(?:" + "|".join(SURFACES) + r")\b", text[m.end():])
            if not used_as_adjective and not any(p <= m.start() < p + len(n) for p, n in found):
                found.append((m.start(), m.group(0)))
    return sorted(found)


def _action(hits: list[tuple[int, str, str]], kind: str) -> str:
    act = hits[0][2] if hits else DEFAULT_ACTION[kind]
    if act == "fly" and kind != "bird":
        act = "jump" if kind in ANIMATE else "throw"
    if kind in ("ball", "box") and act in ("walk", "run", "dance", "talk", "wave", "surf"):
        act = "roll" if kind == "ball" else "drop"
    return act


def _split_shots(text: str) -> list[str]:
    parts = [p.strip(" .,;") for p in SHOT_SPLIT.split(text)]
    return [p for p in parts if p] or [text]


def parse_prompt(prompt: str, style: str | None = None, seed: int = 0, seconds: float = 5.0,
                 cameos: tuple[str, ...] = ()) -> Scene:
    """Turn a prompt into a Scene. `style` (from the request) overrides style words in the prompt."""
    raw = clean_prompt(prompt)
    rng = np.random.default_rng([seed, 7])
    quotes = [q.strip() for q in QUOTE.findall(raw) if q.strip()]
    text = QUOTE.sub(" QUOTE ", raw).lower()
    text_noquote = text

    style_hits = _find_words(text_noquote, STYLE_WORDS)
    chosen_style = (style or "").strip().lower() or (style_hits[0][2] if style_hits else "photorealistic")
    assert chosen_style in STYLES

    subjects: dict[str, Subject] = {}
    shots: list[Shot] = []
    quote_iter = iter(quotes)
    prev: dict[str, str | None] = {"setting": None, "time": None, "weather": None}
    palette = [c for c in COLORS if c not in ("grey", "golden", "crimson", "navy", "tan", "beige")]
    counters: dict[str, int] = {}
    last_mentioned: list[str] = []
    pieces = _split_shots(text_noquote)
    # at least half a second per shot: later shots beyond that are dropped (and said so in the scene)
    max_shots = max(1, min(12, int(seconds * 2)))
    dropped = pieces[max_shots:]
    pieces = pieces[:max_shots]
    for si, piece in enumerate(pieces):
        ids: list[str] = []
        actions: dict[str, str] = {}
        nouns = _nouns(piece)
        for pos, word in nouns:
            base = word if word in NOUNS else next(
                (n for n in NOUNS if word.startswith(n[: max(3, len(n) - 1)])), word.rstrip("s"))
            if base not in NOUNS:
                continue
            kind, dcolor, dmat, dsize = NOUNS[base]
            before = piece[max(0, pos - 40): pos]
            words_before = re.findall(r"[\w-]+", before)[-4:]
            color_name = next((w for w in reversed(words_before) if w in COLORS), None)
            size = next((SIZES[w] for w in reversed(words_before) if w in SIZES), dsize)
            mat = next((MATERIALS[w] for w in reversed(words_before) if w in MATERIALS), dmat)
            count = 1
            for cw, n in COUNTS.items():
                if re.search(rf"\b{cw}\b(?:\s+[\w-]+){{0,3}}\s*$", before):
                    count = n
            if word != base and count == 1 and word.endswith("s"):
                count = 2
            # the same subject again ("the ball") keeps its look; a new colour or "another" makes a new one
            existing = [s for s in subjects.values() if s.noun == base or (s.kind == kind and base in
                                                                              ("ball", "box", "person"))]
            reuse = [s for s in existing if color_name in (None, s.color_name)]
            # action: nearest verb after the noun within the same clause, else before it
            after = piece[pos + len(word): pos + len(word) + 60]
            act_hits = _find_words(after, ACTIONS, prefix=True) or _find_words(before, ACTIONS, prefix=True)
            if reuse and "another" not in words_before and count == 1:
                if reuse[0].id not in ids:
                    ids.append(reuse[0].id)
                    actions[reuse[0].id] = _action(act_hits, kind)
                continue
            for _ in range(min(count, 6)):
                counters[kind] = counters.get(kind, 0) + 1
                sid = f"{kind}{counters[kind]}"
                cname = color_name or dcolor or palette[int(rng.integers(len(palette)))]
                subjects[sid] = Subject(sid, kind, base, cname, COLORS[cname], float(size), mat)
                ids.append(sid)
            for sid in ids[-min(count, 6):]:
                actions[sid] = _action(act_hits, kind)
        if not ids and re.search(r"\b(?:" + "|".join(PRONOUNS) + r")\b", piece) and last_mentioned:
            ids = list(last_mentioned)
            acts = _find_words(piece, ACTIONS, prefix=True)
            for sid in ids:
                actions[sid] = acts[0][2] if acts else DEFAULT_ACTION[subjects[sid].kind]
        if not ids and last_mentioned:  # a shot that only changes place or light keeps the subjects
            ids = list(last_mentioned)
            for sid in ids:
                actions[sid] = shots[-1].actions.get(sid, DEFAULT_ACTION[subjects[sid].kind])
        has_quote = "QUOTE".lower() in piece
        if has_quote and not any(subjects[i].kind in PERSON_LIKE for i in ids):
            counters["person"] = counters.get("person", 0) + 1
            sid = f"person{counters['person']}"
            subjects[sid] = Subject(sid, "person", "person", "blue", COLORS["blue"], 1.3, "cloth")
            ids.append(sid)
            actions[sid] = "talk"
        if ids:
            last_mentioned = ids

        hits = _find_words(piece, SETTINGS, plural=True)
        setting = (hits[0][2] if hits else None) or prev["setting"] or ("indoor" if re.search(
            r"\b(floor|table|carpet)\b", piece) else "field")
        floor = None
        for m in re.finditer(r"\b([\w-]+)\s+(?:" + "|".join(SURFACES) + r")\b", piece):
            if m.group(1) in MATERIALS:
                floor = MATERIALS[m.group(1)]
        if floor is None:
            floor = shots[-1].floor if shots and setting == shots[-1].setting else SETTING_FLOOR[setting]
            if _first(piece, WEATHER) == "snow" and setting not in ("indoor", "stage", "space"):
                floor = "snow"
        tod = _first(piece, TIMES) or prev["time"] or ("day" if setting != "space" else "night")
        weather = _first(piece, WEATHER) or prev["weather"] or "clear"
        if setting in ("indoor", "space"):
            weather = "clear"
        camera = sorted({v for pat, v in CAMERA if re.search(pat, piece)})
        slow = 0.4 if "slow_motion" in camera else 1.0
        dialogue = []
        for _ in range(piece.count("quote")):
            q = next(quote_iter, None)
            if q is None:
                break
            speaker = next((i for i in ids if subjects[i].kind in PERSON_LIKE), None)
            if speaker:
                actions[speaker] = "talk" if actions.get(speaker) in ("idle", None) else actions[speaker]
            dialogue.append({"speaker": speaker, "text": q})
        shots.append(Shot(si, piece,
                          ids, actions, setting, floor, tod, weather, camera, slow, dialogue=dialogue))
        prev = {"setting": setting, "time": tod, "weather": weather}

    # cameos take the person subjects in order; a cameo with no person gets one of its own
    persons = [s for s in subjects.values() if s.kind in PERSON_LIKE]
    for i, handle in enumerate(cameos):
        if i < len(persons):
            persons[i].cameo = handle
        else:
            counters["person"] = counters.get("person", 0) + 1
            sid = f"person{counters['person']}"
            subjects[sid] = Subject(sid, "person", "person", "navy", COLORS["navy"], 1.3, "cloth", cameo=handle)
            for shot in shots:
                shot.subjects.append(sid)
                shot.actions[sid] = "idle"

    # time split: equal per shot, at least one second each
    n = len(shots)
    for i, shot in enumerate(shots):
        shot.start = seconds * i / n
        shot.seconds = seconds / n

    ambience: list[str] = []
    for _, _, val in _find_words(text_noquote, AMBIENT):
        ambience.append(val)
    for shot in shots:
        if shot.weather in ("rain", "wind"):
            ambience.append(shot.weather)
        ambience += SETTING_AMBIENCE.get(shot.setting, [])
        if shot.time_of_day == "night" and shot.setting in ("field", "forest"):
            ambience.append("crickets")
    if "cheer" in ambience:
        ambience.append("crowd")
    ambience = sorted(set(ambience))
    mood = _first(text_noquote, MOODS)
    instrument = _first(text_noquote, INSTRUMENTS)
    music = None
    if mood or instrument or re.search(r"\b(music|song|soundtrack|score|melody|tune|beat)\b", text_noquote):
        mood = mood or {"night": "calm", "dusk": "calm", "sunset": "calm"}.get(shots[0].time_of_day, "happy")
        instrument = instrument or {"happy": "ukulele", "sad": "piano", "calm": "guitar", "tense": "strings",
                                    "epic": "strings"}[mood]
        tempo = {"happy": 112, "sad": 66, "calm": 80, "tense": 72, "epic": 96}[mood]
        music = {"mood": mood, "instrument": instrument, "tempo": tempo}
    return Scene(raw, chosen_style, subjects, shots, music, ambience, quotes, dropped)
