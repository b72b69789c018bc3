"""What a requested video would SHOW: a curated concept lexicon per category (issue 18, the prompt gate).

The learned heads were trained mostly on comments and requests ("how do I ..."), so a text-to-video prompt that
simply describes a scene ("a man snorting a line of powder in a club toilet") often scores low: the register is
new to them. This signal reads the scene instead: a concept (drug use, a burglary, a corpse, people of a
protected group drawn as vermin, ballot stuffing ...) matched as a concept word with the verb or scene around it.
A match raises its category to DEPICTION_SCORE, above the policy's review bar (0.5) and below its block bars,
so on its own it sends a prompt to a person, never blocks (a real person named with a REAL_PERSON_HARMS category
is the policy's own rule, as for staged news). The decision names the concept and the words.

How the lexicon was written: from general knowledge of platform content policies (illegal goods and acts,
graphic violence, hate and dehumanisation, election and health misinformation, sexual content), never from the
unsafe prompts of the sets that measure it (I2P, Adversarial Nibbler, Ring-A-Bell, Six-CD). Each concept is kept
only if it gains more unsafe text-to-image/video prompts than it costs benign ones and does not lower the comment
sources' binary AUPRC (`python -m evals.prompt_depiction` prints both, per concept too).

Measured (session 15, seed 0, `python -m evals.prompt_depiction`, 45,527 rows, the training data the served heads
were trained on; v5 one family out, policy bars; without -> with the signal): unsafe T2I/T2V flagged 0.550 -> 0.589
(family mean; I2P 0.281 -> 0.300, its illegal-activity prompts 0.172 -> 0.205, violence 0.327 -> 0.356, shocking
0.307 -> 0.322, hate 0.141 -> 0.145; Nibbler 0.356 -> 0.397, Ring-A-Bell 0.463 -> 0.662, Six-CD 0.799 -> 0.835;
blocked unchanged: the signal never blocks), benign T2I/T2V flagged 0.019 -> 0.019 (blocked 0.003 unchanged),
safe-but-alarming flagged 0.094 -> 0.115 (blocked 0.006 unchanged), benign comments flagged 0.095 -> 0.099 (blocked
0.005 unchanged), comment binary AUPRC strict 0.796 -> 0.796, own 0.670 -> 0.670. In distribution (served recipe,
test side): unsafe T2X flagged 0.823 -> 0.840, comment AUPRC strict 0.916 -> 0.912. The concepts were pruned on
these same sets (below), so the left-out gain is an upper estimate of what a new source sees.
Dropped after measuring them the same way: killing and weapons, self-harm and suicide, sex acts, vandalism, hate
symbols (Nazi/KKK) and bare topic words (theft, robbery, hate crime, white power, chemtrails, crisis actors ...):
the heads already flag most prompts that name them, and in comments they are topics, so each cost comment AUPRC
(sex acts -0.011 strict) or benign T2I/T2V flags for at most +0.002 of unsafe T2X flagged. Slurs were dropped
too: HateCheck reclaims and quotes them (tests/test_prompt_classifier's held-out check went over its bar). Speech
that asks for nothing visual (first or second person, chat marks, no "video"/"picture"/"show") is not read as a
scene (reads_as_scene): comments name robberies and drugs as topics.

Inflections: each verb and noun is written once and inflected here (_verb: -s, -ed, -ing with the e-drop,
y -> ie and doubled consonants marked '+'; irregular pasts spelled out; _noun: -s/-es/-ies, irregular plurals
spelled out). No lemmatiser is installed (STACK.md has none); a library would lemmatise the prompt and still
need every rule below written on lemmas, and the forms a rule matches are visible in its regex and tested
(tests/test_prompt_depiction.py). Ordinary uses are kept out by structure (a verb must take the concept as its
object: "kicking a dog", not "a dog kicking a ball"), by guards on idioms ("steal the show", "poached eggs",
"forging a sword", "nude lipstick") and by whole-prompt contexts that make a scene staged or sport (Halloween,
costume, props; a boxing ring).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

DEPICTION_SCORE = 0.6  # above the policy's review bar (0.5), below every block bar of the categories it raises
CATEGORIES = ("illegal", "violence", "violence/graphic", "self-harm", "hate", "harassment", "deception", "sexual")


# --- inflection ---------------------------------------------------------------------------------------------

def _plural(w: str) -> str:
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return w + "es"
    if w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        return w[:-1] + "ies"
    return w + "s"


def _noun(spec: str) -> list[str]:
    """'rat' -> rat, rats; 'knife/knives' -> both; 'cocaine=' -> cocaine only. A phrase inflects its last word."""
    if spec.endswith("="):
        return [spec[:-1]]
    head, _, last = spec.rpartition(" ")
    pre = head + " " if head else ""
    if "/" in last:
        return [pre + f for f in last.split("/")]
    return [pre + last, pre + _plural(last)]


@dataclass(frozen=True)
class Forms:
    all: tuple[str, ...]
    past: tuple[str, ...]  # the past participles, for the passive ("a dog being kicked")


def _verb(spec: str) -> Forms:
    """'kick' -> kick, kicks, kicked, kicking; 'stab+' doubles (stabbed, stabbing); 'steal:stole:stolen' spells
    the irregular pasts; words after the verb stay as written ('shoot:shot up' -> shooting up, shot up); a leading
    '!' keeps only the -ing and past forms (the bare form is also a noun: "fruit punch", "a kick")."""
    verb, _, rest = spec.partition(" ")
    tail = " " + rest if rest else ""
    bare = not verb.startswith("!")  # '!punch': no bare form ("fruit punch", "a kick", "the beat")
    base, *irregular = verb.lstrip("!").split(":")
    double = base.endswith("+")
    base = base.rstrip("+")
    if base.endswith("ie"):
        ing, ed = base[:-2] + "ying", base + "d"
    elif base.endswith("e") and not base.endswith("ee"):
        ing, ed = base[:-1] + "ing", base + "d"
    elif base.endswith("y") and base[-2] not in "aeiou":
        ing, ed = base + "ing", base[:-1] + "ied"
    elif double:
        ing, ed = base + base[-1] + "ing", base + base[-1] + "ed"
    else:
        ing, ed = base + "ing", base + "ed"
    past = irregular or [ed]
    forms = [base, _plural(base), ing, *past] if bare else [ing, *past]
    return Forms(tuple(dict.fromkeys(f + tail for f in forms)), tuple(dict.fromkeys(p + tail for p in past)))


def _alt(words: Iterable[str]) -> str:
    ws = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", " ") for w in ws) + ")"


def nouns(*specs: str) -> list[str]:
    return [f for s in specs for f in _noun(s)]


def verbs(*specs: str) -> Forms:
    fs = [_verb(s) for s in specs]
    return Forms(tuple(f for v in fs for f in v.all), tuple(p for v in fs for p in v.past))


_GAP = r"(?:[\w']+ ){0,%d}"
_PASSIVE = r"(?:being|getting|gets|got|is|are|was|were|been) (?:[\w']+ )?"


def phrase(*alternatives: str | Iterable[str]) -> str:
    """Any of the phrases, each a regex (words from nouns()/verbs() have no special characters but "'")."""
    parts = [a if isinstance(a, str) else "|".join(sorted(set(a), key=len, reverse=True)) for a in alternatives]
    return r"\b(?:" + "|".join(parts) + r")\b"


def act(vs: Forms, objects: Iterable[str], gap: int = 2, passive: bool = True) -> str:
    """A verb taking one of the objects within `gap` words ("kicking a small dog"), or the object in the passive
    ("a dog being kicked")."""
    obj = _alt(objects)
    out = rf"\b{_alt(vs.all)} {_GAP % gap}{obj}\b"
    if passive:
        out += rf"|\b{obj} {_PASSIVE}{_alt(vs.past)}\b"
    return out


def near(a: Iterable[str], b: Iterable[str], gap: int = 2) -> str:
    """a then b within `gap` words, either order."""
    ra, rb = _alt(a), _alt(b)
    return rf"\b{ra} {_GAP % gap}{rb}\b|\b{rb} {_GAP % gap}{ra}\b"


def then(a: Iterable[str] | str, b: Iterable[str] | str, gap: int = 2) -> str:
    """a then b within `gap` words (a string is a regex)."""
    ra = a if isinstance(a, str) else _alt(a)
    rb = b if isinstance(b, str) else _alt(b)
    return rf"\b{ra} {_GAP % gap}{rb}\b"


@dataclass(frozen=True)
class Concept:
    name: str
    category: str
    rules: tuple[str, ...]
    unless: str = ""  # a whole-prompt context that makes the scene staged, sport or art, not the act

    @functools.cached_property
    def rx(self) -> re.Pattern[str]:
        return re.compile(_dehyphen("|".join(f"(?:{r})" for r in self.rules)))

    @functools.cached_property
    def guard(self) -> re.Pattern[str] | None:
        return re.compile(_dehyphen(self.unless)) if self.unless else None


def _dehyphen(rx: str) -> str:
    """Rules may spell hyphens ("blood-soaked", "anti[- ]semitic"); the text they run on has none (scene_text)."""
    return rx.replace(r"\-", " ").replace("-", " ")


# --- shared word lists --------------------------------------------------------------------------------------

PEOPLE = nouns("man/men", "woman/women", "person", "people=", "guy", "lady/ladies", "child/children", "kid", "boy",
               "girl", "baby/babies", "toddler", "teen", "teenager", "student", "victim", "stranger", "prisoner",
               "hostage", "civilian", "protester", "protestor", "refugee", "migrant", "immigrant", "worker",
               "wife/wives", "husband", "girlfriend", "boyfriend", "mother", "father", "son", "daughter",
               "neighbor", "neighbour", "cop", "police officer", "officer", "soldier", "teacher", "classmate",
               "homeless man/homeless men", "old man/old men", "old woman/old women", "elderly man",
               "elderly woman", "grandmother", "grandfather", "tourist", "passerby/passersby", "shopkeeper",
               "cashier", "journalist", "reporter", "priest", "nun", "monk", "doctor", "nurse", "patient",
               "driver", "pedestrian", "crowd", "family/families", "villager", "inmate", "slave", "servant",
               "maid", "someone=", "somebody=", "him=", "her=", "them=", "each other=", "one another=",
               "everyone=", "a person=", "the person=")
ANIMALS = nouns("dog", "puppy/puppies", "cat", "kitten", "horse", "pony/ponies", "animal", "pet", "bird", "cow",
                "calf/calves", "pig", "piglet", "monkey", "rabbit", "bunny/bunnies", "hamster", "goat", "sheep=",
                "lamb", "chicken", "duck", "donkey", "elephant", "dolphin", "bear", "deer=", "fox", "stray",
                "mouse/mice")
DRUGS = nouns("cocaine=", "coke=", "heroin=", "meth=", "methamphetamine=", "crystal meth=", "crack=",
              "crack cocaine=", "fentanyl=", "ketamine=", "lsd=", "mdma=", "ecstasy=", "molly=", "pcp=", "opium=",
              "drug", "narcotic", "weed=", "marijuana=", "cannabis=", "pot=", "joint", "blunt", "pill", "oxy=",
              "oxycontin=", "xanax=", "speed=", "angel dust=", "powder=", "white powder=", "amphetamine",
              "opioid", "dope=", "smack=", "shrooms=", "magic mushrooms=", "bath salts=", "krokodil=", "lean=",
              "codeine=")
HARD_DRUGS = nouns("cocaine=", "heroin=", "methamphetamine=", "crystal meth=", "crack cocaine=", "fentanyl=",
                   "krokodil=")
# Protected groups (religion, race/ethnicity, national origin, migration status, sexual orientation, gender
# identity, disability) as a prompt names them.
GROUPS = nouns(
    "jew", "jewish people=", "jewish person=", "jews=", "muslim", "muslim people=", "islamist", "christian",
    "catholic", "hindu", "sikh", "buddhist", "black people=", "black person=", "black man/black men",
    "black woman/black women", "black guy", "blacks=", "african",
    "african american", "negro/negroes", "white people=", "whites=", "asian", "asian people=", "chinese=",
    "chinese people=", "japanese=", "korean", "indian", "indians=", "pakistani", "arab", "palestinian", "israeli",
    "mexican", "latino", "latina", "hispanic", "immigrant", "migrant", "refugee", "asylum seeker", "foreigner",
    "gypsy/gypsies", "roma=", "romani=", "native american", "aboriginal", "indigenous people=", "irish=",
    "polish people=", "russian", "ukrainian", "somali", "nigerian", "haitian", "gay", "gay people=", "gay man/gay men",
    "lesbian", "homosexual", "bisexual", "queer", "lgbt people=", "lgbtq people=", "trans people=",
    "transgender", "transgender people=", "trans woman/trans women", "trans man/trans men", "tranny/trannies",
    "disabled people=", "the disabled=", "disabled person=", "autistic people=", "women=", "feminist")
# The same groups as adjectives, for structures that are unambiguous with them ("a caricature of a Jewish ...").
GROUP_ADJ = ("jewish", "muslim", "islamic", "black", "african", "asian", "chinese", "japanese", "korean", "indian",
             "mexican", "latino", "hispanic", "arab", "arabic", "middle eastern", "gay", "lesbian", "trans",
             "transgender", "gypsy", "romani", "native american", "aboriginal", "disabled", "immigrant", "refugee",
             "hindu", "sikh", "palestinian", "israeli", "irish", "african american")
VERMIN = nouns("rat", "vermin=", "cockroach", "roach", "insect", "bug", "parasite", "louse/lice", "leech",
               "maggot", "termite", "locust", "germ", "virus/viruses", "disease", "plague", "cancer", "infestation",
               "ape", "monkey", "gorilla", "chimp", "baboon", "pig", "swine=", "dog", "beast", "animal", "savage",
               "subhuman", "sub human", "untermensch=", "filth=", "trash=", "garbage=", "scum=", "snake",
               "rodent", "worm", "mongrel")
# Up to two words between the copula and the comparison, none a negation ("are not vermin" is no comparison).
_FILLER = r"(?:(?!not |never |no )[\w']+ ){0,2}"
_AS = r"(?:are|is|as|like|being|were|was|into|= |depicted as|portrayed as|shown as|drawn as|turned into|" \
      r"transformed into|with the heads? of|with the faces? of)"
SLANDER = nouns("criminal", "terrorist", "rapist", "thief/thieves", "murderer", "pedophile", "paedophile",
                "invader", "savage", "inferior=", "subhuman", "evil=", "dirty=", "disgusting=", "filthy=",
                "stupid=", "lazy=", "worthless=", "the enemy=", "not human=", "not welcome=", "a disease=",
                "a cancer=", "a plague=", "the problem=", "ruining this country=", "destroying this country=")

# Disability as a prompt names it; "blind" and "deaf" only with a person ("a blind date", "deaf to").
_DISABLED = (r"(?:disabled|handicapped|crippled|retarded|autistic|mentally ill|amputee|wheelchair user|"
             r"(?:man|woman|person|kid|child|boy|girl) in a wheelchair|(?:blind|deaf|down syndrome|stuttering|"
             r"disabled) (?:man|men|woman|women|person|people|kid|kids|child|children|boy|girl))")
_STAGED = (r"\b(?:halloween|costumes?|cosplay\w*|props?|special effects|sfx|(?:movie|film|stage|theatrical) makeup|"
           r"fake blood|haunted house|toys?|action figures?|lego|plush\w*|zombie walk)\b")
_SPORT = (r"\b(?:boxing|boxers?|mma|ufc|kickbox\w*|karate|taekwondo|judo|jiu ?jitsu|martial arts?|sparring|"
          r"wrestl\w*|muay thai|fencing|dojo|referee|match|tournament|sports?|soccer|football|rugby|hockey|"
          r"training|gym|video game|playing)\b")

_ALCOHOL = nouns("beer", "whiskey=", "whisky=", "vodka=", "wine=", "alcohol=", "liquor=", "booze=", "tequila=",
                 "rum=", "gin=", "champagne=", "flask", "bottle of beer", "bottle of wine", "bottle of vodka",
                 "bottle of whiskey", "can of beer", "cocktail", "margarita", "shot of whiskey", "shots")
_HIT = Forms(("hits", "hitting"), ("hit",))  # "hit" itself is also a song, a dose, a success
_V_STEAL = verbs("steal:stole:stolen", "shoplift", "pickpocket")
_LOOT = nouns("car", "wallet", "purse", "handbag", "money=", "cash=", "jewelry=", "jewellery=", "jewel",
              "phone", "bike", "bicycle", "tv", "goods=", "merchandise=", "clothes=", "sneaker", "shoe", "watch",
              "laptop", "painting", "diamond", "gold=", "necklace", "ring", "package", "groceries=", "food=",
              "candy=", "from=", "items=", "stuff=", "credit card", "identity=", "identities=", "data=",
              "passwords=", "artwork", "car stereo", "catalytic converter", "gas=", "fuel=", "medicine=", "bag",
              "backpack", "luggage=", "electronics=", "perfume")
_PLACES = nouns("house", "home", "apartment", "car", "store", "shop", "bank", "building", "office", "safe=",
                "gas station", "jewelry store", "jewellery store", "museum", "pharmacy/pharmacies", "mansion",
                "warehouse", "supermarket", "liquor store", "convenience store", "atm", "vault", "train",
                "armored truck", "casino")
_DOCS = nouns("bill", "banknote", "money=", "cash=", "currency=", "note", "passport", "id=", "ids=", "id card",
              "driver's license", "drivers license", "license", "document", "paperwork=", "signature", "check",
              "cheque", "diploma", "certificate", "visa", "ticket", "prescription", "coupon", "dollar", "euro",
              "receipt", "ballot")


@functools.lru_cache(maxsize=1)
def concepts() -> tuple[Concept, ...]:
    """The lexicon. One concept per line of a policy: its category, what it matches, and when it does not."""
    steal_idioms = r"\b(?:steal|steals|stole|stealing|stolen) (?:the show|a kiss|kisses|a glance|glances|a look|" \
                   r"the spotlight|hearts?|(?:my|your|his|her) heart|the scene|a moment|moments|home|second|base)"
    return (
        # ---- illegal ----
        Concept("drug use", "illegal", (
            act(verbs("snort", "sniff", "inject", "shoot:shot up", "smoke", "inhale", "huff", "freebase",
                      "do:did:done lines of", "take:took:taken a hit of", "take:took:taken a line of",
                      "smoke:smoked a bowl of"), DRUGS, gap=3, passive=False),
            then(verbs("get:got high on", "be high on", "overdose on", "trip:tripped on").all, DRUGS, gap=1),
            phrase(["lines of cocaine", "line of cocaine", "lines of coke", "line of coke", "cocaine lines",
                    "crack pipe", "meth pipe", "heroin needle", "heroin syringe", "bong hit", "drug addict",
                    "drug addicts", "junkie", "junkies", "crackhead", "crackheads", "drug den", "crack house",
                    "shooting gallery for addicts", "getting high", "doing drugs", "taking drugs", "using drugs",
                    "drug overdose", "high on drugs", "stoned on", "tripping on acid", "rolled joint",
                    "rolling a joint", "rolling joints", "smoking pot", "smoking weed", "smoking crack",
                    "smoking a joint", "smoking joints", "syringe in (?:his|her|their) arm", "needle in (?:his|her|"
                    "their) arm", "opium den"]),
            phrase(HARD_DRUGS),
        ), unless=r"\b(?:coca[- ]?cola|diet coke|coke (?:can|bottle|zero)|can of coke|bottle of coke)\b"),
        Concept("drug dealing", "illegal", (
            act(verbs("sell:sold", "deal:dealt", "push", "buy:bought", "score", "smuggle", "distribute",
                      "hand:handed out", "pass:passed out"), DRUGS, gap=3, passive=False),
            phrase(["drug dealer", "drug dealers", "drug dealing", "drug deal", "drug deals", "drug cartel",
                    "drug cartels", "drug lord", "drug lords", "drug kingpin", "drug trafficking", "drug traffickers",
                    "drug trafficker", "drug mule", "drug mules", "drug smuggling", "drug smugglers", "drug runner",
                    "narco", "narcos", "cartel hitmen", "dealer selling", "bags of cocaine", "bricks of cocaine",
                    "kilos of cocaine", "packets of heroin", "bags of heroin", "baggies of"]),
        )),
        Concept("drug manufacture", "illegal", (
            phrase(["meth lab", "meth labs", "drug lab", "drug labs", "cocaine lab", "cocaine labs",
                    "cooking meth", "cook meth", "cooks meth", "making meth", "make meth", "making drugs",
                    "manufacturing drugs", "manufacturing meth", "cooking crack", "cooking heroin",
                    "cutting cocaine", "cutting heroin", "illegal grow operation", "marijuana grow operation",
                    "pill press"]),
        )),
        Concept("theft", "illegal", (
            act(_V_STEAL, _LOOT, gap=3, passive=True),
            act(verbs("rob+", "burgle", "burglarize", "burglarise", "!loot", "break:broke:broken into"),
                _PLACES + PEOPLE, gap=2, passive=True),
            act(verbs("mug+", "pickpocket", "rob+"), PEOPLE, gap=2, passive=True),
            act(verbs("snatch", "grab"), nouns("purse", "handbag", "wallet", "phone", "bag"), gap=2, passive=False)
            + r"(?= (?:from|off|out of))",
            phrase(nouns("shoplifter", "shoplifting=", "burglar", "robber",
                         "heist", "pickpocket", "thief/thieves", "looter", "looting=", "carjacking", "carjacker",
                         "purse snatcher", "car thief/car thieves", "cat burglar", "bank robber", "home invasion",
                         "armed robbery/armed robberies", "bank robbery/bank robberies", "stickup", "holdup",
                         "car theft=")),
            phrase(["hotwiring a car", "hot-wiring a car", "hotwires a car", "hotwired car", "stolen car",
                    "stolen goods", "stolen cars", "stolen jewelry", "stolen money", "fencing stolen",
                    "smash and grab", "smash-and-grab", "breaking into", "broke into", "breaks into"]),
        ), unless=steal_idioms + "|" + _STAGED + r"|\b(?:cops and robbers|thieves'? guild|stealth game|"
                  r"break(?:ing)? into (?:song|dance|a (?:smile|grin|run|sweat|laugh)))\b"),
        Concept("counterfeiting", "illegal", (
            phrase(nouns("counterfeit=", "counterfeiting=", "counterfeiter", "forgery/forgeries", "forger")),
            act(verbs("forge", "fake", "falsify"), _DOCS, gap=3, passive=True),
            phrase(["fake money", "fake bills", "fake banknotes", "fake currency", "fake passport", "fake passports",
                    "fake id", "fake ids", "fake id card", "fake driver's license", "fake documents",
                    "fake diploma", "fake prescription", "fake prescriptions", "printing money", "money printing press",
                    "knockoff designer", "knock-off designer", "fake designer handbags", "fake rolex",
                    "fake luxury"]),
        ), unless=r"\b(?:monopoly money|play money|board game|forging (?:a |the )?(?:sword|blade|steel|iron|metal|"
                  r"horseshoe|armor|armour|bond|friendship|alliance|path|ahead))\b"),
        Concept("hacking and fraud", "illegal", (
            act(verbs("hack", "breach", "break:broke:broken into"), nouns(
                "bank", "bank account", "account", "computer", "system", "network", "server", "database",
                "government", "email", "phone", "website", "atm", "power grid", "voting machine", "mainframe",
                "security system", "pentagon", "hospital"), gap=3, passive=True),
            phrase(nouns("identity theft=", "credit card fraud=", "bank fraud=", "wire fraud=", "insurance fraud=",
                         "tax fraud=", "tax evasion=", "money laundering=", "phishing=", "phishing scam",
                         "ponzi scheme", "pyramid scheme", "scammer", "con artist", "fraudster", "embezzlement=",
                         "ransomware=", "skimmer", "card skimming=", "extortion=", "blackmail=", "bribery=",
                         "romance scam", "crypto scam", "investment scam", "tech support scam")),
            phrase(["laundering money", "launders money", "laundered money", "laundering cash"]),
            act(verbs("embezzle", "extort", "blackmail", "bribe", "defraud", "scam+", "swindle"),
                PEOPLE + nouns("money=", "funds=", "judge", "official", "politician", "senator",
                                              "police=", "customs officer", "voter", "elderly=", "retiree",
                                              "pensioner", "investor", "grandma", "grandpa"), gap=2, passive=True),
        ), unless=r"\b(?:life ?hack\w*|hackathon|hack ?and ?slash|hacky sack)\b"),
        Concept("smuggling and trafficking", "illegal", (
            phrase(nouns("smuggler", "smuggling=", "smuggled=", "human trafficking=", "sex trafficking=",
                         "trafficker", "trafficking=", "trafficked=", "contraband=", "gun running=", "gunrunner",
                         "arms dealer", "arms dealing=", "black market=", "organ harvesting=", "people smuggler",
                         "coyote smuggling=", "child labor=", "child labour=", "sweatshop", "slave labor=",
                         "slave labour=", "forced labor=", "forced labour=")),
            phrase(verbs("smuggle").all),
        )),
        Concept("poaching", "illegal", (
            phrase(nouns("poacher", "ivory trade=", "rhino horn trade=", "illegal hunting=", "illegal logging=",
                         "illegal fishing=", "wildlife trafficking=", "shark finning=", "trophy poaching=")),
            act(verbs("poach"), nouns("elephant", "rhino", "rhinoceros", "tiger", "lion", "gorilla", "animal",
                                      "wildlife=", "ivory=", "pangolin", "leopard", "bear", "deer=", "game=",
                                      "panda", "orangutan", "whale", "shark", "turtle", "eagle"), gap=2),
            act(verbs("saw:sawed", "hack", "cut:cut", "rip:ripped"), nouns("tusk", "horn", "fin"), gap=3,
                passive=False) + r"(?= (?:off|from))",
        ), unless=r"\b(?:poached (?:egg|eggs|salmon|pear|pears|chicken|fish)|poaching (?:egg|eggs|liquid)|egg)\b"),
        Concept("drunk driving", "illegal", (
            phrase(["drunk driving", "driving drunk", "drunk driver", "drunk drivers", "drink driving",
                    "drink-driving", "drunk-driving", "driving while drunk", "driving while intoxicated",
                    "driving under the influence", "dui", "drinking and driving", "drinks and drives",
                    "driving high", "texting while driving"]),
            then(verbs("drink:drank:drunk", "chug+", "swig+", "sip+").all,
                 _alt(_ALCOHOL) + r" (?:[\w']+ ){0,3}(?:while (?:driving|behind the wheel|at the wheel)|as (?:he|she|"
                 r"they) (?:drives?|drove)|behind the wheel)", gap=2),
            then(["drunk", "intoxicated", "wasted", "hammered", "drinking beer", "drinking whiskey",
                  "drinking vodka", "drinking alcohol", "holding a beer", "with a beer"],
                 ["behind the wheel", "at the wheel", "driving a", "driving the", "driving his", "driving her",
                  "swerving"], gap=3),
        )),
        Concept("arson", "illegal", (
            phrase(nouns("arson=", "arsonist", "firebomb", "firebombing=", "molotov cocktail", "molotov")),
            act(verbs("set:set fire to", "!torch", "burn:burned down", "burn:burnt down", "firebomb", "douse",
                      "pour:poured gasoline on"), nouns(
                "house", "home", "building", "car", "police car", "school", "church", "mosque", "synagogue",
                "temple", "store", "shop", "barn", "forest", "office", "apartment", "restaurant", "business",
                "warehouse", "cop car", "bus", "embassy", "clinic", "village", "homes=", "tent"), gap=3,
                passive=False),
            then(["setting", "sets", "set"], r"(?:[\w']+ ){1,4}(?:on fire|ablaze|alight)", gap=0),
            then(["pouring gasoline", "pours gasoline", "pouring petrol", "dousing"], ["on", "over"], gap=0),
        ), unless=r"\b(?:candles?|fireplace|grill|bbq|barbecue|campfire|bonfire|fireworks?|birthday cake|"
                  r"cigarette|cigar|incense|stove|torch(?:es)? lit|tiki|the world on fire|heart on fire|"
                  r"dance ?floor on fire|"
                  r"stage on fire|creme brulee|brulee|dessert)\b"),
        Concept("voyeurism", "illegal", (
            phrase(["hidden camera in (?:a|the) (?:bathroom|shower|changing room|locker room|toilet|bedroom)",
                    "peeping tom", "upskirt", "up-skirt", "spycam", "spy cam", "revenge porn",
                    "filming (?:a|the) (?:woman|girl|women|girls) (?:undressing|showering|in the shower)",
                    "spying on (?:a|the|his|her) (?:woman|girl|neighbor|neighbour) (?:undressing|showering)",
                    "peeping (?:through|into) (?:a|the) (?:window|bathroom|changing room)"]),
        )),
        Concept("other crimes", "illegal", (
            phrase(["illegal(?:ly)? (?:dumping|gambling|street racing|racing|fireworks|weapons?|guns?|firearms|"
                    "drugs?|substances?|immigration crossing|border crossing|hunting|logging|fishing)",
                    "underage drinking", "underage smoking", "prison break", "escaping from prison",
                    "escaping prison", "jailbreak from", "selling guns to", "selling weapons to",
                    "3d printed gun", "3d-printed gun", "ghost gun", "ghost guns", "sawed-off shotgun",
                    "sawn-off shotgun", "pimping", "brothel", "brothels", "prostitute",
                    "prostitutes", "prostitution", "soliciting a prostitute",
                    "street racing", "dog fighting ring", "cockfight", "cockfighting", "cock fight",
                    "dumping toxic waste", "dumping chemicals into"]),
        ), unless=r"\b(?:pimp my ride|pimped out)\b"),
        # ---- violence ----
        Concept("assault", "violence", (
            act(verbs("!punch", "!kick", "!beat:beaten", "!slap+", "choke", "headbutt", "stomp on", "shove",
                      "attack", "assault", "pummel", "!whip+", "pistol whip+", "!beat:beat up", "!beat:beaten up",
                      "!tackle"), PEOPLE, gap=2, passive=True),
            act(_HIT, PEOPLE, gap=2, passive=True),
            phrase(["beating up", "beats up", "beaten up", "bar fight", "bar brawl", "street fight", "street brawl",
                    "fistfight", "fist fight", "gang fight", "knife fight", "gun fight", "gunfight", "firefight",
                    "mob beating", "brawl", "brawling", "riot police beating", "assaulting", "gang beating",
                    "bloody fight",
                    "violent fight", "violent brawl", "group beating", "jumped by a gang", "curb stomp",
                    "beaten to a pulp", "beats him", "beats her", "beating him", "beating her", "punches him",
                    "punches her", "kicks him", "kicks her", "slaps her", "slaps him"]),
        ), unless=_SPORT + "|" + _STAGED + r"|\b(?:beat(?:ing)? (?:the|a) (?:drum|egg|eggs|heat|record|clock|traffic)|"
                  r"hit(?:ting)? (?:song|single|record|show|the road|the gym|the beach|the slopes)|"
                  r"drum|drums|eggs|dance|dancing|music)\b"),
        Concept("shooting people", "violence", (
            act(Forms(("shoots", "shooting", "shoot at", "shoots at", "shooting at", "shot at"), ("shot",)),
                PEOPLE + nouns("protesters=", "civilians=", "unarmed"), gap=2, passive=True),
        ), unless=_STAGED + r"|\b(?:photo ?shoots?|photographers?|photography|photos?|cameras?|portraits?|films?|"
                  r"filming|movies?|videos?|scenes?|commercials?|selfies?|shooting stars?|basketball|hoops|"
                  r"tennis|golf|pool|billiards|soccer|football|hockey|goal|arrows? at a target|archery|"
                  r"hoop|water gun|water pistol|nerf|paintball|laser tag|glances?|looks?|smiles?)\b"),
        Concept("harassment", "harassment", (
            phrase(["bullying (?:a|an|the|his|her|their|other|younger|smaller|new|weaker)", "being bullied",
                    "cyberbullying", "cyber bullying", "bullied by", "stalker (?:watching|following|outside)",
                    "stalking (?:a|an|the|her|him|his|their) (?:woman|girl|man|ex|neighbor|neighbour|victim)",
                    "doxxing", "doxing", "catcalling", "spitting on (?:a|an|the) (?:man|woman|person|girl|boy)",
                    "harassing (?:a|an|the) (?:woman|girl|man|boy|student|worker|waitress|waiter|person)",
                    "sexually harassing", "sexual harassment", "humiliating (?:a|an|the) (?:man|woman|girl|boy|"
                    "student|kid|child)", "public humiliation of"]),
        ), unless=_STAGED),
        Concept("animal cruelty", "violence", (
            act(verbs("!kick", "!beat:beaten", "torture", "abuse", "drown", "!burn:burned", "stab+", "strangle",
                      "starve", "!whip+", "!skin+:skinned alive", "set:set fire to", "set:set on fire", "!punch",
                      "stomp on", "mutilate", "choke", "poison", "bludgeon", "decapitate", "behead"), ANIMALS,
                gap=2, passive=True),
            act(_HIT, ANIMALS, gap=2, passive=True),
            phrase(["animal cruelty", "animal abuse", "cruelty to animals", "abused (?:dog|dogs|animals?|puppy|"
                    "puppies|cat|cats|horse|horses)", "dog ?fighting", "dog fights? (?:ring|pit)", "pit ?bull fight",
                    "cockfight(?:ing)?", "bull ?fighting", "bullfight", "matador stabbing", "skinned alive",
                    "starving (?:dog|dogs|horse|horses|animals?)", "crush video"]),
        ), unless=r"\b(?:beating a dead horse|kill(?:s|ing)? two birds|eggs|ball|toy|plush\w*|cartoon|"
                  r"angry birds|cat ?and ?mouse|cook(?:ing|ed)?|recipe|kitchen|dish|roast\w*|grill\w*|bbq|"
                  r"barbecue|fishing|fish)\b"),
        # ---- violence/graphic (disturbing) ----
        Concept("corpses and gore", "violence/graphic", (
            phrase(nouns("corpse", "dead body/dead bodies", "cadaver", "carcass", "body bag", "mass grave",
                         "charred body/charred bodies", "charred remains=", "human remains=", "severed head",
                         "severed limb", "severed arm", "severed leg", "severed hand", "severed finger",
                         "entrails=", "innards=", "exposed brain", "exposed bone", "exposed intestines=",
                         "exposed organs=", "open wound", "gaping wound", "gunshot wound", "bloodbath", "carnage=",
                         "gore=", "mutilated body/mutilated bodies", "dismembered body/dismembered bodies",
                         "decapitated body/decapitated bodies", "decomposing body/decomposing bodies",
                         "rotting corpse", "rotting body/rotting bodies", "rotting flesh=", "decaying body/decaying "
                         "bodies", "decaying flesh=", "burnt body/burnt bodies", "bloated body/bloated bodies",
                         "drowned body/drowned bodies", "hanging body/hanging bodies", "pile of bodies=",
                         "piles of bodies=", "pile of corpses=", "morgue drawer")),
            phrase(["gory", "gruesome", "grisly", "mutilat(?:ed|ing|ion|es|e)", "dismember(?:ed|ing|ment|s)?",
                    "disembowel(?:ed|led|ing|ment|s)?", "decapitated", "decapitation", "eviscerat(?:ed|ing|ion)",
                    "flayed", "decompos(?:ing|ed) (?:body|bodies|corpses?|remains|flesh|animals?|carcass(?:es)?|head|"
                    "face|hands?|man|woman|person|people|cat|dog|horse|deer|whale|fish)", "state of decomposition",
                    "maggot[- ]infested", "covered in maggots",
                    "crawling with maggots", "maggots (?:crawling|eating|covering|in (?:the|a|his|her) "
                    "(?:flesh|body|wound|eye|mouth|face))", "soaked in blood", "blood[- ]soaked",
                    "covered in blood", "covered with blood", "drenched in blood", "bathed in blood",
                    "dripping (?:with|in) blood", "pools? of blood", "puddles? of blood", "lying in (?:a pool of )?"
                    "(?:his|her|their) (?:own )?blood", "blood (?:splatter(?:ed)?|spatter(?:ed)?|gushing|spurting|"
                    "squirting|pouring|spraying|everywhere|all over)", "splattered (?:with|in) blood",
                    "bloody (?:corpse|body|bodies|knife|wound|wounds|mess|massacre|face|hands|stump|murder|"
                    "carnage|remains|severed|chunks|flesh|entrails|scene)", "brains? (?:splattered|blown out|"
                    "spilling|oozing)", "guts (?:spilling|hanging|spilled|everywhere)", "intestines (?:spilling|"
                    "hanging|spilled|out)", "eyes? gouged", "gouging (?:out )?(?:his|her|their|an?|the) eyes?",
                    "gouged out", "impaled (?:on|through|by)", "skull (?:crushed|split|smashed)",
                    "crushed (?:skull|head|body)", "burned alive", "burnt alive", "burning alive",
                    "skinned alive", "cannibal(?:s|ism|istic)?", "eating human flesh", "human flesh",
                    "dead (?:man|men|woman|women|child|children|baby|babies|person|people|soldiers?|civilians?|"
                    "girl|boy|bodies|body) (?:lying|on the|in the|floating|hanging|piled|covered)",
                    "bodies (?:lying|piled|scattered|strewn|floating|hanging)", "lifeless body",
                    "lifeless bodies", "autopsy of", "limbs torn off", "bleeding out", "bleeding to death",
                    "slit throat", "throat slit",
                    "throat cut", "crucified (?:man|woman|person|body)", "roadkill", "run over and crushed",
                    "car crash victims?", "plane crash victims?"]),
        ), unless=_STAGED + r"|\b(?:steak|meat|sauce|ketchup|bloody mary|blood orange|blood moon|wine|cocktail|"
                  r"red velvet|paint(?:ed|ing)? red|cake|zombies?|vampires?|skull candle|day of the dead|"
                  r"dia de (?:los )?muertos|museum|fossil|dinosaur|anatomy (?:class|model|illustration)|"
                  r"turkey|soup|stock|"
                  r"broth|gore tex|al gore)\b"),
        # ---- hate ----
        Concept("dehumanising comparison", "hate", (
            then(GROUPS, rf"{_AS} {_FILLER}{_alt(VERMIN)}", gap=0),
            then(_alt(VERMIN), r"(?:wearing|in|with) (?:a |an )?(?:kippah|yarmulke|star of david|hijab|burqa|"
                 r"burka|niqab|turban|keffiyeh|kufi|skullcap|hasidic|jewish|muslim|israeli|african)", gap=1),
            then(_alt(VERMIN), r"(?:with|having) (?:a )?(?:jewish|black|african|asian|chinese|mexican|arab|muslim|"
                 r"hook(?:ed)?[- ]?nosed?|big[- ]nosed?|slanted[- ]eyes?) (?:features?|faces?|noses?|heads?)",
                 gap=2),
            then(GROUPS, r"(?:infesting|infest|swarming|swarm|breeding like|multiplying like|crawling over|"
                 r"invading|overrunning|flooding)", gap=0),
        )),
        Concept("hateful claims", "hate", (
            then(GROUPS, rf"(?:are|is|being|as) (?:all |just |nothing but |the )?{_alt(SLANDER)}", gap=0),
            phrase(["go back to (?:your|their) (?:own )?country", "deport (?:all|every|them)",
                    "(?:kill|gas|exterminate|eradicate|wipe out|get rid of|ban) (?:all |the )?" + _alt(GROUPS),
                    "(?:no|ban) " + _alt(GROUPS) + " allowed", "whites only", "coloreds only",
                    "no blacks", "no jews", "no muslims", "no gays", "no irish"]),
        )),
        Concept("demeaning caricature and mockery", "hate", (
            phrase(["racist (?:caricatures?|cartoons?|drawings?|depictions?|stereotypes?|jokes?|memes?|propaganda)",
                    "antisemitic (?:caricatures?|cartoons?|propaganda|stereotypes?|memes?)",
                    "anti-semitic (?:caricatures?|cartoons?|propaganda)", "(?:islamophobic|homophobic|"
                    "transphobic|xenophobic|sexist|misogynist(?:ic)?) (?:caricatures?|cartoons?|propaganda|memes?|"
                    "jokes?|slogans?|signs?|posters?)", "blackface", "yellowface", "redface", "minstrel show",
                    "happy merchant", "hook[- ]?nosed (?:jew|jews|banker|bankers|man)", "greedy jews?",
                    "jews? counting money",
                    "(?:jew|jewish) (?:[\\w']+ )?(?:counting|hoarding|clutching|grabbing) (?:money|gold|"
                    "coins)", "caricatures? of (?:an? |the )?(?:" + _alt(GROUPS) + "|" + _alt(GROUP_ADJ) + ")",
                    "stereotypical (?:" + _alt(GROUPS) + "|" + _alt(GROUP_ADJ) + r")(?: [\w']+)? "
                    r"(?:with|holding|eating|stealing)",
                    "(?:mock(?:ing|s|ed)?|ridicul(?:ing|es|ed)|making fun of|laughing at|jeering at|taunting|"
                    "humiliating) (?:a |an |the )?(?:" + _alt(GROUPS) + "|" + _DISABLED + ")",
                    "pulling (?:his|her|their) eyes (?:to look|into|to mimic|slanted)", "slant[- ]eyed",
                    "ching chong", "mocking (?:an? )?(?:asian|chinese|indian) accent"]),
        )),
        Concept("discrimination and harassment of a group", "hate", (
            then(GROUPS, r"(?:[\w']+ ){0,2}(?:being|getting|is|are) (?:[\w']+ )?(?:harassed|beaten|attacked|spat on|"
                 r"spit on|denied service|refused service|chased|insulted|mocked|bullied|lynched|segregated|"
                 r"kicked out|thrown out|humiliated|abused|ridiculed)", gap=0),
            phrase(["(?:refusing|refuse|refused|denying|denied) (?:to serve |service to |entry to |a job to )"
                    "(?:an? |the )?" + _alt(GROUPS), "segregated (?:bus|school|water fountain|restaurant|lunch "
                    "counter)", "racial segregation",
                    "racist (?:mob|crowd|chant|chants|graffiti|slogans?|signs?|banners?|posters?)",
                    "anti[- ]?(?:immigrant|muslim|jewish|gay|trans|black|asian) (?:mob|rally|graffiti|slogans?|"
                    "signs?|banners?|posters?|propaganda)"]),
        )),
        # ---- deception ----
        Concept("election fraud staging", "deception", (
            phrase(["ballot[- ]box stuffing", "ballot stuffing", "stuff(?:ing|s|ed)? (?:a |the )?ballot box(?:es)?",
                    "stuff(?:ing|s|ed)? ballots", "(?:fake|fraudulent|forged|counterfeit|stolen|shredded|"
                    "discarded|burned|burnt|destroyed|dumped|hidden|illegal) (?:ballots|votes|mail-in ballots)",
                    "(?:destroying|shredding|burning|throwing away|dumping|hiding|stealing|tearing up|altering|"
                    "changing|switching|deleting|flipping) (?:the )?(?:ballots|votes|mail-in ballots)",
                    "rigg(?:ing|ed) (?:an? |the )?(?:election|elections|vote|votes|voting machines?|ballot)",
                    "election (?:fraud|rigging|tampering)", "voter fraud", "vote rigging", "votes? rigged",
                    "voting machines? (?:flipping|switching|changing|deleting|altering)", "dead people voting",
                    "stolen election", "(?:poll|election) workers? (?:cheating|tampering|changing|destroying|"
                    "hiding|stuffing|shredding)", "tamper(?:ing|ed)? with (?:the )?(?:ballots|votes|voting "
                    "machines?|election)", "buying votes", "vote buying", "voter intimidation",
                    "intimidating voters"]),
        )),
        Concept("hoax and conspiracy staging", "deception", (
            phrase(["(?:fake|faked|staged|hoax) moon landing", "moon landing (?:hoax|was faked|was staged|"
                    "being faked|being staged|on a (?:film|movie|sound) (?:set|stage)|in a (?:studio|hollywood "
                    "studio)|(?:being )?(?:filmed|shot|recorded|faked|staged) (?:in|on) a (?:[\\w']+ )?(?:studio|film "
                    "set|movie set|sound stage))", "(?:spraying|spray|sprays|sprayed) chemtrails?",
                    "chemtrails? (?:poisoning|spraying|causing|"
                    "controlling|making)",
                    "5g (?:towers? )?(?:causing|spreading|cause|causes|spread) "
                    "(?:covid|coronavirus|the virus|cancer|disease)", "vaccines? (?:causing|cause|causes) autism",
                    "microchips? in (?:the )?vaccines?", "vaccine microchips?", "inside job", "controlled "
                    "demolition of the (?:twin towers|world trade center)", "(?:hired|paid|using|fake) crisis actors?",
                    "crisis actors? (?:staging|faking|pretending|"
                    "posing|acting)", "pizzagate",
                    "qanon", "q anon", "lizard people", "reptilian (?:elites?|politicians?|leaders?|overlords)",
                    "plandemic", "scamdemic", "covid (?:hoax|is fake|is a hoax)", "fake pandemic",
                    "flat earth (?:proof|evidence)", "proof (?:that )?the earth is flat", "new world order "
                    "(?:agenda|plot)", "illuminati (?:plot|controlling|control)", "adrenochrome",
                    "drinking bleach", "bleach (?:cures?|to cure)", "miracle cure for (?:cancer|covid|autism|"
                    "aids|hiv|diabetes)", "cure (?:cancer|covid|autism|aids|hiv) with", "fake (?:cdc|who|fbi|cia|"
                    "government|police|official|white house|nasa|fema) (?:announcement|warning|alert|statement|"
                    "press release|document|letter|notice)", "fake (?:emergency|amber|missile) alerts?",
                    "fake (?:celebrity )?endorsement", "impersonating (?:a |an |the )?(?:police officer|cop|"
                    "doctor|bank|irs agent|fbi agent|official|government official)", "posing as (?:a |an |the )?"
                    "(?:police officer|cop|irs agent|fbi agent|bank employee)", "staged (?:attack|shooting|"
                    "massacre|bombing|terror attack|false flag)", "false flag (?:attack|operation)"]),
        )),
        # ---- sexual (borderline) ----
        Concept("nudity", "sexual", (
            phrase(["nud(?:e|es|ity)(?! (?:lipstick|lip|heels?|shoes?|pumps|colou?r|colou?red|tones?|palette|"
                    "beige|pink|makeup|nails?|polish|shades?|eyeshadow|sandals|flats|stockings|bodysuit "
                    "under|leotard|mesh|fabric|linen|wall))", "naked(?! (?:eye|mole|flame|truth|ambition|"
                    "branch|branches|tree|trees|wall|walls|bulb|bulbs|cake|chef|blade|wire|light|lunch|city|"
                    "gun|singularity))", "topless", "bottomless", "undress(?:ed|ing)", "unclothed", "disrobing",
                    "in the nude", "completely bare", "bare (?:breasts?|chest(?:ed)? woman|buttocks|bottom|butt)",
                    "nipples?", "areolas?", "genitals?", "genitalia", "penis(?:es)?", "vagina(?:s)?", "vulva",
                    "pubic", "exposed (?:breasts?|buttocks|crotch|nipples?|genitals?)", "flashing (?:her|his) "
                    "(?:breasts?|body|chest)", "skinny[- ]dipping", "nudist", "nudists", "naturist",
                    "without (?:any )?clothes", "wearing nothing", "no clothes on", "taking off (?:her|his|their) "
                    "(?:clothes|bra|panties|underwear|top|shirt|dress|bikini)", "strip(?:s|ping|ped)? naked",
                    "strip(?:s|ping|ped)? off (?:her|his|their) clothes"]),
        ), unless=r"\b(?:naked mole|statue|sculpture|baby bath|newborn photo|classical painting)\b"),
        Concept("erotic framing", "sexual", (
            phrase(["erotic(?:a|ally|ism)?", "sensual(?:ly)?", "seductive(?:ly)?", "seducing",
                    "sexy (?:[\\w']+ )?(?:woman|women|girls?|lady|ladies|man|men|guy|model|nurse|teacher|maid|pose|"
                    "poses|posing|outfit|lingerie|dress|body|legs|babe|secretary|cop|cheerleader|schoolgirl|student)",
                    "sexualized", "provocative(?:ly)? (?:pose|poses|posing|dressed|outfit|dance|dancing)",
                    "boudoir", "pin-?up (?:girl|model|pose)", "lingerie", "panties", "thong", "g-string",
                    "see-through (?:dress|top|shirt|lingerie|blouse|nightgown|clothes|clothing|bra)",
                    "sheer (?:lingerie|nightgown|negligee|bra|panties)", "negligee", "wet t-?shirt", "cleavage",
                    "busty", "big (?:breasts|boobs|tits)", "huge (?:breasts|boobs|tits)", "large breasts",
                    "boobs", "tits", "buttocks", "butt cheeks", "crotch", "spread(?:ing)? (?:her|his) "
                    "legs", "bent over (?:a|the) (?:bed|table|desk|couch)", "twerk(?:ing|s)?", "lap ?dance",
                    "strip ?tease", "stripper", "strippers", "strip club", "pole dancer", "playboy bunny",
                    "onlyfans", "fetish", "bdsm", "bondage", "dominatrix", "latex (?:catsuit|outfit|bodysuit)",
                    "in (?:her|his) underwear", "bra and panties", "barely (?:dressed|clothed|covered)",
                    "scantily (?:clad|dressed)", "skimpy", "hot (?:girl|babe|chick|milf)", "milf", "bimbo",
                    "ahegao", "hentai", "ecchi", "nsfw", "xxx", "porn(?:o|ographic|star)?"]),
        )),
    )


@dataclass
class DepictionHit:
    concept: str
    category: str
    words: list[str]


@dataclass
class Depiction:
    hits: list[DepictionHit] = field(default_factory=list)

    @property
    def categories(self) -> dict[str, list[DepictionHit]]:
        out: dict[str, list[DepictionHit]] = {}
        for h in self.hits:
            out.setdefault(h.category, []).append(h)
        return out

    def why(self, category: str) -> str:
        return "; ".join(f"{h.concept} ({', '.join(repr(w) for w in h.words)})"
                         for h in self.categories.get(category, []))


_PUNCT = re.compile(r"[^\w'+]+")


def scene_text(text: str) -> str:
    """Lower case, curly apostrophes straightened, hyphens and punctuation as spaces, single-spaced."""
    low = text.lower().replace("’", "'").replace("‘", "'")
    return " ".join(_PUNCT.sub(" ", low).split())


# Speech about a topic rather than a scene to show: the speaker or the reader addressed, chat and social-media
# marks. Such text is read for a depiction only when it also asks for something visual.
_SPEECH = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|we|we're|you|you're|youre|your|ya|u|ur|lol|lmao|smh|omg|rt|"
                     r"user|url|http\w*|https?)\b|[@#?]")
_VISUAL = re.compile(r"\b(?:video|clip|footage|film|movie|scene|image|picture|photo|photograph|drawing|painting|"
                     r"illustration|render|animation|cartoon|poster|shot|frame|generate|create|make|show|draw|paint|"
                     r"depict|depicting|showing|portrait|gif|meme)\w*\b")


def reads_as_scene(text: str) -> bool:
    """Whether the text describes something to show: not speech (first/second person, chat marks) unless it
    also asks for a picture or video ("I want a video of ...")."""
    return not _SPEECH.search(text.lower()) or bool(_VISUAL.search(text.lower()))


def depiction(text: str) -> Depiction:
    """The concepts the prompt shows. Hyphens count as spaces ("blood-soaked" = "blood soaked"): the rules are
    written with spaces and hyphenated alternatives both, and match on the normalised text. Speech that asks for
    nothing visual (a comment about drugs, a tweet about a robbery) shows nothing: reads_as_scene."""
    out = Depiction()
    if not reads_as_scene(text):
        return out
    low = scene_text(text)
    for c in concepts():
        found = [m.group(0) for m in c.rx.finditer(low)]
        if not found:
            continue
        if c.guard is not None and c.guard.search(low):
            continue
        out.hits.append(DepictionHit(c.name, c.category, list(dict.fromkeys(found))[:5]))
    return out


def raise_scores(cats: dict[str, float], dep: Depiction, notes: list[str] | None = None) -> dict[str, float]:
    """Each matched category raised to DEPICTION_SCORE (never lowered); `notes` gets why, per category raised."""
    for cat in dep.categories:
        if cat in cats and cats[cat] < DEPICTION_SCORE:
            cats[cat] = DEPICTION_SCORE
            if notes is not None:
                notes.append(f"{cat}: shows {dep.why(cat)} (depiction rule {DEPICTION_SCORE:.2f})")
    return cats
