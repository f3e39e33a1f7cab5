"""Surface-noise augmentation: the typos, casing and colloquial shortcuts real users type.

Used to widen the training set (so the model does not lean on clean spelling) and by the CV harness to build
shifted validation folds. Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
import re
import string

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _row_index, _row in enumerate(_KEYBOARD_ROWS):
    for _i, _ch in enumerate(_row):
        near = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]
        for _other in (_row_index - 1, _row_index + 1):
            if 0 <= _other < len(_KEYBOARD_ROWS):
                near += _KEYBOARD_ROWS[_other][max(0, _i - 1) : _i + 1]
        _NEIGHBOURS[_ch] = near

_COLLOQUIAL: tuple[tuple[str, str], ...] = (
    (r"\bI would like to\b", "id like to"),
    (r"\bI want to\b", "i wanna"),
    (r"\bgoing to\b", "gonna"),
    (r"\bI am\b", "im"),
    (r"\bI'm\b", "im"),
    (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"),
    (r"\bdoesn't\b", "doesnt"),
    (r"\bhaven't\b", "havent"),
    (r"\bplease\b", "pls"),
    (r"\byou\b", "u"),
    (r"\byour\b", "ur"),
    (r"\bare\b", "r"),
    (r"\bthanks\b", "thx"),
    (r"\bbecause\b", "cuz"),
    (r"\bcould you\b", "could u"),
)
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation.replace(chr(39), ''))}]")


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip in ``word``: swap, drop, double or hit a neighbouring key."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word


def add_typos(text: str, rng: random.Random, rate: float = 0.15) -> str:
    words = text.split(" ")
    return " ".join(typo(w, rng) if rng.random() < rate else w for w in words)


def colloquial(text: str, rng: random.Random) -> str:
    for pattern, repl in _COLLOQUIAL:
        if rng.random() < 0.7:
            text = re.sub(pattern, repl, text, flags=re.IGNORECASE)
    return text


# Sentences customers and agents wrap a request in, which say nothing of its category. Two disjoint pools: the
# training copies use one, the CV harness's shifted test copies the other, so a model cannot score well on the
# shifted slice by memorising the filler.
_OPENERS = {
    "train": (
        "Hi there,",
        "Hello,",
        "Good morning team,",
        "Hey, hope you're doing well.",
        "Sorry to bother you again.",
        "I've been trying to sort this out all week.",
        "Quick question for you guys.",
        "This is getting really frustrating.",
    ),
    "eval": (
        "Hi all,",
        "Dear customer service,",
        "Hey there, hope all is good on your side.",
        "Apologies for the long message.",
        "I tried the chat earlier but nobody answered.",
        "Not sure who to ask about this, so here goes.",
        "Following up on my earlier note.",
        "Honestly I'm a bit annoyed at this point.",
    ),
}
_CLOSERS = {
    "train": (
        "Thanks in advance.",
        "Please get back to me as soon as you can.",
        "I really need this sorted today.",
        "Let me know if you need anything else from me.",
        "Cheers,",
        "Regards, Sam",
        "My account is under my usual email.",
        "I already tried the website twice.",
    ),
    "eval": (
        "Many thanks,",
        "Looking forward to hearing from you.",
        "Would appreciate a quick reply.",
        "Best, Alex",
        "You can reach me on this address any time.",
        "I have been a customer for years.",
        "Have a good day.",
        "Call me if that is easier.",
    ),
}


def lengthen(text: str, rng: random.Random, pool: str = "train") -> str:
    """``text`` wrapped as a longer message: an opener and one or two closing sentences from ``pool``."""
    opener = rng.choice(_OPENERS[pool])
    closers = rng.sample(_CLOSERS[pool], k=rng.randint(1, 2))
    body = text.strip()
    if body and body[-1] not in ".?!":
        body += "."
    return " ".join([opener, body, *closers])


def perturb(text: str, rng: random.Random) -> str:
    """A noisy rewrite of ``text``: each kind of noise is applied independently (retried if nothing changed)."""
    out = text
    for _ in range(4):
        if rng.random() < 0.5:
            out = colloquial(out, rng)
        if rng.random() < 0.5:
            out = out.lower()
        if rng.random() < 0.4:
            out = _PUNCTUATION.sub("", out).strip()
        if rng.random() < 0.7:
            out = add_typos(out, rng, rate=0.2)
        if out and out != text:
            return out
    return out or text
