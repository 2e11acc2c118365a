"""Grounding: resolve noun phrases of an instruction against the world state.

Handles colours, synonyms (vocabulary from config/skills.yaml), relations ("the cube next to
the vial", "the one in the tray", "left of the blue cube", "closest to the tray"), quantifiers
and plurals ("all the cubes", "both", "every block", "the other cubes"), ordinals ("the
first cube", "the second from the right", "the last one", "leftmost"), coordination ("the red
and blue cubes") and anaphora ("it", "them", "the blue one"). Discourse context
(:class:`Context`) carries what earlier clauses mentioned: "both" / "these two" / "them both"
are the objects just mentioned (a run of coordinated clauses counts as one mention), "there"
and "the table there" are the place just mentioned, "put both on it" puts them on the place
just mentioned, a bare "the cube" after one cube was mentioned is that cube, "two of the
cubes" is any two (the note says which), and objects the operator said not to touch are left
out of quantifiers. Ambiguity and unknown objects raise :class:`PlanningError` with codes
AMBIGUOUS / UNKNOWN_OBJECT and a message naming the candidates; nothing is guessed silently.

Object labels come from the scene or from perception and are data: only short labels (up to
three words) contribute nouns for matching, and no label text ever reaches the parser of
instructions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import re
from typing import Any

from humanoid_core.planning.errors import ErrorCode, PlanningError
from humanoid_core.world.types import WorldSnapshot


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; ',' ';' '.' kept as separators; "that's" -> that s."""
    text = text.lower().replace('’', "'")
    text = re.sub(r'(\w)-(\w)', r'\1\2', text)  # left-most -> leftmost
    return re.findall(r'[a-z]+|\d+(?:\.\d+)?|[,;.!?&]', text.replace("'", ' '))


def phrases(text: str) -> list[tuple[str, ...]]:
    """'a b; c' -> [('a', 'b'), ('c',)] (tokenized like instructions)."""
    return [tuple(tokenize(p)) for p in text.split(';') if p.strip()]


def words(text: str) -> set[str]:
    return set(text.split())


