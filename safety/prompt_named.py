"""Who and what a prompt names, beyond people: copyrighted characters, brands, and real events staged as news.

- characters (safety/data/characters.txt, authored): about 2,300 characters in ~100 franchises, each with its
  franchise and rights holder. A character named is `character` (the gate blocks it by default); a franchise
  named without any of its characters is `character` too but marked `franchise` (review by default).
- brands (safety/data/brands.txt, authored): ~470 brands with their named products. `trademark` fires when the
  prompt asks for a brand's logo, an ad, packaging or a product ("Nike logo", "a can of Coca-Cola",
  "an iPhone ad"); a brand merely present ("a man in Nike shoes running") scores below the review bar.
- staged news (`staged_news`): a real event, a famous real place in a disaster, or a real person, presented
  as footage, news or evidence ("news footage of", "CCTV of", "labelled 9/11", "breaking news"). It raises the
  `deception` score to REVIEW_SCORE (policy: review; with a real person named, REAL_PERSON_HARMS blocks).

All matching goes through safety.name_match (case, accents, possessives, misspellings, ordinary-word guards).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from safety.name_match import NameHit, NameMatcher, fold


@dataclass(frozen=True)
class Work:
    kind: str  # "character" | "franchise"
    franchise: str
    holder: str


@dataclass
class NamedList:
    entries: dict[str, list[str]]  # canonical -> aliases
    info: dict[str, Work]
    context: dict[str, list[str]]  # canonical -> phrases that make an ordinary-word alias count
    guarded: set[str] = field(default_factory=set)  # folded one-word aliases that count only in context


# One-word character names that are first a place, a person, a word of another language or a thing
# ("Tokyo", "Dante", "Everest", "Pearl"): only beside their franchise. Ordinary English words and common
# given names are found without this list (safety.name_match: is_english_word, given_names).
_AMBIGUOUS = """
abra abu ace akira aku alf animal arbiter archer arlene arlo arnold arthur asha astro aurora axel bane baraka
bastion beaker belle bender benson bingo birdman blackbeard brigitte brock bullseye bumblebee buttercup
caitlyn casper celeste chao chef chopper clank clicker clyde constantine creeper cyborg dante darius dexter
diablo dino domino domo dragon electro emilia esmeralda everest falcon fern fi fillmore finn firefly flash flo
flounder freya genie gizmo golem goro griffith grimace guido hades hamm hanzo hela homer hopper horton ike
indy inky isabelle jax jett jigsaw kafka kano katarina kenai kiara kiki klee kramer lilith link logan lucia
lux mabel madagascar madeline marlin marshall mater maui mei mera merlin midas misty moe moira momo morpheus
nero ness nova odin odo ori paras pearl pegasus peridot phoenix piglet pluto po q quark raven raya reaper rem
remy riven rocky roo rosita roz ryder san sandman sans sarge schroeder scooter scorpion sentinel shiva skye
sora sparky starlight strider trish vega vi villager wallace winston wong woodstock x xiao zed zuma halo doom
marvel disney trolls arcane neo ryu ken
"""
AMBIGUOUS = frozenset(_AMBIGUOUS.split()) | {"shaggy"}

def _data(name: str) -> str:
    return resources.files("safety").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


_TITLE_WORDS = {"of", "the", "and", "x", "no", "de", "&"}


@functools.lru_cache(maxsize=1)
def default_characters() -> NamedList:
    """The shipped opt-out list. "X from Franchise" lines name X, counted only beside its franchise."""
    entries: dict[str, list[str]] = {}
    info: dict[str, Work] = {}
    section_names: dict[str, list[str]] = {}  # franchise -> every name in its section (each other's context)
    members: dict[str, list[str]] = {}
    franchise, holder = "", ""
    guarded = set(AMBIGUOUS)
    for line in _data("characters.txt").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            parts = [p.strip() for p in line.strip("[]").split("|")]
            title = re.sub(r"^Anime:\s*", "", parts[0])
            franchise, holder = title, parts[1] if len(parts) > 1 else ""
            names = _split(parts[2]) if len(parts) > 2 else []
            # A descriptive section title ("Comic strips") is no name; a real one ("Star Wars") is.
            if all(w[:1].isupper() or w.lower() in _TITLE_WORDS for w in title.split()) and ":" not in title:
                names.insert(0, title)
            section_names[franchise] = list(names)
            members[franchise] = []
            if names:
                entries.setdefault(names[0], []).extend(names[1:])
                info.setdefault(names[0], Work("franchise", franchise, holder))
                members[franchise].append(names[0])
            continue
        names = _split(line)
        head = names[0]
        extra_context: list[str] = []
        m = re.match(r"^(.+?) from (.+)$", head)
        if m:
            head, where = m.group(1), m.group(2)
            extra_context.append(where)
            guarded.add(fold(head))  # "Data from Star Trek": "Data" only beside Star Trek
            names = [head, *names[1:]]
            canonical = f"{head} ({where})"
        else:
            canonical = head
        if canonical in info:
            continue  # the first franchise to list a name keeps it
        entries[canonical] = [n for n in names if n != canonical]
        info[canonical] = Work("character", franchise, holder)
        members[franchise].append(canonical)
        section_names[franchise].extend(names)
        section_names[franchise].extend(extra_context)
    context: dict[str, list[str]] = {}
    # Any franchise named makes the prompt about franchises ("Elsa from Frozen", "Link in a Nintendo game").
    franchises = [n for fr in members for n in entries.get(members[fr][0], []) + members[fr][:1]
                  if members[fr] and info[members[fr][0]].kind == "franchise"]
    for fr, canonicals in members.items():
        phrases = [p for p in section_names[fr] if len(fold(p).split()) > 1 or len(fold(p)) >= 5]
        for c in canonicals:
            own = {c, *entries.get(c, [])}
            context[c] = [p for p in [*phrases, *franchises] if p not in own]
    return NamedList(entries, info, context, guarded)


@functools.lru_cache(maxsize=1)
def default_brands() -> NamedList:
    entries: dict[str, list[str]] = {}
    info: dict[str, Work] = {}
    context: dict[str, list[str]] = {}
    for line in _data("brands.txt").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        brand_part, _, product_part = line.partition("|")
        names, products = _split(brand_part), _split(product_part)
        brand = names[0]
        entries[brand] = names[1:]
        info[brand] = Work("brand", brand, brand)
        for p in products:
            entries.setdefault(p, [])
            info.setdefault(p, Work("product", brand, brand))
        group = names + products
        for c in [brand, *products]:
            own = {c, *(names if c == brand else ())}
            context[c] = [*(g for g in group if g not in own), *TRADEMARK_CUES]
    return NamedList(entries, info, context)


# What makes a brand the subject: its logo, an ad, packaging, a product shot.
TRADEMARK_CUES = (
    "logo", "logos", "wordmark", "emblem", "trademark", "brand", "branded", "branding", "ad", "ads", "advert",
    "advertisement", "advertising", "commercial", "billboard", "poster", "packaging", "package", "label",
    "product shot", "product photo", "product video", "unboxing", "merch", "merchandise", "mascot", "slogan",
    "jingle", "store", "storefront", "sign", "can of", "bottle of", "box of", "bag of", "cup of", "jar of",
    "pack of", "tin of", "carton of", "sponsored", "promo", "promotional", "campaign",
)
_CUE_RE = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in TRADEMARK_CUES) + r")\b")
# Nouns that make "Nike shoes" or "Coca-Cola bottle" a product: the brand directly before one of them.
# Vehicles are left out: "a Honda motorcycle parked on a street" is a street scene, not an ad.
_PRODUCT_NOUNS = re.compile(
    r"^\s*(?:shoes?|sneakers?|trainers|boots|shirt|t shirt|hoodie|jacket|cap|hat|bag|handbag|purse|watch|"
    r"phone|smartphone|laptop|computer|tablet|headphones|earbuds|console|controller|camera|"
    r"can|cans|bottle|bottles|cup|box|burger|fries|soda|drink|beer|coffee|chocolate|candy|"
    r"bar|cereal|chips|perfume|lipstick|sunglasses|jeans|dress|sneaker)\b")

# --- staged news ----------------------------------------------------------------------------------------
# How a prompt presents content as real: footage, news, evidence, captions with dates.
_FRAMING = re.compile(r"\b(?:" + "|".join((
    r"(?:news|real|actual|authentic|raw|leaked|archival|archive|documentary|eyewitness|amateur|viral|"
    r"security|surveillance|cctv|drone|helicopter|phone|cellphone|smartphone|bodycam|body cam|dashcam|"
    r"dash cam|live|breaking) (?:footage|video|clip|recording|photo|photograph|picture|image|tape|broadcast|"
    r"report|coverage|stream)s?",
    r"footage (?:of|from|showing)", r"breaking news", r"news (?:report|broadcast|bulletin|segment|story|"
    r"anchor|channel|headline|ticker|chyron|graphic)", r"(?:cctv|bodycam|body cam|dashcam|security cam(?:era)?)",
    r"caught on (?:camera|tape|video)", r"leaked", r"press (?:photo|conference footage)",
    r"(?:evidence|proof) (?:of|that)", r"as (?:seen|reported) on",
    r"(?:cnn|fox news|bbc news|reuters|associated press|al jazeera|sky news|msnbc|nbc news|abc news|cbs news)",
    r"live on air", r"this really happened",
)) + r")\b")
# Asking outright for a fake that passes as real.
_INTENT = re.compile(r"\b(?:" + "|".join((
    r"deep ?fakes?", r"fake (?:news|video|footage|photo|photograph|image|evidence|report|announcement|broadcast|"
    r"headline|tweet|screenshot|documents?|leak)s?", r"hoax", r"disinformation", r"misinformation",
    r"doctored", r"fabricated (?:footage|video|photo|evidence|image)s?", r"false flag",
    r"(?:make|making) (?:it|this) (?:look|seem) (?:real|authentic|genuine)", r"(?:make|making) people believe",
    r"convince (?:people|viewers|voters|everyone) that", r"pass(?:es|ed)? (?:it |this )?(?:off )?as real",
    r"indistinguishable from real", r"so (?:people|viewers) think (?:it|this) (?:is|was) real",
)) + r")\b")
# A caption or date presents an image as a record, but only of an event: "a poster of Obama titled Hope" is art.
_CAPTION = re.compile(r"\b(?:label(?:l)?ed|captioned|titled|dated|with the caption|with (?:a|the) headline|"
                      r"headline reading|caption reading)\b")
# Real events that fakes and hoaxes reuse.
_EVENTS = re.compile(r"(?:\b9 ?/ ?11\b|\b(?:" + "|".join((
    r"nine eleven", r"september 11(?:th)?", r"twin towers", r"world trade center", r"pearl harbou?r",
    r"hiroshima", r"nagasaki", r"chernobyl", r"fukushima", r"columbine", r"sandy hook", r"uvalde", r"parkland",
    r"boston marathon bombing", r"oklahoma city bombing", r"january 6(?:th)?", r"jan 6", r"capitol riot",
    r"storming of the capitol", r"holocaust", r"tiananmen", r"october 7(?:th)?", r"7 october", r"bataclan",
    r"christchurch (?:shooting|attack|mosque)", r"challenger (?:disaster|explosion)", r"hurricane katrina",
    r"moon landing", r"kennedy assassination", r"jfk assassination", r"manchester arena", r"utoya",
    r"beslan", r"srebrenica", r"rwandan genocide", r"charlie hebdo", r"pulse nightclub", r"las vegas shooting",
    r"el paso shooting", r"buffalo shooting", r"hamas attack", r"bucha", r"mariupol", r"gaza",
)) + r")\b)")
_PLACES = re.compile(r"\b(?:" + "|".join((
    r"white house", r"(?:us |u\.s\. |united states )?capitol(?: building| hill)?", r"pentagon", r"kremlin",
    r"eiffel tower", r"big ben", r"buckingham palace", r"statue of liberty", r"empire state building",
    r"times square", r"golden gate bridge", r"taj mahal", r"colosseum", r"sydney opera house", r"burj khalifa",
    r"vatican", r"st\.? peter'?s basilica", r"notre[- ]dame", r"louvre", r"brandenburg gate", r"red square",
    r"tiananmen square", r"mount rushmore", r"hoover dam", r"lincoln memorial", r"washington monument",
    r"trump tower", r"(?:10|number 10|no\.? 10) downing street", r"downing street", r"houses of parliament",
    r"reichstag", r"westminster", r"hollywood sign", r"mecca", r"kaaba", r"western wall", r"al[- ]aqsa",
    r"dome of the rock", r"pyramids of giza", r"great pyramid", r"great wall of china", r"christ the redeemer",
    r"leaning tower of pisa", r"acropolis", r"parthenon", r"stonehenge", r"world trade center", r"twin towers",
    r"one world trade center", r"freedom tower", r"space needle", r"cn tower", r"tokyo tower", r"shard",
    r"mar[- ]a[- ]lago", r"camp david", r"oval office", r"supreme court", r"un headquarters",
    r"united nations headquarters", r"nato headquarters", r"federal reserve", r"wall street",
    r"polling (?:station|place|booth)s?", r"ballot box(?:es)?", r"vote counting", r"counting center",
    r"new york stock exchange", r"jfk airport", r"heathrow", r"zaporizhzhia nuclear plant",
)) + r")\b")
_DISASTER = re.compile(r"\b(?:" + "|".join((
    r"on fire", r"burning", r"burn(?:s|ed)? down", r"in flames", r"ablaze", r"smoking", r"smoke (?:rising|pouring)",
    r"explod(?:e|es|ed|ing)", r"explosion", r"blown up", r"blast", r"bomb(?:ed|ing|s)?", r"attack(?:ed|s)?",
    r"terror(?:ist|ism)?", r"shooting", r"shot (?:dead|down)", r"gunman", r"massacre", r"collaps(?:e|es|ed|ing)",
    r"crumbl(?:e|es|ed|ing)", r"destroyed", r"in ruins", r"crash(?:es|ed|ing)?", r"plane (?:hits|hitting|flying into)",
    r"earthquake", r"tsunami", r"hurricane", r"tornado", r"flood(?:ed|ing)?", r"wildfire", r"riot(?:s|ing)?",
    r"looting", r"coup", r"assassinat(?:ed|ion)", r"invasion", r"invaded", r"missile", r"airstrike",
    r"nuclear (?:strike|explosion|attack|meltdown)", r"evacuat(?:ed|ion)", r"stormed", r"under siege",
    r"election fraud", r"ballot stuffing", r"stuffing ballots", r"rigged election", r"stolen election",
    r"fake ballots", r"destroying ballots", r"voter fraud", r"arrest(?:ed|ing|s)?", r"in handcuffs", r"collapsing",
    r"dead", r"dying", r"killed", r"corpses?", r"bodies", r"war", r"tanks? (?:rolling|in the streets)",
)) + r")\b")

REVIEW_SCORE = 0.7  # above the policy's deception review bar (0.5), below its block bar (0.85)
SCENE_SCORE = 0.6  # a famous real place in a disaster, or a disaster staged as footage: review too
# Recorded, below review and below the real-person harm bar (0.3): a real person in news footage giving a
# speech, or "the 9/11 memorial", is reviewed for the person (public_figure) only.
HINT_SCORE = 0.2


@dataclass
class StagedNews:
    score: float
    framing: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    disasters: list[str] = field(default_factory=list)
    why: str = ""


def _found(rx: re.Pattern[str], text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).strip() for m in rx.finditer(text)))


def staged_news(text: str, real_person: bool) -> StagedNews:
    """Whether the prompt stages a real event, place or person as news or evidence."""
    low = " ".join(text.lower().replace("’", "'").split())
    s = StagedNews(0.0, _found(_FRAMING, low), _found(_EVENTS, low), _found(_PLACES, low), _found(_DISASTER, low))
    caption = _found(_CAPTION, low)
    intent = _found(_INTENT, low)
    if intent:
        s.framing += intent
        s.score, s.why = REVIEW_SCORE, "asks for a fake to pass as real"
    elif (s.framing or caption) and s.events:
        s.framing += caption
        s.score, s.why = REVIEW_SCORE, "a real event presented as footage/news/evidence"
    elif s.framing and (s.places or s.disasters):
        s.score = REVIEW_SCORE if s.places or real_person else SCENE_SCORE
        s.why = "a real place, person or a disaster presented as footage/news"
    elif s.framing and real_person:
        s.score, s.why = HINT_SCORE, "a real person presented in footage/news"
    elif s.events and (s.places or s.disasters):
        s.score, s.why = SCENE_SCORE, "a real attack or disaster re-enacted"
    elif s.places and s.disasters:
        s.score, s.why = SCENE_SCORE, "a famous real place shown in a disaster or attack"
    elif s.events:
        s.score, s.why = HINT_SCORE, "a real event named"
    return s


# A character on a costume, a cake or a toy is merchandise or fan dress, not the character itself as the
# subject: the franchise action (review) applies rather than the character action (block).
_INCIDENTAL = re.compile(r"\b(?:costumes?|dressed (?:up )?as|cosplay(?:er|ing)?|themed|figurines?|toys?|plush(?:ie)?s?|"
                         r"posters?|t-?shirts?|shirts?|mugs?|lunch ?box(?:es)?|stickers?|cakes?|balloons?|masks?|"
                         r"pajamas|backpacks?|action figures?|lego|funko|merch(?:andise)?)\b")


def incidental_mention(text: str, span: tuple[int, int]) -> bool:
    """Whether the character named at `span` is printed on, worn as or made into something."""
    window = text[max(0, span[0] - 30):span[1] + 30].lower()
    return bool(_INCIDENTAL.search(window))


# --- trademark --------------------------------------------------------------------------------------------
BRAND_SCORE = 0.9  # logo, ad, packaging or a named product: review
PRESENT_SCORE = 0.3  # a brand merely present: recorded, below review


def trademark_score(text: str, hits: Iterable[NameHit], info: dict[str, Work]) -> tuple[float, list[str]]:
    """The trademark score for the brand/product hits in `text`, and why."""
    low = fold(text)
    best, why = 0.0, []
    for h in hits:
        w = info.get(h.canonical)
        if w is None:
            continue
        after = fold(text[h.span[1]:])
        if w.kind == "product":
            score, reason = BRAND_SCORE, f"{h.matched!r}: a {w.franchise} product"
        elif _CUE_RE.search(low) or _PRODUCT_NOUNS.match(after):
            cue = _CUE_RE.search(low)
            score, reason = BRAND_SCORE, f"{h.matched!r} as the subject ({cue.group(0) if cue else after.split()[0]})"
        else:
            score, reason = PRESENT_SCORE, f"{h.matched!r} mentioned"
        if score >= best:
            best = score
        why.append(reason)
    return best, why


@dataclass
class NamedFinder:
    """Matchers for the default characters and brands, less what the operator removed, plus what they added."""
    characters: NameMatcher
    character_info: dict[str, Work]
    brands: NameMatcher
    brand_info: dict[str, Work]

    @classmethod
    def build(cls, remove: dict[str, set[str]] | None = None,
              add: dict[str, dict[str, list[str]]] | None = None) -> NamedFinder:
        """`remove`/`add`: kind ("character" | "brand") -> folded names to drop / canonical -> aliases to add."""
        remove = remove or {}
        add = add or {}
        out = []
        for kind, named in (("character", default_characters()), ("brand", default_brands())):
            gone = remove.get(kind, set())
            entries = {c: a for c, a in named.entries.items() if fold(c) not in gone}
            info = {c: named.info[c] for c in entries}
            for c, aliases in add.get(kind, {}).items():
                entries[c] = list(aliases)
                info[c] = Work("character" if kind == "character" else "brand", c, "operator")
            out.append((NameMatcher(entries, strict=True, context=named.context, guarded=named.guarded), info))
        return cls(out[0][0], out[0][1], out[1][0], out[1][1])

    def find(self, text: str) -> dict[str, list[tuple[NameHit, Work]]]:
        return {
            "character": [(h, self.character_info[h.canonical]) for h in self.characters.find(text)],
            "brand": [(h, self.brand_info[h.canonical]) for h in self.brands.find(text)],
        }
