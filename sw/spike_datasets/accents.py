"""Foreign-accented English for synthetic speakers: the digits' English phonemes rewritten by the
sound substitutions a speaker of another first language (L1) typically makes.

espeak-ng's English accents are all native ones (US, British, Scottish, Caribbean, ...), and the
speakers a device meets are often not: the held-out FSDD speaker whose words are confused most
says "three" so that it is heard as "two" or "eight". An accented speaker reads espeak-ng phoneme
input (`[[...]]`, espeak-ng's English mnemonics) built from the digit's US English phonemes by the
rules of one L1, each rule kept with the speaker's own probability ("accent strength") and, where
an L1 has several habits for one sound (French /θ/ as [s] or [t]), one of them drawn per speaker.

The rules are the textbook L1 transfer patterns (/θ/ -> [s], [t] or [f]; /w/ -> [v]; final
devoicing; /ɪ/ -> [i]; a vowel after a final consonant; full vowels for schwa; stress on the
last syllable), written on espeak-ng's mnemonics: `T` /θ/, `I` /ɪ/ (not the second half of `aI`,
`eI`), `@` schwa (not the second half of `i@`, `o@`), `V` /ʌ/, `oU`, `eI`, `i@r`.
"""

from __future__ import annotations

import re

import numpy as np

# The ten digits in espeak-ng's US English mnemonics (`espeak-ng -x -v en-us zero ... nine`).
ENGLISH = ("z'i@roU", "w'Vn", "t'u:", "Tr'i:", "f'o@", "f'aIv", "s'Iks", "s'Ev@n", "'eIt", "n'aIn")

_I = r"(?<![ae])I"               # /ɪ/, not the glide of aI, eI
_SCHWA = r"(?<![io])@"           # schwa, not the glide of i@, o@
FINAL_STRESS = "final-stress"    # a rule that moves the stress mark to the last vowel

# L1 -> rules in the order applied: (pattern, replacements). A kept rule replaces every match with
# one replacement drawn per speaker.
RULES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "french": (("T", ("s", "t")), ("i@r", ("Er",)), (_I, ("i:",)), ("V", ("0", "a")),
               ("oU", ("0",)), ("eI", ("E",)), (_SCHWA + "n", ("En",)), (FINAL_STRESS, ("",))),
    "german": (("T", ("s",)), ("w", ("v",)), ("v$", ("f",)), ("^z", ("ts", "s")),
               ("i@r", ("eIr",)), ("V", ("0", "a"))),
    "spanish": (("T", ("t", "s")), ("v", ("b",)), ("^z", ("s",)), ("i@r", ("Er",)), (_I, ("i:",)),
                (_SCHWA, ("E",)), ("V", ("0",))),
    "italian": (("T", ("t",)), (_I, ("i:",)), (_SCHWA, ("E",)), ("^z", ("dz",)), ("i@r", ("Er",)),
                ("V", ("0",)), ("([kstv])$", (r"\1@",))),
    "portuguese": (("T", ("f", "t", "s")), (_I, ("i:",)), ("([kstv])$", (r"\1i",)), ("V", ("0",)),
                   ("i@r", ("Er",)), (_SCHWA + "n", ("EN",))),
    "hindi": (("T", ("t", "t[")), ("w", ("v",)), ("^z", ("dZ",)), ("V", ("@",)), ("oU", ("O:",)),
              ("i@r", ("i:r",))),
    "mandarin": (("T", ("s", "f")), ("v", ("w",)), ("r", ("l",)), ("^z", ("dz",)),
                 ("([kstv])$", (r"\1@",)), ("n$", ("N",))),
    "russian": (("T", ("s", "f", "t")), ("w", ("v",)), (_I, ("i:",)), ("v$", ("f",)),
                (_SCHWA, ("a",)), ("i@r", ("Er",))),
    "japanese": (("T", ("s",)), ("v", ("b",)), ("r", ("l",)), (_I, ("i:",)), ("([kst])$", (r"\1U",)),
                 ("b$", ("bU",)), (_SCHWA + "n", ("Un",)), ("V", ("a",))),
}
L1S = tuple(RULES)


def final_stress(phonemes: str) -> str:
    """The stress mark moved before the last vowel group (French word stress)."""
    bare = phonemes.replace("'", "")
    vowels = list(re.finditer(r"[aeiouAEIOUV03@]+:?", bare))
    if not vowels:
        return phonemes
    at = vowels[-1].start()
    return bare[:at] + "'" + bare[at:]


def accented(digit: int, l1: str, strength: float, rng: np.random.Generator) -> str:
    """`digit`'s phonemes in the accent of `l1`: each rule kept with probability `strength`, its
    replacement drawn from `rng` (one draw per rule, kept or not, so the draws do not shift)."""
    phonemes = ENGLISH[digit]
    for pattern, options in RULES[l1]:
        keep = rng.random() < strength
        choice = options[rng.integers(len(options))]
        if not keep:
            continue
        phonemes = final_stress(phonemes) if pattern == FINAL_STRESS else re.sub(pattern, choice, phonemes)
    return phonemes


def accent_words(l1: str, strength: float, seed: list[int]) -> tuple[str, ...]:
    """The ten digits' phonemes for one speaker. The rules kept and the replacements are the
    speaker's habits, drawn once from `seed`, and the same for every digit."""
    out = []
    for digit in range(10):
        out.append(accented(digit, l1, strength, np.random.default_rng(seed)))
    return tuple(out)