def match_at(tokens: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(tokens[i : i + len(phrase)]) == phrase


NUMBERS = {'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6, 'seven': 7,
           'eight': 8, 'nine': 9, 'ten': 10, 'couple': 2, 'pair': 2}  # fmt: skip
ORDINALS = {'first': 1, '1st': 1, 'second': 2, '2nd': 2, 'third': 3, '3rd': 3, 'fourth': 4,
            '4th': 4, 'fifth': 5, '5th': 5}  # fmt: skip
FILLERS = words(
    'the a an my your our its of please little small big large tiny same plastic glass '
    'colored coloured'
)
ALL_WORDS = words(
    'all every each everything both any some other others rest remaining anything whole'
)
PRONOUNS = set(
    phrases(
        'it; that; this; that one; this one; the same one; same one; the same; them; those; '
        'these; both of them; all of them; them all; them both; all three; the two of them; '
        'those two; these two; all those; all these'
    )
)
"""Anaphora: the objects of the previous noun phrase ("it" after a group is the group)."""
PLURAL_PRONOUNS = {p for p in PRONOUNS if not {'it', 'that', 'this', 'same'} & set(p)}
BOTH = set(phrases('both; the two; both of these; both of those; the pair'))
"""'Both' with no noun: the two objects mentioned just before."""
DEST_PRONOUNS = set(phrases('it; that; this; that one; this one; there'))
"""A destination pronoun ("put both on it") is the place or container mentioned last when
the objects mentioned last are what is being moved."""
RELATIONS = [
    (phrase, kind)
    for kind, text in (
        ('left_of', 'to the left of; on the left of; left of'),
        ('right_of', 'to the right of; on the right of; right of'),
        ('next_to', 'next to; beside; adjacent to; alongside; by; close to; near'),
        ('closest_to', 'nearest to; nearest; closest to; closest'),
        ('farthest_from', 'farthest from; furthest from'),
        ('between', 'between'),
        ('in', 'inside of; inside; in; within; out of'),
        ('on', 'on top of; on; at; from; off'),
    )
    for phrase in phrases(text)
]
"""Relation markers after the head noun -> relation kind (first match wins)."""
RELATIVE_STARTS = phrases(
    "that is; which is; that's; that; which; sitting; lying; located; standing; placed; "
    'currently; right now; now; still'
)
DIRECTION_PHRASES = {
    phrase: kind
    for kind, text in (
        ('leftmost', 'on the far left; on the left; at the left; to the left'),
        ('rightmost', 'on the far right; on the right; at the right; to the right'),
        ('middle', 'in the middle; in the center; in the centre'),
        ('from_left', 'from the left; from left'),
        ('from_right', 'from the right; from right'),
        ('last', 'on the end; at the end'),
        ('closest', 'closest to you; nearest to you; closest to me; nearest to me'),
    )
    for phrase in phrases(text)
}
SUPERLATIVES = {'leftmost': 'leftmost', 'left': 'leftmost', 'rightmost': 'rightmost',
                'right': 'rightmost', 'middle': 'middle', 'center': 'middle',
                'centre': 'middle', 'last': 'last', 'closest': 'closest',
                'nearest': 'closest', 'farthest': 'farthest', 'furthest': 'farthest'}  # fmt: skip
EXCEPT = phrases(
    'except for; except; but not; but; other than; apart from; excluding; save for; not including'
)
NEGATIONS = words('not no non never without')
TRAILING_OK = words(
    'too also as well again for me us now here there please first then later afterwards instead'
)
"""Words allowed after the head noun ("the blue cube too", "the tray for me")."""
NEXT_TO_GAP = 0.12
"""Max gap (m) between footprints for 'next to' / 'near'."""
TIE = 0.01
"""Distances within this (m) count as equal for superlatives."""


@dataclass
class Vocabulary:
    colors: set[str]
    color_synonyms: dict[str, str]
    nouns: dict[tuple[str, ...], str]
    places: dict[tuple[str, ...], str]
    unsafe: list[tuple[str, ...]]
    people: set[str]
    injection: list[tuple[str, ...]]
    out_of_scope: list[tuple[str, ...]]
    dest_nouns: dict[tuple[str, ...], str] = field(default_factory=dict)
    verbs: dict[tuple[str, ...], str] = field(default_factory=dict)
    throw_like: set[str] = field(default_factory=set)
    injection_verbs: list[tuple[str, ...]] = field(default_factory=list)
    injection_targets: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Vocabulary:
        def phrases(items: Any) -> list[tuple[str, ...]]:
            return [tuple(tokenize(str(s))) for s in items or []]

        return cls(
            colors={str(c) for c in data.get('colors') or []},
            color_synonyms={str(k): str(v) for k, v in (data.get('color_synonyms') or {}).items()},
            nouns={tuple(tokenize(str(k))): str(v) for k, v in (data.get('nouns') or {}).items()},
            places={
                tuple(tokenize(str(k))): str(v) for k, v in (data.get('places') or {}).items()
            },
            unsafe=phrases(data.get('unsafe_words')),
            people={str(p) for p in data.get('people_words') or []},
            injection=phrases(data.get('injection_phrases')),
            out_of_scope=phrases(data.get('out_of_scope_verbs')),
            verbs={
                tuple(tokenize(str(w))): str(intent)
                for intent, words in (data.get('verbs') or {}).items()
                for w in words or []
            },
            dest_nouns={
                tuple(tokenize(str(k))): str(v) for k, v in (data.get('dest_nouns') or {}).items()
            },
            throw_like={str(w) for w in data.get('throw_like_verbs') or []},
            injection_verbs=phrases(data.get('injection_verbs')),
            injection_targets=phrases(data.get('injection_targets')),
        )

    def color(self, word: str) -> str | None:
        if word in self.colors:
            return self.color_synonyms.get(word, word)
        return None

    def longest(
        self, table: dict[tuple[str, ...], str], tokens: list[str], i: int
    ) -> tuple[str, int] | None:
        for n in (3, 2, 1):
            key = tuple(tokens[i : i + n])
            if len(key) == n and key in table:
                return table[key], n
        return None


@dataclass
class Ref:
    """A grounded reference: object ids or one place name."""

    ids: list[str]
    kind: str = 'object'  # 'object' | 'place' | 'person'
    text: str = ''
    cls: str | None = None
    note: str = ''


@dataclass
class Context:
    """Discourse state for anaphora ('it', 'them', 'the blue one', 'the others', 'both',
    'there', 'the table there', 'put both on it')."""

    last: list[str] = field(default_factory=list)
    last_cls: str | None = None
    mentioned: list[str] = field(default_factory=list)
    place: str | None = None
    """The place mentioned last (a destination or a walk target): 'there', 'on it'."""
    dest: Ref | None = None
    """The destination (place or container) mentioned last: 'put both in it'."""
    forbidden: dict[str, str] = field(default_factory=dict)
    """Objects the operator said not to touch ('don't touch the vial'), with the phrase."""

    group: list[str] = field(default_factory=list)
    """The objects of the last run of coordinated clauses ("pick up the red cube with the
    left hand and the blue cube with the right hand, then carry them both ...")."""

    def remember(self, ref: Ref, extend: bool = False) -> None:
        if ref.kind == 'object' and ref.ids:
            base = self.group if extend else []
            self.group = base + [i for i in ref.ids if i not in base]
            self.last = list(ref.ids)
            self.mentioned += [i for i in ref.ids if i not in self.mentioned]
            if ref.cls and ref.cls not in ('object', 'one'):
                self.last_cls = ref.cls

    def remember_dest(self, ref: Ref, world: WorldSnapshot) -> None:
        """Note a destination or walk target: later 'there' / 'it' (as a destination)."""
        if ref.kind == 'place' and ref.ids:
            self.place, self.dest = ref.ids[0], ref
        elif ref.kind == 'object' and len(ref.ids) == 1 and ref.ids[0] in world.objects:
            self.dest = ref
            self.place = world.object_place(ref.ids[0]) or self.place


@dataclass
class _Pre:
    """What precedes and includes the head noun of a noun phrase."""

    quant: str | None = None  # 'all' | 'rest' | 'any' | None (definite singular)
    count: int | None = None
    ordinal: tuple[int, str] | None = None  # (n, 'from_left' | 'from_right')
    superl: str | None = None  # leftmost, rightmost, middle, last, closest, farthest
    colors: set[str] = field(default_factory=set)
    cls: str | None = None
    exclude_mentioned: bool = False
    partitive: bool = False  # "two of the cubes": any two


def _fail(code: ErrorCode, msg: str) -> PlanningError:
    return PlanningError(code, msg)


class Grounder:
    """Resolves noun phrases (token lists) against one world snapshot."""

    def __init__(self, world: WorldSnapshot, vocab: Vocabulary, ctx: Context | None = None):
        self.world = world
        self.vocab = vocab
        self.ctx = ctx or Context()

    # -- object classes --------------------------------------------------------------------
    def classes_of(self, obj_id: str) -> set[str]:
        o = self.world.objects[obj_id]
        words = [obj_id.replace('_', ' '), o.shape]
        label_tokens = tokenize(o.label)
        if 0 < len(label_tokens) <= 3:  # long labels are free text: data, not vocabulary
            words.append(o.label)
        out = {'object'}
        for w in words:
            toks = tokenize(w)
            for i in range(len(toks)):
                hit = self.vocab.longest(self.vocab.nouns, toks, i)
                if hit:
                    out.add(hit[0])
        if o.is_container:
            out.add('container')
        return out

    def objects(self) -> list[str]:
        return [o for o in self.world.objects if o not in self.world.handed_over]

    def lateral(self, obj_id: str) -> float:
        """Lateral coordinate in the robot frame (+ = robot's left)."""
        x, y, yaw = self.world.robot_pose
        p = self.world.objects[obj_id].position
        return -math.sin(yaw) * (p[0] - x) + math.cos(yaw) * (p[1] - y)

    def gap(self, a: str, b: str) -> float:
        """Distance between two objects' xy footprints (axis-aligned approximation)."""
        oa, ob = self.world.objects[a], self.world.objects[b]
        dx = abs(oa.position[0] - ob.position[0]) - (oa.size[0] + ob.size[0]) / 2
        dy = abs(oa.position[1] - ob.position[1]) - (oa.size[1] + ob.size[1]) / 2
        return math.hypot(max(dx, 0.0), max(dy, 0.0))

    def describe(self, ids: list[str]) -> str:
        return ', '.join(ids) if ids else '(none)'

    def _dest_pronoun(self) -> Ref | None:
        last = [i for i in self.ctx.last if i in self.world.objects]
        if len(last) == 1 and self.world.objects[last[0]].is_container:
            return Ref(last, 'object', 'it')  # "look at the tray and put the cube in it"
        return self.ctx.dest

    # -- entry point -----------------------------------------------------------------------
    def resolve(self, tokens: list[str], role: str = 'object') -> Ref:
        """Resolve a noun phrase. role: 'object' (things to move), 'dest' (a container or
        place), 'target' (object or place), 'ref' (reference of a relation)."""
        toks = [t for t in tokens if t not in (',', '.', '!', '?')]
        text = ' '.join(toks)
        if not toks:
            raise _fail(ErrorCode.INVALID_INSTRUCTION, 'missing an object to act on')
        for marker in EXCEPT:
            k = next((i for i in range(1, len(toks)) if match_at(toks, i, marker)), None)
            if k is not None:
                return self._except(toks[:k], toks[k + len(marker) :], role, text)
        parts = self._split_coordination(toks)
        if len(parts) > 1 and parts[0][:1] == ['both']:
            parts[0] = parts[0][1:]  # "both the red and the green cube"
        if len(parts) > 1:
            ids: list[str] = []
            notes = []
            cls = None
            for p in parts:
                r = self.resolve(p, role)
                if r.kind != 'object':
                    raise _fail(
                        ErrorCode.INVALID_INSTRUCTION,
                        f'cannot combine {r.text!r} with objects in {text!r}',
                    )
                ids += [i for i in r.ids if i not in ids]
                cls = r.cls
                if r.note:
                    notes.append(r.note)
            return Ref(ids, 'object', text, cls, '; '.join(notes))
        return self._resolve_simple(toks, role, text)

    def _except(self, base: list[str], excluded: list[str], role: str, text: str) -> Ref:
        ref = self.resolve(base, role)
        if ref.kind != 'object':
            raise _fail(ErrorCode.INVALID_INSTRUCTION, f'cannot exclude objects from {text!r}')
        saved = self.ctx.last_cls
        self.ctx.last_cls = ref.cls if ref.cls not in (None, 'object', 'one') else saved
        try:
            minus = self.resolve(excluded, 'ref')
        finally:
            self.ctx.last_cls = saved
        ids = [i for i in ref.ids if i not in minus.ids]
        if not ids:
            raise _fail(ErrorCode.UNKNOWN_OBJECT, f'nothing is left in {text!r}')
        return Ref(ids, 'object', text, ref.cls, ref.note)

    def _split_coordination(self, toks: list[str]) -> list[list[str]]:
        parts: list[list[str]] = [[]]
        i = 0
        while i < len(toks):
            t = toks[i]
            if t == 'between' or (t == 'and' and 'between' in parts[-1]):
                parts[-1].append(t)
            elif t in ('and', '&', 'plus') or t == ',':
                parts.append([])
            elif match_at(toks, i, ('as', 'well', 'as')):
                parts.append([])
                i += 2
            else:
                parts[-1].append(t)
            i += 1
        parts = [p for p in parts if p]
        if len(parts) <= 1:
            return parts
        # "the red and blue cubes": adjective-only parts share the last part's noun.
        last = parts[-1]
        noun_at = next(
            (j for j in range(len(last)) if self.vocab.longest(self.vocab.nouns, last, j)), None
        )
        if noun_at is not None:
            tail = last[noun_at:]
            fixed = []
            for p in parts[:-1]:
                has_noun = any(self.vocab.longest(self.vocab.nouns, p, j) for j in range(len(p)))
                pronoun = tuple(p) in PRONOUNS
                has_place = any(self.vocab.longest(self.vocab.places, p, j) for j in range(len(p)))
                fixed.append(p if (has_noun or pronoun or has_place) else p + tail)
            parts = [*fixed, last]
        return parts

    # -- a single noun phrase --------------------------------------------------------------
    def _resolve_simple(self, toks: list[str], role: str, text: str) -> Ref:
        while len(toks) > 1 and toks[-1] in ('too', 'also', 'again', 'instead'):
            toks = toks[:-1]  # "in there too"
        there = toks[-1:] == ['there'] and len(toks) > 1  # "the table there"
        if there:
            toks = toks[:-1]
        key = tuple(toks)
        if role == 'dest' and key in DEST_PRONOUNS:
            dest = self._dest_pronoun()
            if dest is not None:
                return dest
        last = self.ctx.last
        if (key in BOTH or key in PLURAL_PRONOUNS) and len(self.ctx.group) > len(last):
            last = self.ctx.group
        if key in BOTH and last and len(last) != 2:
            raise _fail(
                ErrorCode.AMBIGUOUS,
                f'{text!r} needs two objects mentioned just before; the last mention was '
                f'{self.describe(last)}',
            )
        if key in PRONOUNS or (key in BOTH and last):
            if not last:
                raise _fail(
                    ErrorCode.INVALID_INSTRUCTION, f'{text!r} does not refer to anything yet'
                )
            # "it" after a group ("take everything ... and put it in the bin") is the group.
            ids = [i for i in last if i in self.world.objects]
            return Ref(ids, 'object', text, self.ctx.last_cls)
        while toks[-2:] in (['for', 'me'], ['for', 'us']) and len(toks) > 2:
            toks = toks[:-2]  # "the tray for me"
            key = tuple(toks)
        if any(t in self.vocab.people for t in toks):  # "me", "Bob", "the operator's face"
            return Ref([], 'person', text)
        negated = [t for t in toks if t in NEGATIONS]
        if negated:
            raise _fail(
                ErrorCode.INVALID_INSTRUCTION,
                f'cannot use {negated[0]!r} in {text!r}: name the objects to act on',
            )
        if key == ('there',) and role == 'dest' and self.ctx.dest is not None:
            return self.ctx.dest  # the destination mentioned last ("put it in there too")
        if key in {('here',), ('there',)} and role == 'dest' and self.world.robot_place:
            return Ref([self.world.robot_place], 'place', text)

        # Split pre-modifiers+head from post-modifiers (relations, direction phrases).
        head_end = self._head_end(toks)
        pre, post = toks[:head_end], toks[head_end:]

        # Place reference?
        place = self._place_in(pre)
        noun = self._noun_in(pre)
        if place is not None and noun is None:
            return self._resolve_place(place[0], text, pre, there)
        at_place: str | None = None
        if place is not None and noun is not None and place[2] < noun[2]:
            # "the station bin": a place word before the noun restricts where the object is
            at_place = self._resolve_place(place[0], text, pre).ids[0]
            pre = pre[: place[2]] + pre[place[2] + place[1] :]

        np = self._parse_pre(pre, text)
        quant, count, ordinal, superl = np.quant, np.count, np.ordinal, np.superl
        colors, cls = np.colors, np.cls
        if role == 'dest':  # "put it in the box": 'box' names a container here
            for j in range(len(pre)):
                hit = self.vocab.longest(self.vocab.dest_nouns, pre, j)
                if hit:
                    cls = hit[0]
        if cls is None:
            unknown = [t for t in pre if t not in FILLERS and t not in ALL_WORDS]
            if role in ('dest',) and not unknown:
                raise _fail(ErrorCode.INVALID_INSTRUCTION, f'no destination in {text!r}')
            if quant is None and not colors and ordinal is None and superl is None:
                what = ' '.join(unknown) or text
                raise _fail(
                    ErrorCode.UNKNOWN_OBJECT,
                    f'I do not know what {what!r} is; objects here: '
                    f'{self.describe(self.objects())}',
                )
            cls = 'object'
        if cls == 'one':
            cls = self.ctx.last_cls or 'object'

        cands = [o for o in self.objects() if cls in self.classes_of(o)]
        if colors:
            cands = [o for o in cands if self.world.objects[o].color in colors]
        if np.exclude_mentioned:
            cands = [o for o in cands if o not in self.ctx.mentioned]
        if at_place is not None:
            cands = [o for o in cands if self.world.object_place(o) == at_place]
        # Post-modifiers: relations and direction phrases, left to right.
        cands, post_superl, post_ordinal = self._apply_post(post, cands, text)
        superl = superl or post_superl
        if post_ordinal is not None:
            ordinal = (ordinal or (1, 'from_left'))[0], post_ordinal
        desc = ' '.join([*(sorted(colors)), cls if cls != 'object' else 'object'])
        if not cands:
            known = self.describe(self.objects())
            raise _fail(
                ErrorCode.UNKNOWN_OBJECT, f'there is no {desc} matching {text!r}; objects: {known}'
            )
        if ordinal is not None or superl is not None:
            cands = self._select(cands, ordinal, superl, text, count)
        if quant is not None and role == 'object':
            # "don't touch the vial, put everything in the bin": quantifiers skip it
            kept = [o for o in cands if o not in self.ctx.forbidden]
            if not kept:
                raise _fail(
                    ErrorCode.INVALID_INSTRUCTION,
                    f'everything {text!r} matches ({self.describe(cands)}) is something you '
                    'said not to touch',
                )
            cands = kept
        if quant in ('all', 'rest') and count is not None and len(cands) > count:
            recent = [o for o in self.ctx.last if o in cands]
            if len(recent) == count:  # "carry the red and blue cubes ... put both cubes in"
                cands = recent
            elif np.partitive and role == 'object':  # "two of the cubes": any two
                chosen = sorted(cands, key=lambda c: -self.lateral(c))[:count]
                note = f'chose {self.describe(chosen)} for {text!r} (of {self.describe(cands)})'
                return Ref(chosen, 'object', text, cls, note)
        if quant in ('all', 'rest'):
            if role == 'object' and cls in ('object', 'container') and quant == 'all':
                cands = [o for o in cands if not self.world.objects[o].is_container]
            if count is not None and len(cands) != count:
                code = ErrorCode.AMBIGUOUS if len(cands) > count else ErrorCode.UNKNOWN_OBJECT
                raise _fail(
                    code,
                    f'{text!r} asks for {count} but {len(cands)} match: {self.describe(cands)}',
                )
            return Ref(cands, 'object', text, cls)
        if quant == 'any':  # "a cube", "any block": every candidate fits; say which was taken
            note = f'chose {cands[0]} for {text!r} (any of {self.describe(cands)})'
            return Ref(cands[:1], 'object', text, cls, note)
        if len(cands) > 1:
            recent = [o for o in self.ctx.last if o in cands]
            if len(recent) == 1 and not post and not colors and ordinal is None and not superl:
                # "take the green cube and the vial ...; put the cube in the bin": the definite
                # noun phrase names the one just mentioned
                return Ref(recent, 'object', text, cls)
            raise _fail(
                ErrorCode.AMBIGUOUS,
                f'{text!r} could mean any of: {self.describe(cands)}; say which one '
                '(e.g. by colour or position)',
            )
        if role == 'object' and cands[0] in self.ctx.forbidden:
            raise _fail(
                ErrorCode.INVALID_INSTRUCTION,
                f'{text!r} is {cands[0]}, which you said not to touch '
                f'({self.ctx.forbidden[cands[0]]!r})',
            )
        return Ref(cands, 'object', text, cls)

    def _head_end(self, toks: list[str]) -> int:
        """Index where post-modifiers start (first relation/direction marker after a word)."""
        for i in range(1, len(toks)):
            if any(match_at(toks, i, p) for p in DIRECTION_PHRASES):
                return i
            if any(match_at(toks, i, p) for p, _ in RELATIONS):
                nxt = toks[i + 1] if i + 1 < len(toks) else ''
                if toks[i] in ('closest', 'nearest') and nxt not in ('to', 'the'):
                    continue  # "the closest cube": a superlative before the noun
                return i
            if any(match_at(toks, i, p) for p in RELATIVE_STARTS) and i > 0:
                return i
        return len(toks)

    def _place_in(self, toks: list[str]) -> tuple[str, int, int] | None:
        for i in range(len(toks)):
            hit = self.vocab.longest(self.vocab.places, toks, i)
            if hit:
                return hit[0], hit[1], i
        return None

    def _noun_in(self, toks: list[str]) -> tuple[str, int, int] | None:
        found = None
        for i in range(len(toks)):
            hit = self.vocab.longest(self.vocab.nouns, toks, i)
            if hit:
                found = (hit[0], hit[1], i)
        return found

    def _resolve_place(self, name: str, text: str, pre: list[str], there: bool = False) -> Ref:
        if name.startswith('*'):
            kind = name[1:]
            cands = [p.name for p in self.world.places.values() if p.kind == kind]
            if 'other' in pre and self.world.robot_place:
                cands = [c for c in cands if c != self.world.robot_place]
            if 'this' in pre and self.world.robot_place in cands:
                cands = [self.world.robot_place]
            if len(cands) > 1 and self.ctx.place in cands and 'other' not in pre:
                # "take the vial to the station and leave it on the table (there)": the table
                # mentioned last
                cands = [self.ctx.place]
            if not cands:
                raise _fail(ErrorCode.UNKNOWN_OBJECT, f'there is no {kind} here ({text!r})')
            if len(cands) > 1:
                raise _fail(
                    ErrorCode.AMBIGUOUS,
                    f'{text!r} could mean any of: {", ".join(cands)}; say which one',
                )
            return Ref([cands[0]], 'place', text)
        if name not in self.world.places:
            raise _fail(
                ErrorCode.UNKNOWN_OBJECT,
                f'there is no place called {name!r}; places: {", ".join(self.world.places)}',
            )
        return Ref([name], 'place', text)

    def _parse_pre(self, pre: list[str], text: str) -> _Pre:
        """Determiners, quantifiers, ordinals, superlatives, colours and the head noun."""
        np = _Pre()
        noun_end = -1
        i = 0
        while i < len(pre):
            t = pre[i]
            if t == 'one' and pre[i + 1 : i + 2] == ['of'] and np.cls is None:
                np.count, np.quant = 1, np.quant or 'any'  # "one of the cubes": any one
                i += 2
                continue
            hit = self.vocab.longest(self.vocab.nouns, pre, i)
            if hit:
                noun_end = i + hit[1]
                np.cls = hit[0]
                if pre[noun_end - 1].endswith('s') and np.quant is None:
                    np.quant = 'all'  # plural: "the cubes", "the red ones"
                i = noun_end
                continue
            color = self.vocab.color(t)
            if color:
                np.colors.add(color)
            elif t in ('all', 'every', 'each', 'everything', 'anything', 'whole'):
                np.quant = 'all'
                if t in ('everything', 'anything') and np.cls is None:
                    np.cls = 'object'
            elif t == 'both':
                np.quant, np.count = 'all', 2
            elif t in ('other', 'others', 'rest', 'remaining'):
                np.quant, np.exclude_mentioned = 'rest', True
                if t in ('others', 'rest') and np.cls is None:
                    np.cls = self.ctx.last_cls or 'object'
            elif (t in ('any', 'some') or (t in ('a', 'an') and i == 0)) and np.quant is None:
                np.quant = 'any'
            elif t in NUMBERS or t.isdigit():
                np.count = NUMBERS[t] if t in NUMBERS else int(t)
                np.partitive = pre[i + 1 : i + 2] == ['of'] and np.cls is None
                if np.count > 1 and np.quant in (None, 'any'):
                    np.quant = 'all'  # "two cubes", "a couple of cubes": exactly that many
                else:
                    np.quant = np.quant or 'any'
            elif t in ORDINALS:
                np.ordinal = (ORDINALS[t], 'from_left')
            elif t in SUPERLATIVES:
                np.superl = SUPERLATIVES[t]
            elif t in FILLERS or t in ('of', 'these', 'those', 'this', 'that', 'one'):
                pass
            elif noun_end >= 0 and i >= noun_end:
                if t not in TRAILING_OK:
                    raise _fail(
                        ErrorCode.INVALID_INSTRUCTION,
                        f'cannot understand {" ".join(pre[i:])!r} in {text!r}',
                    )
            else:  # an unknown word describing the object: no object is known to match it
                raise _fail(
                    ErrorCode.UNKNOWN_OBJECT,
                    f'I do not know what {" ".join(pre[i:])!r} is; objects here: '
                    f'{self.describe(self.objects())}',
                )
            i += 1
        return np

    def _apply_post(
        self, post: list[str], cands: list[str], text: str
    ) -> tuple[list[str], str | None, str | None]:
        superl: str | None = None
        ordinal_dir: str | None = None
        i = 0
        while i < len(post):
            for p in RELATIVE_STARTS:
                if match_at(post, i, p):
                    i += len(p)
                    break
            if i >= len(post):
                break
            direction = next(
                (
                    p
                    for p in sorted(DIRECTION_PHRASES, key=len, reverse=True)
                    if match_at(post, i, p)
                ),
                None,
            )
            if direction is not None and not (
                i + len(direction) < len(post) and post[i + len(direction)] == 'of'
            ):
                kind = DIRECTION_PHRASES[direction]
                if kind in ('from_left', 'from_right'):
                    ordinal_dir = kind
                else:
                    superl = kind
                i += len(direction)
                continue
            rel = next(((p, k) for p, k in RELATIONS if match_at(post, i, p)), None)
            if rel is None:
                raise _fail(
                    ErrorCode.INVALID_INSTRUCTION,
                    f'cannot understand {" ".join(post[i:])!r} in {text!r}',
                )
            phrase, kind = rel
            j = i + len(phrase)
            # The reference runs to the next relation marker (relations chain left to right).
            k = j + 1
            while k < len(post):
                if kind == 'between' and post[k] == 'and':
                    k += 1
                    continue
                if any(match_at(post, k, p) for p, _ in RELATIONS) or any(
                    match_at(post, k, p) for p in RELATIVE_STARTS[:3]
                ):
                    break
                k += 1
            ref_toks = post[j:k]
            cands = self._relate(kind, cands, ref_toks, text)
            i = k
        return cands, superl, ordinal_dir

    def _relate(self, kind: str, cands: list[str], ref_toks: list[str], text: str) -> list[str]:
        sub = Grounder(self.world, self.vocab, Context(list(self.ctx.last), self.ctx.last_cls))
        if kind == 'between':
            ref = sub.resolve(ref_toks, 'ref')
            if len(ref.ids) != 2 or ref.kind != 'object':
                raise _fail(
                    ErrorCode.INVALID_INSTRUCTION, f'"between" needs two objects in {text!r}'
                )
            lo, hi = sorted(self.lateral(r) for r in ref.ids)
            return [c for c in cands if c not in ref.ids and lo < self.lateral(c) < hi]
        ref = sub.resolve(ref_toks, 'ref')
        if ref.kind == 'place':
            place = ref.ids[0]
            if kind in ('on', 'in'):
                return [c for c in cands if self.world.object_place(c) == place]
            raise _fail(
                ErrorCode.INVALID_INSTRUCTION, f'cannot use {kind.replace("_", " ")} a place'
            )
        if ref.kind != 'object' or len(ref.ids) != 1:
            if ref.kind == 'object' and kind in ('in', 'on', 'next_to'):
                return [c for c in cands if any(self._related(kind, c, r) for r in ref.ids)]
            raise _fail(ErrorCode.AMBIGUOUS, f'{ref.text!r} must name one thing in {text!r}')
        r = ref.ids[0]
        cands = [c for c in cands if c != r]
        if kind in ('in', 'on', 'next_to'):
            return [c for c in cands if self._related(kind, c, r)]
        if kind in ('left_of', 'right_of'):
            sign = 1.0 if kind == 'left_of' else -1.0
            side = [c for c in cands if sign * (self.lateral(c) - self.lateral(r)) > 0.01]
            if len(side) <= 1:
                return side
            # "the cube left of X" = the adjacent one on that side
            d = sorted(side, key=lambda c: abs(self.lateral(c) - self.lateral(r)))
            return d[:1]
        if kind in ('closest_to', 'farthest_from'):
            if not cands:
                return cands
            dist = {c: self.world.distance_xy(c, r) for c in cands}
            best = min(dist.values()) if kind == 'closest_to' else max(dist.values())
            return [c for c in cands if abs(dist[c] - best) <= TIE]
        raise _fail(ErrorCode.INVALID_INSTRUCTION, f'unsupported relation {kind!r}')

    def _related(self, kind: str, c: str, r: str) -> bool:
        if kind == 'in':
            return self.world.has(c, 'in', r)
        if kind == 'on':
            return self.world.has(c, 'on', r) or self.world.has(c, 'in', r)
        return self.gap(c, r) <= NEXT_TO_GAP

    def _select(
        self,
        cands: list[str],
        ordinal: tuple[int, str] | None,
        superl: str | None,
        text: str,
        count: int | None = None,
    ) -> list[str]:
        left_to_right = sorted(cands, key=lambda c: -self.lateral(c))
        if ordinal is not None:
            n, direction = ordinal
            order = left_to_right if direction == 'from_left' else left_to_right[::-1]
            if superl == 'rightmost':
                order = left_to_right[::-1]
            if n > len(order):
                raise _fail(
                    ErrorCode.UNKNOWN_OBJECT,
                    f'{text!r}: there are only {len(order)}: {self.describe(order)}',
                )
            return [order[n - 1]]
        if superl in ('leftmost', 'rightmost', 'last'):
            order = left_to_right if superl == 'leftmost' else left_to_right[::-1]
            if count is not None and count > 1:  # "the two cubes on the left"
                if count > len(order):
                    raise _fail(ErrorCode.UNKNOWN_OBJECT, f'{text!r}: only {len(order)} match')
                return order[:count]
            if len(order) > 1 and abs(self.lateral(order[0]) - self.lateral(order[1])) < TIE:
                raise _fail(ErrorCode.AMBIGUOUS, f'{text!r}: {order[0]} and {order[1]} tie')
            return order[:1]
        if superl == 'middle':
            if len(left_to_right) % 2 == 0:
                raise _fail(
                    ErrorCode.AMBIGUOUS,
                    f'{text!r}: no single middle one among {self.describe(left_to_right)}',
                )
            return [left_to_right[len(left_to_right) // 2]]
        if superl in ('closest', 'farthest'):
            x, y, _ = self.world.robot_pose
            dist = {
                c: math.hypot(
                    self.world.objects[c].position[0] - x, self.world.objects[c].position[1] - y
                )
                for c in cands
            }
            best = min(dist.values()) if superl == 'closest' else max(dist.values())
            picked = [c for c in cands if abs(dist[c] - best) <= TIE]
            if len(picked) > 1:
                raise _fail(
                    ErrorCode.AMBIGUOUS, f'{text!r}: {self.describe(picked)} are equally far'
                )
            return picked
        return cands
