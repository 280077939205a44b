"""Docker-style random container names: "<adjective>_<scientist>" (moby pkg/namesgenerator).

A shortened copy of docker's two lists; like docker, "boring_wozniak" is never produced, and a
retry appends a digit ("_3") when the plain names keep colliding.
"""

from __future__ import annotations

ADJECTIVES = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
    "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate",
    "competent", "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined",
    "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic",
    "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny",
    "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful",
    "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen",
    "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
    "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic",
    "pensive", "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent",
    "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied",
    "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
)

SURNAMES = (
    "agnesi", "albattani", "allen", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
    "banach", "bardeen", "bartik", "bassi", "beaver", "bell", "bhabha", "bhaskara", "black",
    "blackburn", "blackwell", "bohr", "booth", "borg", "bose", "bouman", "boyd", "brahmagupta",
    "brattain", "brown", "buck", "burnell", "cannon", "carson", "cartwright", "cerf", "chandrasekhar",
    "chaplygin", "chatelet", "chatterjee", "chaum", "clarke", "cohen", "colden", "cori", "cray",
    "curie", "darwin", "davinci", "diffie", "dijkstra", "dirac", "driscoll", "dubinsky", "easley",
    "edison", "einstein", "elbakyan", "elgamal", "elion", "ellis", "engelbart", "euclid", "euler",
    "faraday", "feistel", "fermat", "fermi", "feynman", "franklin", "gagarin", "galileo", "gates",
    "gauss", "germain", "goldberg", "goldstine", "goldwasser", "goodall", "hamilton", "haslett",
    "hawking", "heisenberg", "hermann", "herschel", "hertz", "hodgkin", "hofstadter", "hoover",
    "hopper", "hugle", "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson", "joliot",
    "jones", "kalam", "kapitsa", "kare", "keldysh", "keller", "kepler", "khayyam", "khorana",
    "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt",
    "lederberg", "lehmann", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira",
    "margulis", "matsumoto", "maxwell", "mayer", "mccarthy", "mcclintock", "mclaren", "mclean",
    "mcnulty", "meitner", "mendel", "mendeleev", "merkle", "mestorf", "mirzakhani", "montalcini",
    "moore", "morse", "moser", "murdock", "napier", "nash", "neumann", "newton", "nightingale",
    "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur", "payne",
    "perlman", "pike", "poincare", "poitras", "proskuriakova", "ptolemy", "raman", "ramanujan",
    "rhodes", "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin", "saha", "sammet",
    "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley", "shockley", "shtern", "sinoussi",
    "snyder", "solomon", "spence", "stonebraker", "sutherland", "swanson", "swartz", "swirles",
    "taussig", "tesla", "tharp", "thompson", "torvalds", "tu", "turing", "varahamihira", "vaughan",
    "villani", "visvesvaraya", "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson",
    "wilson", "wing", "wozniak", "wright", "wu", "yalow", "yonath", "zhukovsky",
)


class _UrandomChoice:
    """choice/randint from os.urandom: `random` costs ~2 ms of `rl run`'s start-up."""

    @staticmethod
    def choice(seq):
        import os

        return seq[int.from_bytes(os.urandom(4), "little") % len(seq)]

    def randint(self, a: int, b: int) -> int:
        return a + self.choice(range(b - a + 1))


def random_name(retry: int = 0, rng=None) -> str:
    """rng: anything with choice() and randint() (a random.Random in tests); os.urandom by default."""
    rng = rng or _UrandomChoice()
    while True:
        name = f"{rng.choice(ADJECTIVES)}_{rng.choice(SURNAMES)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring (docker's own rule)
            break
    return f"{name}{rng.randint(0, 9)}" if retry else name
