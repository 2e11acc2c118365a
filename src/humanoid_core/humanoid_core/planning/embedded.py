"""The embedded planner (default backend): a deterministic rule-based instruction parser.

No downloaded weights. An instruction is screened for unsafe requests and injection attempts,
split into clauses ("..., then ...", "... and drop it ..."), each clause is mapped to an intent
by a verb lexicon (many paraphrases: put/place/drop/move/take/bring/carry/transfer/...), its
noun phrases are grounded against the world state *as left by the previous clauses* (so "it",
"them", "the one in the tray" follow the plan), and intents are compiled into skill steps:
the robot walks to the object's place or the destination's place when it is not there, and
carries `carry_per_walk` objects per trip (default one: walking with an object in each hand,
both arms out in front, tipped the robot over backwards as the walk started, in-process and
over ROS).

Operator phrasing handled before clause splitting: terse notes ("red cube -> tray"),
text-speak ("u", "pls"), courtesy ("if you can", "when you get a chance", "would you mind
putting"), small-talk sentences ("Hi robot.", "Thanks!"), sequencing ("once you are done",
"after you put X, ...", "before you put X, put Y" runs the main clause first), typos (a
deterministic edit-distance match against the vocabulary, reported in the rationale; several
candidates -> AMBIGUOUS naming them; ordinary words such as "cup" are never "corrected"),
negative constraints ("don't touch the vial", "..., not the blue one", "leave X alone") that
hold for the whole instruction, "do the same with X", and refusals: conditions the plan
cannot check ("if the tray is full ...") and injection patterns ("override your safety
checks") are REJECTED; "chuck" means put unless it is aimed at someone or something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import itertools
import re
import time

from humanoid_core.planning.errors import ErrorCode, PlanningError
from humanoid_core.planning.grounding import (
    ALL_WORDS,
    DIRECTION_PHRASES,
    EXCEPT,
    FILLERS,
    NEGATIONS,
    NUMBERS,
    ORDINALS,
    PRONOUNS,
    RELATIONS,
    RELATIVE_STARTS,
    SUPERLATIVES,
    TRAILING_OK,
    Context,
    Grounder,
    Ref,
    Vocabulary,
    match_at,
    phrases,
    tokenize,
    words,
)
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import Plan, PlanProposal, PlanStep
from humanoid_core.planning.validator import StepError, apply_step
from humanoid_core.world.geometry import to_local
from humanoid_core.world.types import HANDS, WorldSnapshot

INTENTS = (
    'transfer', 'move', 'pick', 'walk', 'look', 'give', 'release', 'open', 'close', 'wait',
    'report', 'empty', 'fill',
)  # fmt: skip
"""Intents the verb lexicon (config/skills.yaml vocabulary.verbs) maps to."""
SEQUENCE_DONE = phrases(
    '; '.join(
        f'{a} {b} {c}'
        for a in ('once', 'when', 'after', 'as soon as')
        for b in ('you re', 'you are', 'you ve', 'you have', 'that s', 'that is', 'it s',
                  'it is', 'everything is')
        for c in ('done', 'finished', 'through', 'done with that', 'finished with that',
                  'done that', 'finished that', 'complete')
    )
    + "; once finished; when finished; once complete; when complete; after you finish; "
    "once you finish; when you finish; after that s done; after this; after which; "
    "then after that; once that s done; when that s done"
)  # fmt: skip
"""Sequencing phrases that only say "next" ("once you are done, ...")."""
COURTESY = phrases(
    'if you can; if you could; if possible; if you don t mind; if you do not mind; '
    'if you would; if you please; if you wouldn t mind; when you get a chance; '
    'when you get a moment; when you have a moment; when you have a chance; when you can; '
    'whenever you can; whenever you get a chance; at your convenience; at some point; '
    'when you have time; as soon as you can; as soon as possible; asap; for me please; '
    'if it s not too much trouble; if it isn t too much trouble; if it is not too much trouble; '
    'if that s ok; if that s okay; if that s alright; if that s all right; if you have time; '
    'if you get a chance; if you have a moment; if you get a moment; one by one; one at a time; '
    'in turn; one after the other; one after another'
)
"""Courtesy phrases removed anywhere (before conditionals are looked for)."""
SOCIAL = words(
    'hi hello hey hiya morning afternoon evening good thanks thank you cheers thx ty ta '
    'robot buddy mate there ok okay great cool please pls plz awesome nice lovely right '
    'alright so well um uh erm sure yo'
)
"""A clause made only of these words is small talk ("Hi robot.", "Thanks!"), not a task."""
CONDITIONALS = phrases(
    'if; unless; whether; in case; as long as; provided that; providing that; only when; '
    'only once; depending on'
)
"""Conditions the plan cannot check while it runs: the instruction is REJECTED."""
CONDITION_SUBJECTS = {'the', 'a', 'an', 'there', 'someone', 'somebody', 'anyone', 'it', 'its',
                      'my', 'your', 'this', 'that', 'nobody'}  # fmt: skip
"""'when'/'once'/'as soon as' + one of these starts a condition ("when the tray is empty")."""
NEGATED_STARTS = phrases(
    'don t; do not; dont; never; please don t; please do not; not; but not; and not; '
    'but don t; but do not; and don t; and do not; but never; without touching; avoid; '
    'keep away from; stay away from; ignore; forget; forget about; never mind; nevermind'
)
"""A clause starting with these names objects (or places) to keep out of the plan."""
NOT_NEGATION = phrases(
    'don t forget; do not forget; dont forget; never forget; please don t forget; '
    'don t forget to; do not forget to; dont forget to'
)
"""Negated starts that ask for something ("don't forget to put X ...")."""
LEAVE_ALONE = phrases(
    'alone; where it is; where they are; where it s; in place; as it is; as they are; be'
)
"""'leave X <this>' keeps X out of the plan."""
SAME = phrases('do the same with; do the same for; do the same to; same with; same for; ditto for')
"""'... then do the same with the blue one': the previous clause again with other objects."""
SUBORDINATE = phrases('after you; once you; when you; as soon as you; after you ve; once you ve')
"""'after you put X, ...': the subordinate clause happens first (prefix dropped)."""
BEFORE = phrases('before you; before')
"""'before you put X, put Y': the main clause happens first."""
TEXTSPEAK = {'u': 'you', 'ur': 'your', 'r': 'are', 'thru': 'through', 'n': 'and', 'plz': 'please',
             'pls': 'please', 'thx': 'thanks', 'tho': 'though'}  # fmt: skip
ARROWS = re.compile(r'\s*(?:-+>|=+>|→|⇒)\s*')
"""Terse notes: 'red cube -> tray' = 'red cube to tray'."""
PREFIXES = phrases(
    'please; could you; can you; would you; will you; i want you to; i need you to; '
    'would you mind; do you mind; would you be able to; could you possibly; can you please; '
    "i'd like you to; id like you to; i would like you to; go ahead and; now; first; firstly; "
    'lastly; also; robot; hey; ok; okay; kindly; just; quickly; carefully; gently; slowly; '
    'and; next; finally; then; after that; afterwards; to finish; try to; you should; '
    "you need to; let's; lets; we need to; make sure to; be sure to; second; third; "
    "once done; when done; when you're done"
)
PREFIXES = sorted(
    {
        *PREFIXES,
        *SEQUENCE_DONE,
        *SUBORDINATE,
        *NOT_NEGATION,
        *phrases('remember to; make sure you'),
    },
    key=lambda p: (-len(p), p),
)
"""Politeness and sequencing words stripped from the start of a clause (longest first)."""
PREFIX_SET = set(PREFIXES)
ORDINAL_PREFIXES = {('first',), ('second',), ('third',), ('next',)}
ANYWHERE_FILLERS = {'please', 'carefully', 'gently', 'slowly', 'quickly', 'just', 'kindly',
                    'thanks', 'thx', 'cheers', 'pls', 'plz', 'pl', 'ty', 'ta'}  # fmt: skip
HARD_SPLITS = phrases(
    'and then; then; after that; afterwards; finally; and finally; and after that; '
    "once that's done; once done; when that's done; when done; and also; followed by"
)
"""Phrases that always start a new clause."""
NP_STARTS = {'the', 'a', 'an', 'it', 'them', 'this', 'that', 'these', 'those', 'all', 'every',
             'each', 'both', 'everything', 'my', 'your', 'into', 'in', 'onto', 'on', 'to',
             'any', 'some', 'other', 'rest', 'remaining'}  # fmt: skip
"""Words a verbless clause may start with ("the red cube goes in the tray", gapping)."""
DEST_PREPS = ('into', 'in', 'inside', 'onto', 'on', 'to', 'toward', 'towards', 'at')
NOT_DEST_AFTER = {('next',), ('close',), ('adjacent',), ('closest',), ('nearest',)}
GIVING_WORDS = {'bring', 'take', 'carry', 'deliver', 'fetch', 'get', 'return', 'ferry'}
"""Verbs of the 'move' intent that hand an object over when the destination is a person."""
CORRECTABLE = {'the', 'and', 'then', 'them', 'into', 'onto', 'with', 'from', 'after', 'first',
               'please', 'back', 'over', 'there', 'where', 'that', 'this', 'those', 'these',
               'other', 'both', 'every', 'everything', 'left', 'right', 'middle'}  # fmt: skip
"""Function words also corrected when misspelt ('teh' -> 'the')."""
COMMON_WORDS = words(
    'are was were has had have did does done doing get got let lets now not yes who what '
    'where why how which they their than when without over under about above below again '
    'also any some one two too very really still only even more most less much many few '
    'each next last out off down way sure make made need needs want wants like likes would '
    'should could might must shall will can may you your yours our ours his hers its mine '
    'mind know think see seen said told ask asked time times today later soon side top '
    'bottom end start middle front far full empty new old big small little same another '
    'else such own mode safe yet already ever always done finished ready moment chance '
    'sorry excuse lot lots together exactly either neither nor but for because since while '
    'until though although whatever instead colour color coloured colored tidy cup mug pen '
    'jar lid can beaker flask pipette plate glass bowl tool knife phone book bag ball cap '
    'key tape scissors wrench hammer sponge towel paper rack tip tips well cloth glove '
    'gloves mask fridge freezer oven sink shelf drawer door floor wall window room lab '
    'chair cabinet cart trolley incubator microscope scale balance hood beside bottle thing '
    'stuff guy guys yeah nope hmm sir madam boss team everyone anybody touch touching leave '
    'alone keep hand hands told asap cheers'
)
"""Ordinary words that are never 'corrected' into a vocabulary word ('cup' is not 'cut')."""
KNOWN_GROUNDING = (
    FILLERS | ALL_WORDS | TRAILING_OK | NEGATIONS | set(SUPERLATIVES)
    | {w for p in (*PRONOUNS, *EXCEPT, *RELATIVE_STARTS, *DIRECTION_PHRASES) for w in p}
    | {w for p, _ in RELATIONS for w in p}
)  # fmt: skip
UNITS = {'second': 1.0, 'seconds': 1.0, 's': 1.0, 'sec': 1.0, 'secs': 1.0, 'minute': 60.0,
         'minutes': 60.0, 'min': 60.0, 'mins': 60.0, 'moment': 2.0, 'moments': 2.0,
         'bit': 2.0, 'while': 5.0}  # fmt: skip


@dataclass
class _State:
    world: WorldSnapshot
    registry: SkillRegistry
    home: str
    origin: dict[str, str]
    steps: list[PlanStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    """Objects carried to a place ("take X to the station") and not put down yet: a later
    clause may still use them ("... and put it in the bin"), else they are put down there."""
    last_dest: Ref | None = None
    forbidden: dict[str, str] = field(default_factory=dict)
    """Objects the operator said not to touch, with the phrase that said so."""
    forbidden_places: dict[str, str] = field(default_factory=dict)
    clause_hand: str | None = None
    hand_pref: dict[str, str] = field(default_factory=dict)

    def flush(self) -> None:
        for obj, place in list(self.pending.items()):
            del self.pending[obj]
            if self.world.hand_holding(obj):
                self.be_at(place)
                self.do('place_on', object=obj, surface=place)

    def free_hand(self, obj: str | None = None, partner: str | None = None) -> str | None:
        """The hand to pick ``obj`` with: the one the operator named; with `partner` (picked
        next with the other hand, both held together) the one on `obj`'s side of the
        partner, as seen from where the robot works at its place, so the arms never cross;
        else the first free one (objects carried but not yet put down are put down first
        when both hands are full). A single pick keeps the first free hand: with the hand
        on the object's side, the arm left over the tray after a place was hit by the other
        arm's next pick (lab benchmark)."""
        wanted = self.hand_pref.get(obj or '') or self.clause_hand
        if not self.world.free_hands() or (wanted and self.world.held.get(wanted)):
            self.flush()
        free = self.world.free_hands()
        if wanted:
            if wanted not in free:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    f'the {wanted} hand is busy holding {self.world.held.get(wanted)}',
                )
            return wanted
        side = None
        if obj and partner and len(free) > 1:
            mine = self._lateral(obj)
            other = self._lateral(partner)
            if mine is not None and other is not None and abs(mine - other) > 1e-3:
                side = 'left' if mine > other else 'right'
        if side in free:
            return side
        return free[0] if free else None

    def _lateral(self, obj: str) -> float | None:
        """How far `obj` lies to the left (m, negative: right) of where the robot stands to
        work at its place (None when it is on no place)."""
        w = self.world
        place = w.places.get(w.object_place(obj) or '')
        o = w.objects.get(obj)
        if place is None or o is None:
            return None
        ax, ay, ayaw = place.approach
        return to_local(o.position[:2], (ax, ay), ayaw)[1]

    def do(self, skill: str, **args: str | float) -> None:
        if skill == 'walk_to' and args.get('place') in self.forbidden_places:
            raise PlanningError(
                ErrorCode.PLANNING_FAILED,
                f'the plan needs to walk to {args["place"]}, but you said '
                f'{self.forbidden_places[str(args["place"])]!r}',
            )
        step = self.registry.step(skill, **args)
        try:
            self.world = apply_step(step, self.world, self.registry)
        except (StepError, KeyError) as exc:
            raise PlanningError(
                ErrorCode.PLANNING_FAILED,
                f'cannot {step.text}: {exc.args[0] if exc.args else exc}',
            ) from None
        self.steps.append(step)

    def be_at(self, place: str | None) -> None:
        if place is None:
            raise PlanningError(ErrorCode.PLANNING_FAILED, 'the object is not on any known place')
        if self.world.robot_place != place:
            self.do('walk_to', place=place)


@dataclass
class _Clause:
    intent: str
    rest: list[str]
    word: str = ''
    hand: str | None = None
    gapped: bool = False
    defer: bool = False


_INDEXES: dict[int, tuple[list[tuple[str, ...]], dict[str, list[tuple[str, ...]]]]] = {}


def _index(group: list[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    """Phrases by first word, longest first (cached per list object)."""
    hit = _INDEXES.get(id(group))
    if hit is not None and hit[0] is group:
        return hit[1]
    index: dict[str, list[tuple[str, ...]]] = {}
    for p in sorted(group, key=len, reverse=True):
        if p:
            index.setdefault(p[0], []).append(p)
    if len(_INDEXES) > 64:  # vocabularies built per call (model back-ends): stay bounded
        _INDEXES.clear()
    _INDEXES[id(group)] = (group, index)
    return index


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of adjacent letters counts as one edit);
    anything above ``limit`` is reported as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return min(prev[len(b)], limit + 1)


def _strip_quotes(text: str) -> tuple[str, list[str]]:
    quotes: list[str] = []

    def sub(m: re.Match[str]) -> str:
        quotes.append(m.group(1) or m.group(2) or '')
        return f' qqq{chr(ord("a") + len(quotes) - 1)} '

    text = re.sub(r'"([^"]*)"|(?<![\w])\'([^\']*)\'(?![\w])', sub, text)
    return text, quotes


class EmbeddedPlanner:
    """Rule-based planner backend (name 'embedded'); deterministic, no model weights."""

    name = 'embedded'
    deterministic = True

    def __init__(self, carry_per_walk: int = 1) -> None:
        if carry_per_walk not in (1, 2):
            raise ValueError(f'carry_per_walk must be 1 or 2, got {carry_per_walk!r}')
        self.carry_per_walk = carry_per_walk
        self._known: tuple[set[str], dict[str, set[str]]] | None = None
        self._vocab_cache: tuple[int, Vocabulary] | None = None
        self._verbs: dict[tuple[str, ...], str] = {}
        self._out_of_scope: list[tuple[str, ...]] = []

    def _vocab(self, registry: SkillRegistry) -> Vocabulary:
        if self._vocab_cache is None or self._vocab_cache[0] != id(registry):
            vocab = Vocabulary.from_config(registry.vocabulary)
            if not vocab.verbs or not vocab.nouns:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    'the skill registry has no vocabulary (verbs, nouns): the embedded '
                    'planner needs the `vocabulary:` section of config/skills.yaml',
                )
            bad = set(vocab.verbs.values()) - set(INTENTS)
            if bad:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    f'vocabulary.verbs: unknown intent(s) {", ".join(sorted(bad))}; '
                    f'valid: {", ".join(INTENTS)}',
                )
            self._vocab_cache = (id(registry), vocab)
            self._known = None
            self._verbs = vocab.verbs
            self._out_of_scope = vocab.out_of_scope
        return self._vocab_cache[1]

    # -- backend protocol ------------------------------------------------------------------
    def propose(
        self,
        instruction: str,
        world: WorldSnapshot,
        registry: SkillRegistry,
        feedback: str | None = None,
    ) -> PlanProposal:
        """Plan ``instruction`` in ``world``. ``feedback`` (validator text) is ignored: this
        backend is deterministic and plans against the same symbolic model the validator
        uses."""
        try:
            plan = self._plan(instruction, world, registry)
        except PlanningError as exc:
            return PlanProposal(exc.code, None, exc.message)
        return PlanProposal(ErrorCode.SUCCESS, plan, plan.rationale)

    # -- screening -------------------------------------------------------------------------
    def _screen(self, instruction: str, vocab: Vocabulary, limit: int) -> list[str]:
        if not instruction or not instruction.strip():
            raise PlanningError(ErrorCode.INVALID_INSTRUCTION, 'the instruction is empty')
        if len(instruction) > limit:
            raise PlanningError(
                ErrorCode.INVALID_INSTRUCTION,
                f'the instruction is too long ({len(instruction)} > {limit} characters)',
            )
        toks = tokenize(instruction)
        self._screen_tokens(toks, vocab)
        if not any(t.isalpha() and len(t) > 1 for t in toks):
            raise PlanningError(ErrorCode.INVALID_INSTRUCTION, 'the instruction has no words')
        return toks

    def _screen_tokens(self, toks: list[str], vocab: Vocabulary) -> None:
        """Injection attempts and unsafe words: REJECTED."""
        verbs, targets = _index(vocab.injection_verbs), _index(vocab.injection_targets)
        injection, unsafe = _index(vocab.injection), _index(vocab.unsafe)
        for i in range(len(toks)):
            for verb in verbs.get(toks[i], ()):
                if not match_at(toks, i, verb):
                    continue
                window = toks[i + len(verb) : i + len(verb) + 6]
                for j in range(len(window)):
                    if window[j] in ('.', ';', '!', '?'):
                        break
                    target = next(
                        (p for p in targets.get(window[j], ()) if match_at(window, j, p)), None
                    )
                    if target is not None:
                        raise PlanningError(
                            ErrorCode.REJECTED,
                            f"refused: the instruction tries to override the robot's rules "
                            f'("{" ".join([*verb, *window[: j + len(target)]])}")',
                        )
            for phrase in injection.get(toks[i], ()):
                if match_at(toks, i, phrase):
                    raise PlanningError(
                        ErrorCode.REJECTED,
                        f"refused: the instruction tries to override the robot's rules "
                        f'("{" ".join(phrase)}")',
                    )
            if toks[i] in vocab.throw_like:  # "chuck me X", "chuck X at/to Bob" (any back-end)
                window = list(
                    itertools.takewhile(
                        lambda t: t not in ('.', ';', '!', '?', ','), toks[i + 1 :]
                    )
                )
                aimed = bool(window) and window[0] in vocab.people
                aimed = (
                    aimed
                    or 'at' in window[:8]
                    or any(
                        t == 'to' and window[k + 1 : k + 2] and window[k + 1] in vocab.people
                        for k, t in enumerate(window[:8])
                    )
                )
                if aimed:
                    raise PlanningError(
                        ErrorCode.REJECTED,
                        f'refused: "{toks[i]} ..." aimed at someone or something means throwing; '
                        'the robot only places objects and hands them over ("give me ...")',
                    )
            for phrase in unsafe.get(toks[i], ()):
                if match_at(toks, i, phrase):
                    raise PlanningError(
                        ErrorCode.REJECTED,
                        f'refused: "{" ".join(phrase)}" is unsafe or outside the robot\'s '
                        'skills (it only picks, places, hands over, walks and looks)',
                    )

    # -- normalisation ---------------------------------------------------------------------
    def _normalize(self, toks: list[str], vocab: Vocabulary, notes: list[str]) -> list[str]:
        """Courtesy phrases out, typos corrected (then screened again), conditions refused."""
        toks = [TEXTSPEAK.get(t, t) for t in toks]
        fixed = self._correct_typos(toks, vocab, notes)
        if fixed != toks:
            self._screen_tokens(fixed, vocab)  # "thorw" -> "throw"
        toks = fixed
        out: list[str] = []
        i = 0
        while i < len(toks):
            p = next((p for p in _index(COURTESY).get(toks[i], ()) if match_at(toks, i, p)), None)
            if p is not None:
                i += len(p)
                continue
            out.append(toks[i])
            i += 1
        for i in range(len(out)):
            cond = next(
                (p for p in _index(CONDITIONALS).get(out[i], ()) if match_at(out, i, p)), None
            )
            if cond is None and out[i] in ('when', 'once', 'while', 'until', 'soon'):
                nxt = out[i + 1 : i + 4]
                if (
                    nxt[:1]
                    and nxt[0] in CONDITION_SUBJECTS
                    and not (
                        nxt[:1] in (['it'], ['that'], ['this'])
                        and (set(nxt[1:]) & {'done', 'finished', 'complete', 'over'})
                    )
                ):
                    cond = (out[i],)
            if cond is not None:
                clause = ' '.join(t for t in out[i : i + 8] if t not in (',', '.'))
                raise PlanningError(
                    ErrorCode.REJECTED,
                    f'refused: conditions ("{clause} ...") are not supported: the plan cannot '
                    'check them while it runs; say exactly what to do',
                )
        return out

    def _known_words(self, vocab: Vocabulary) -> tuple[set[str], dict[str, set[str]]]:
        """(words the planner knows, typo candidates by first letter)."""
        if self._known is not None:
            return self._known
        content: set[str] = set(vocab.colors) | set(CORRECTABLE)
        for table in (vocab.nouns, vocab.places, vocab.dest_nouns, vocab.verbs):
            content |= {w for k in table for w in k}
        for phrase in (*vocab.unsafe, *vocab.out_of_scope):
            content |= set(phrase)
        known = set(content) | set(COMMON_WORDS) | set(vocab.people) | set(vocab.throw_like)
        for group in (
            PREFIXES, HARD_SPLITS, COURTESY, CONDITIONALS, NEGATED_STARTS, SEQUENCE_DONE,
            vocab.injection, vocab.injection_verbs, vocab.injection_targets,
        ):  # fmt: skip
            known |= {w for p in group for w in p}
        known |= NP_STARTS | set(DEST_PREPS) | set(UNITS) | ANYWHERE_FILLERS | SOCIAL
        known |= set(NUMBERS) | set(ORDINALS) | KNOWN_GROUNDING
        by_letter: dict[str, set[str]] = {}
        for w in content:
            if len(w) >= 3 and w.isalpha():
                by_letter.setdefault(w[0], set()).add(w)
        self._known = (known, by_letter)
        return self._known

    def _correct_typos(self, toks: list[str], vocab: Vocabulary, notes: list[str]) -> list[str]:
        """Words the planner does not know, one edit (two for long words; a swap of adjacent
        letters is one edit) from exactly one vocabulary word with the same first letter,
        are read as that word (noted in the plan's rationale). Several candidates: AMBIGUOUS,
        naming them; none: the word stays (grounding reports what it does not know)."""
        known, by_letter = self._known_words(vocab)
        out = list(toks)
        for i, t in enumerate(toks):
            if len(t) < 3 or not t.isalpha() or t in known or t.startswith('qqq'):
                continue
            limit = 1 if len(t) < 8 else 2
            cands = sorted(
                w
                for w in by_letter.get(t[0], ())
                if abs(len(w) - len(t)) <= limit and _edit_distance(t, w, limit) <= limit
            )
            if not cands:
                continue
            best = min(_edit_distance(t, w, limit) for w in cands)
            cands = [w for w in cands if _edit_distance(t, w, limit) == best]
            if len(cands) > 1:
                raise PlanningError(
                    ErrorCode.AMBIGUOUS,
                    f'I do not know the word {t!r}; did you mean {" or ".join(cands)}?',
                )
            out[i] = cands[0]
            notes.append(f'read {t!r} as {cands[0]!r}')
        return out

    # -- clause splitting ------------------------------------------------------------------
    def _verb_at(self, toks: list[str], i: int) -> tuple[str, int] | None:
        hit = self._verb_exact(toks, i)
        t = toks[i] if i < len(toks) else ''
        if hit is None and t.endswith('ing') and len(t) > 5:  # "would you mind putting ..."
            for lemma in (t[:-3], t[:-3] + 'e', t[:-4]):
                hit = self._verb_exact([*toks[:i], lemma, *toks[i + 1 :]], i)
                if hit is not None:
                    break
        return hit

    def _verb_exact(self, toks: list[str], i: int) -> tuple[str, int] | None:
        for n in (5, 4, 3, 2, 1):
            key = tuple(toks[i : i + n])
            if len(key) == n and key in self._verbs:
                intent = self._verbs[key]
                nxt = toks[i + n] if i + n < len(toks) else ''
                if key == ('close',) and nxt in ('to', 'by'):
                    return None
                if key in (('stay',),) and nxt not in ('for', 'here', 'there', 'still', ''):
                    return None
                return intent, n
        return None

    def _strip_prefix(self, toks: list[str]) -> list[str]:
        changed = True
        while changed and toks:
            changed = False
            for p in PREFIXES:
                if match_at(toks, 0, p) and len(toks) > len(p):
                    rest = toks[len(p) :]
                    if p in ORDINAL_PREFIXES and not self._verb_at(rest, 0):
                        continue
                    toks = rest
                    changed = True
                    break
        if toks[-2:] == ['thank', 'you']:
            toks = toks[:-2]
        return [t for t in toks if t not in ANYWHERE_FILLERS]

    def _split(self, toks: list[str]) -> list[list[str]]:
        clauses: list[list[str]] = []
        cur: list[str] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            hard = next((p for p in HARD_SPLITS if match_at(toks, i, p)), None)
            if t in ('.', ';', '!', '?') or hard is not None:
                if cur:
                    clauses.append(cur)
                cur = []
                i += len(hard) if hard else 1
                continue
            if t == 'but' and any(match_at(toks, i + 1, p) for p in NEGATED_STARTS):
                if cur:  # "put X in Y but don't touch Z"
                    clauses.append(cur)
                cur = []
                i += 1
                continue
            if t in (',', 'and'):
                nxt = self._strip_prefix(toks[i + 1 :]) if i + 1 < len(toks) else []
                starts_verb = bool(nxt) and (
                    self._verb_at(nxt, 0) is not None
                    or any(match_at(nxt, 0, p) for p in self._out_of_scope)
                )
                raw = toks[i + 1 :]
                if (
                    starts_verb
                    or (cur and all(w in SOCIAL for w in cur))  # "Right, first the red ..."
                    or any(match_at(raw, 0, p) for p in NEGATED_STARTS)
                    or any(match_at(raw, 0, p) for p in SAME)
                    or (t == ',' and nxt[:1] == ['and'])
                    or self._complete(cur, toks, i, bool(clauses))
                ):
                    if cur:
                        clauses.append(cur)
                    cur = []
                    i += 1
                    continue
            cur.append(t)
            i += 1
        if cur:
            clauses.append(cur)
        return [c for c in clauses if c]

    def _complete(self, cur: list[str], toks: list[str], i: int, gapped: bool) -> bool:
        """A clause with a verb and a destination is complete: ", the blue one in the bin"
        after it is a new clause with the same verb (gapping). ``gapped``: ``cur`` itself
        continues an earlier clause's verb."""
        body = self._strip_prefix(cur)
        if not body:
            return False
        if self._hand_preference(body)[1] is not None and body[-1] in ('hand', 'gripper', 'arm'):
            return True  # "... with the left hand and the green cube with the right hand"
        verb = self._verb_at(body, 0)
        vocab = self._vocab_cache[1] if self._vocab_cache else None
        terse = vocab is not None and (
            body[0] in NP_STARTS
            or bool(vocab.color(body[0]))
            or bool(vocab.longest(vocab.nouns, body, 0))
        )
        if verb is None and not gapped and not terse:  # "red -> tray, green -> bin"
            return False
        if verb is not None and verb[0] not in ('transfer', 'move', 'give'):
            return False
        rest = toks[i + 1 :]
        has_dest_after = any(t in DEST_PREPS for t in rest)
        return (
            any(
                t in DEST_PREPS and tuple(body[j - 1 : j]) not in NOT_DEST_AFTER
                for j, t in enumerate(body)
            )
            and has_dest_after
        )

    # -- planning --------------------------------------------------------------------------
    def _plan(self, instruction: str, world: WorldSnapshot, registry: SkillRegistry) -> Plan:
        t0 = time.monotonic()
        vocab = self._vocab(registry)
        text, quotes = _strip_quotes(instruction)
        text = ARROWS.sub(' to ', text)
        toks = self._screen(text, vocab, registry.limits.max_instruction_chars)
        corrections: list[str] = []
        toks = self._normalize(toks, vocab, corrections)
        origin = {
            o: (world.related(o, 'in') or [world.object_place(o) or ''])[0] for o in world.objects
        }
        state = _State(world, registry, world.robot_place, origin, notes=corrections)
        # "it" with nothing mentioned yet is what the robot already holds ("put it in the tray").
        ctx = Context(last=[o for o in (world.held.get(h) for h in HANDS) if o])
        prev_intent: str | None = None
        clauses = self._order(self._split(toks))
        negated = [c for c in clauses if self._negation(c)]
        for clause in negated:  # constraints first: they hold for the whole instruction
            self._forbid(clause, state, vocab)
        clauses = [c for c in clauses if c not in negated and not self._small_talk(c)]
        if not clauses:
            raise PlanningError(
                ErrorCode.INVALID_INSTRUCTION,
                f'not a task I understand: {" ".join(toks)!r} (start with an action such as '
                '"put", "pick up", "walk to", "look at", "give me")',
            )
        parsed: list[_Clause] = []
        ctx.forbidden = dict(state.forbidden)
        for clause in clauses:
            body, hand = self._hand_preference(self._strip_prefix(clause))
            body = [t for t in body if t not in (',', ';')]
            if not body or tuple(body) in PREFIX_SET:  # "could you please, ..."
                continue
            verb = self._verb_at(body, 0)
            same = next((p for p in SAME if match_at(body, 0, p)), None)
            if same is not None and parsed:  # "... then do the same with the blue one"
                parsed.append(_Clause(parsed[-1].intent, body[len(same) :], parsed[-1].word,
                                      hand, gapped=True))  # fmt: skip
            elif verb is None:
                body = self._verbless(body)
                intent = self._no_verb(body, vocab, prev_intent)
                # gapping ("..., the blue one in the bin") or "X goes in Y"
                parsed.append(_Clause(intent, body, '', hand, gapped=prev_intent is not None))
            else:
                word = ' '.join(body[: verb[1]])
                parsed.append(_Clause(verb[0], body[verb[1] :], word, hand))
            prev_intent = parsed[-1].intent
        for k, c in enumerate(parsed):
            nxt = parsed[k + 1] if k + 1 < len(parsed) else None
            # "pick up X and put it in Y": the pick is done by the transfer (hands batched)
            c.defer = (
                c.intent in ('pick', 'move')
                and nxt is not None
                and nxt.intent in ('transfer', 'move', 'give', 'release')
                and nxt.rest[:1] in (['it'], ['them'], ['those'], ['these'], ['both'])
            )
            if c.intent in ('walk', 'wait', 'report', 'look', 'open', 'close'):
                state.flush()
            state.clause_hand = c.hand
            self._clause(c, state, vocab, ctx, quotes)
            if time.monotonic() - t0 > registry.limits.max_planning_time_s:
                raise PlanningError(ErrorCode.TIMEOUT, 'planning took too long')
        if not parsed:
            raise PlanningError(ErrorCode.INVALID_INSTRUCTION, 'no task found in the instruction')
        state.flush()
        if not state.steps:
            msg = '; '.join(state.notes) or 'nothing to do'
            state.do('report', text=msg[:200])
        if len(state.steps) > registry.limits.max_plan_steps:
            raise PlanningError(
                ErrorCode.PLANNING_FAILED,
                f'the plan needs {len(state.steps)} steps; at most '
                f'{registry.limits.max_plan_steps} are allowed',
            )
        return Plan(tuple(state.steps), self.name, '; '.join(state.notes))

    # -- clause-level discourse ------------------------------------------------------------
    def _small_talk(self, clause: list[str]) -> bool:
        """'Hi robot.', 'Thanks!', 'Once you are done,' alone: no task in this clause."""
        body = [t for t in clause if t not in (',', '!', '?', '.', ';')]
        return all(t in SOCIAL for t in body) or tuple(body) in set(SEQUENCE_DONE)

    def _order(self, clauses: list[list[str]]) -> list[list[str]]:
        """'before you put X, put Y' -> 'put Y', 'put X' (the main clause happens first)."""
        out = [list(c) for c in clauses]
        k = 0
        while k < len(out):
            p = next((p for p in BEFORE if match_at(out[k], 0, p)), None)
            if p is not None and len(out[k]) > len(p):
                sub = out[k][len(p) :]
                if k + 1 < len(out):
                    out[k] = out[k + 1]
                    out[k + 1] = sub
                    k += 2
                    continue
                out[k] = sub  # "put X in Y before ...": nothing after it to reorder
            k += 1
        return out

    def _negation(self, clause: list[str]) -> tuple[str, ...] | None:
        body = [t for t in clause if t not in (',',)]
        if any(match_at(body, 0, p) for p in NOT_NEGATION):
            return None  # "don't forget to put ..." asks for it
        if len(body) > 2 and body[0] == 'leave':
            for tail in LEAVE_ALONE:  # "leave the vial alone", "leave X where it is"
                if tuple(body[-len(tail) :]) == tail:
                    return ('leave', *tail)
        return next((p for p in NEGATED_STARTS if match_at(body, 0, p)), None)

    def _forbid(self, clause: list[str], state: _State, vocab: Vocabulary) -> None:
        """'don't touch the vial', 'not the blue one', 'never go to the station': the objects
        (places) are kept out of the plan; naming them elsewhere is a contradiction."""
        body = [t for t in clause if t not in (',',)]
        neg = self._negation(body) or ()
        if neg[:1] == ('leave',):
            body, neg = body[: len(body) - len(neg) + 1], ('leave',)
        rest = self._strip_prefix(body[len(neg) :]) if len(body) > len(neg) else []
        verb = self._verb_at(rest, 0) if rest else None
        if verb is not None:
            intent, rest = verb[0], rest[verb[1] :]
        else:
            intent = ''
            if (
                rest
                and rest[0] not in NP_STARTS
                and not vocab.color(rest[0])
                and not (vocab.longest(vocab.nouns, rest, 0))
            ):
                rest = rest[1:]  # an unknown verb: "don't touch the vial", "avoid the tray"
        rest = [t for t in rest if t not in ('with', 'anything', 'at', 'all', 'for', 'now')]
        phrase = ' '.join(body)
        if not rest:
            state.notes.append(f'ignored {phrase!r}: it names nothing to avoid')
            return
        ctx = Context()
        try:
            if intent == 'walk' or (rest[:1] and rest[0] in ('to', 'toward', 'towards')):
                toks = [t for t in rest if t not in ('to', 'toward', 'towards', 'over', 'back')]
                ref = Grounder(state.world, vocab, ctx).resolve(toks, 'dest')
                place = ref.ids[0] if ref.kind == 'place' else None
                if ref.kind == 'object':
                    place = state.world.object_place(ref.ids[0])
                if place:
                    state.forbidden_places[place] = phrase
                return
            obj_toks, _, _, _ = self._split_dest(rest, state, vocab, ctx)
            ref = Grounder(state.world, vocab, ctx).resolve(obj_toks or rest, 'ref')
        except PlanningError as exc:
            if exc.code == ErrorCode.UNKNOWN_OBJECT:
                state.notes.append(f'ignored {phrase!r}: {exc.message}')
                return
            raise
        if ref.kind == 'place':
            state.forbidden_places[ref.ids[0]] = phrase
        for o in ref.ids:
            state.forbidden[o] = phrase
        state.notes.append(f'not touching {", ".join(ref.ids)} ({phrase!r})')

    def _hand_preference(self, body: list[str]) -> tuple[list[str], str | None]:
        """Strip 'with your left hand' / 'use the right gripper to ...'; return the hand."""
        for i in range(len(body)):
            if body[i] not in ('with', 'using', 'use'):
                continue
            j = i + 1
            if j < len(body) and body[j] in ('your', 'the', 'my', 'its'):
                j += 1
            if (
                j + 1 < len(body)
                and body[j] in ('left', 'right')
                and body[j + 1] in ('hand', 'gripper', 'arm')
            ):
                end = j + 2
                if body[i] == 'use' and end < len(body) and body[end] == 'to':
                    end += 1
                return body[:i] + body[end:], body[j]
        return body, None

    def _verbless(self, body: list[str]) -> list[str]:
        """'I need X in Y', 'X goes in Y', 'X should go in Y' -> 'X in Y'."""
        for p in (
            ('i', 'need'),
            ('i', 'want'),
            ('i', 'd', 'like'),
            ('we', 'need'),
            ('we', 'want'),
        ):
            if match_at(body, 0, p):
                body = body[len(p) :]
                break
        if (
            body[:1]
            and body[0] in ('can', 'could', 'will', 'would')
            and body[1:2]
            and (body[1] in NP_STARTS)
        ):
            body = body[1:]  # "can the green cube go in the bin?"
        drop = {'goes', 'go', 'belongs', 'should', 'needs', 'to', 'must', 'has'}
        out: list[str] = []
        for i, t in enumerate(body):
            if t in drop and (t != 'to' or (i > 0 and body[i - 1] in ('needs', 'has'))):
                continue
            out.append(t)
        return out

    def _no_verb(self, body: list[str], vocab: Vocabulary, prev_intent: str | None) -> str:
        for i in range(min(len(body), 3)):
            for phrase in vocab.out_of_scope:
                if match_at(body, i, phrase):
                    raise PlanningError(
                        ErrorCode.REJECTED,
                        f'"{" ".join(phrase)}" is outside the robot\'s skills; it can: '
                        'walk to a place, look at something, pick, place in/on, hand over, '
                        'open/close a gripper, wait and report',
                    )
        first = body[0]
        starts_np = (
            first in NP_STARTS
            or first in ORDINALS
            or first in NUMBERS
            or bool(vocab.color(first))
            or bool(vocab.longest(vocab.nouns, body, 0))
        )
        has_noun = any(
            vocab.longest(vocab.nouns, body, j) or vocab.color(t) for j, t in enumerate(body)
        ) or body[:1] in (['it'], ['them'])
        has_noun = has_noun and starts_np
        has_dest = any(t in DEST_PREPS for t in body[1:])
        if prev_intent in ('transfer', 'move', 'give', 'pick') and (has_noun or starts_np):
            return prev_intent
        if has_noun and has_dest:
            return 'transfer'  # "red cube into the tray", "the red cube goes in the tray"
        raise PlanningError(
            ErrorCode.INVALID_INSTRUCTION,
            f'not a task I understand: {" ".join(body)!r} (start with an action such as '
            '"put", "pick up", "walk to", "look at", "give me")',
        )

    # -- clause handlers -------------------------------------------------------------------
    def _ground(
        self, state: _State, vocab: Vocabulary, ctx: Context, toks: list[str], role: str
    ) -> Ref:
        ref = Grounder(state.world, vocab, ctx).resolve(toks, role)
        if ref.note:
            state.notes.append(ref.note)
        return ref

    def _split_dest(
        self, rest: list[str], state: _State, vocab: Vocabulary, ctx: Context
    ) -> tuple[list[str], Ref | None, bool, str]:
        """Split 'OBJECT PREP DEST' at the first preposition whose tail grounds as a
        destination. Returns (object tokens, destination or None, 'back' flag, preposition)."""
        back = 'back' in rest
        rest = [
            t
            for k, t in enumerate(rest)
            if t not in ('back', 'up', 'down', 'away', 'over')
            # "drop it off at the station": a particle, not "off the tray"
            and not (t == 'off' and (k + 1 == len(rest) or rest[k + 1] in DEST_PREPS))
        ]
        positions = [
            i
            for i, t in enumerate(rest)
            if t in DEST_PREPS
            and tuple(rest[i - 1 : i]) not in NOT_DEST_AFTER
            and not match_at(rest, i, ('on', 'the', 'left'))
            and not match_at(rest, i, ('on', 'the', 'right'))
            and not match_at(rest, i, ('on', 'the', 'far'))
            and not match_at(rest, i, ('in', 'the', 'middle'))
            and not match_at(rest, i, ('to', 'the', 'left'))
            and not match_at(rest, i, ('to', 'the', 'right'))
        ]
        last_error: PlanningError | None = None
        for i in positions:
            tail = rest[i + 1 :]
            if match_at(tail, 0, ('top', 'of')):
                tail = tail[2:]
            if not tail:
                continue
            try:
                dest = Grounder(state.world, vocab, ctx).resolve(tail, 'dest')
            except PlanningError as exc:
                last_error = exc
                continue
            return rest[:i], dest, back, rest[i]
        if last_error is not None and last_error.code != ErrorCode.INVALID_INSTRUCTION:
            raise last_error
        if len(rest) > 1 and rest[-1] in ('there', 'here'):  # "leave it there"
            dest = Grounder(state.world, vocab, ctx).resolve(rest[-1:], 'dest')
            return rest[:-1], dest, back, rest[-1]
        return rest, None, back, ''

    def _clause(
        self, c: _Clause, state: _State, vocab: Vocabulary, ctx: Context, quotes: list[str]
    ) -> None:
        intent, rest, word = c.intent, c.rest, c.word
        if intent == 'wait':
            state.do('wait', seconds=self._seconds(rest))
            return
        if intent == 'report':
            state.do('report', text=self._report_text(rest, quotes))
            return
        if intent in ('open', 'close'):
            hands = self._hands(rest, intent)
            for h in hands:
                state.do('open_gripper' if intent == 'open' else 'close_gripper', hand=h)
            return
        to_me = False
        if rest[:1] in (['me'], ['us']) or (
            intent == 'give' and rest[:1] and rest[0] in vocab.people
        ):
            to_me = True  # "give me X", "hand Bob the cube"
            rest = rest[1:]
        elif intent == 'give' and rest[:2] in (['the', 'operator'], ['the', 'person']):
            to_me = True
            rest = rest[2:]
        if intent == 'walk' or (
            intent in ('move', 'transfer') and self._is_walk(rest, state, vocab, ctx)
        ):
            self._walk(rest, state, vocab, ctx, word)
            return
        if intent == 'look':
            toks = rest[1:] if rest[:1] in (['at'], ['for'], ['toward'], ['towards']) else rest
            toks = [t for t in toks if t not in ('around',)]
            ref = self._ground(state, vocab, ctx, toks, 'target')
            if ref.kind == 'person':
                raise PlanningError(
                    ErrorCode.INVALID_INSTRUCTION, 'I can only look at objects and places'
                )
            for target in ref.ids:
                state.do('look_at', target=target)
            ctx.remember(ref)
            return
        if intent == 'empty':
            self._empty(rest, state, vocab, ctx)
            return
        if intent == 'transfer' and word == 'load' and 'with' in rest:
            intent = 'fill'
        if intent == 'fill':
            if 'with' not in rest:
                raise PlanningError(ErrorCode.INVALID_INSTRUCTION, 'fill what with what?')
            k = rest.index('with')
            container = self._ground(state, vocab, ctx, rest[:k], 'dest')
            items = self._ground(state, vocab, ctx, rest[k + 1 :], 'object')
            ctx.remember(items)
            self._transfer(items.ids, container, state)
            return
        rest = self._except_first(rest)
        obj_toks, dest, back, prep = self._split_dest(rest, state, vocab, ctx)
        if c.gapped and dest is None and state.last_dest is not None:
            dest = state.last_dest  # "put the red cube in the tray, then the blue one too"
        if c.gapped and not obj_toks and ctx.last:
            obj_toks = ['them']  # "put it in the tray and then into the bin"
        if dest is None and intent in ('transfer', 'move'):
            self._no_relative_placement(rest)
        if word in vocab.throw_like and (
            to_me or prep == 'at' or (dest is not None and dest.kind == 'person')
        ):
            aim = 'me' if to_me else f'{prep} {dest.text if dest else ""}'.strip()
            raise PlanningError(
                ErrorCode.REJECTED,
                f'refused: "{word} ... {aim}" means throwing; the robot only places objects '
                'and hands them over ("give me ...")',
            )
        if dest is not None and dest.kind != 'person':
            ctx.remember_dest(dest, state.world)
        if dest is not None and dest.kind == 'person':
            giving = intent == 'give' or (intent == 'move' and word in GIVING_WORDS)
            if prep != 'to' or not giving:
                raise PlanningError(
                    ErrorCode.REJECTED,
                    f'refused: "{word or intent} ... {prep} {dest.text}" moves something onto '
                    'or toward a person; the robot only hands objects over ("give me ...")',
                )
            to_me, dest = True, None
        if not obj_toks:
            raise PlanningError(ErrorCode.INVALID_INSTRUCTION, f'{intent} what? No object given')
        objs = self._ground(state, vocab, ctx, obj_toks, 'object')
        if objs.kind == 'place':
            raise PlanningError(
                ErrorCode.REJECTED, f'{objs.ids[0]} is a place; the robot can only move objects'
            )
        if objs.kind == 'person':
            raise PlanningError(ErrorCode.REJECTED, 'the robot does not move people')
        ctx.remember(objs, extend=c.gapped)
        if c.defer and dest is None and not to_me:
            for o in objs.ids:
                if c.hand:
                    state.hand_pref[o] = c.hand
            return
        bring = intent == 'move' and word in ('bring', 'fetch', 'deliver') and dest is None
        if intent == 'give' or to_me or (bring and not back):
            self._give(objs.ids, state)
            return
        if dest is None and back:
            for o in objs.ids:
                where = state.origin.get(o, '')
                if not where:
                    raise PlanningError(ErrorCode.PLANNING_FAILED, f'I do not know where {o} was')
                kind = 'place' if where in state.world.places else 'object'
                self._transfer([o], Ref([where], kind), state)
            return
        if dest is None:
            if intent in ('pick', 'move'):
                self._pick(objs.ids, state)
            elif intent in ('release', 'transfer') and all(
                state.world.hand_holding(o) for o in objs.ids
            ):
                place = state.world.robot_place
                if not place:
                    raise PlanningError(ErrorCode.PLANNING_FAILED, 'there is no table here')
                self._transfer(objs.ids, Ref([place], 'place'), state)
            elif word == 'leave':
                for o in objs.ids:
                    state.notes.append(f'{o} stays where it is')
            elif intent == 'release':
                loose = [o for o in objs.ids if not state.world.hand_holding(o)]
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED, f'the robot is not holding {", ".join(loose)}'
                )
            else:
                raise PlanningError(
                    ErrorCode.INVALID_INSTRUCTION,
                    f'where should {", ".join(objs.ids)} go? Name a container or a table',
                )
            return
        if (
            intent == 'pick'
            and dest.kind == 'object'
            and not state.world.objects[dest.ids[0]].is_container
        ):
            raise PlanningError(ErrorCode.INVALID_INSTRUCTION, 'cannot understand the destination')
        state.last_dest = dest
        if intent == 'move' and dest.kind == 'place' and word not in ('move', 'return'):
            self._carry(objs.ids, dest.ids[0], state)
            return
        self._transfer(objs.ids, dest, state)

    def _carry(self, objs: list[str], place: str, state: _State) -> None:
        """'take/carry/bring X to <place>': hold X and walk there; X is put down at the end
        unless a later clause uses it."""
        todo = [o for o in objs if not state.world.has(o, 'on', place)]
        if len(todo) > 2 or state.world.objects[todo[0] if todo else objs[0]].is_container:
            self._transfer(objs, Ref([place], 'place'), state)
            return
        self._pick([o for o in todo if not state.world.hand_holding(o)], state)
        if todo:
            state.be_at(place)
        for o in todo:
            state.pending[o] = place

    def _except_first(self, rest: list[str]) -> list[str]:
        """'all blocks in the tray except the blue one' -> 'all blocks except the blue one in
        the tray' (the exception belongs to the objects, not to the destination)."""
        k = next(
            (i for i in range(1, len(rest)) if any(match_at(rest, i, p) for p in EXCEPT)), None
        )
        if k is None:
            return rest
        p = next((i for i in range(1, k) if rest[i] in DEST_PREPS), None)
        if p is None:
            return rest
        return rest[:p] + rest[k:] + rest[p:k]

    def _no_relative_placement(self, rest: list[str]) -> None:
        for phrase in (
            ('next', 'to'),
            ('beside',),
            ('left', 'of'),
            ('right', 'of'),
            ('behind',),
            ('in', 'front', 'of'),
            ('near',),
            ('between',),
            ('on', 'top', 'of'),
            ('under',),
            ('below',),
            ('above',),
        ):
            for i in range(1, len(rest)):
                if match_at(rest, i, phrase):
                    raise PlanningError(
                        ErrorCode.REJECTED,
                        f'placing "{" ".join(phrase)}" an object is not one of the robot\'s '
                        'skills: name a container (in) or a table (on) as the destination',
                    )

    def _is_walk(self, rest: list[str], state: _State, vocab: Vocabulary, ctx: Context) -> bool:
        toks = [t for t in rest if t not in ('back', 'over', 'yourself', 'on')]
        if not toks or toks[0] not in ('to', 'toward', 'towards'):
            return False
        try:
            return Grounder(state.world, vocab, ctx).resolve(toks[1:], 'dest').kind == 'place'
        except PlanningError:
            return False

    def _walk(
        self, rest: list[str], state: _State, vocab: Vocabulary, ctx: Context, word: str = ''
    ) -> None:
        toks = [
            t
            for t in rest
            if t not in ('over', 'yourself', 'on', 'back', 'up', 'here', 'again', 'ahead')
        ]
        while toks and toks[0] in ('to', 'toward', 'towards', 'the', 'where', 'you', 'were'):
            toks = toks[1:]
        if not toks and 'back' not in rest and 'back' not in word and word != 'return':
            state.notes.append(f'"{word}" without a destination: nothing to do')
            return  # "go and get the cube": the next clause says what to do
        if not toks or toks in (
            ['start'],
            ['started'],
            ['home'],
            ['start', 'position'],
            ['starting', 'position'],
            ['started', 'from'],
        ):
            if not state.home:
                raise PlanningError(ErrorCode.PLANNING_FAILED, 'I do not know where to go back to')
            state.do('walk_to', place=state.home)
            return
        ref = self._ground(state, vocab, ctx, toks, 'dest')
        if ref.kind == 'person':
            raise PlanningError(ErrorCode.PLANNING_FAILED, 'I do not know where people are')
        ctx.remember_dest(ref, state.world)
        if ref.kind == 'object':
            place = state.world.object_place(ref.ids[0])
            if place == state.world.robot_place:
                state.notes.append(f'already at {place}, where {ref.ids[0]} is')
            state.be_at(place)
            return
        state.do('walk_to', place=ref.ids[0])

    def _hands(self, rest: list[str], intent: str) -> list[str]:
        if 'both' in rest or 'hands' in rest or 'grippers' in rest:
            return list(HANDS)[::-1]
        hands: list[str] = [h for h in ('left', 'right') if h in rest]
        if not any(t in rest for t in ('hand', 'gripper', 'grippers', 'hands', 'fingers', 'claw')):
            raise PlanningError(
                ErrorCode.REJECTED,
                f'"{intent} {" ".join(rest)}": the robot can only {intent} its grippers',
            )
        return hands or ['left', 'right']

    def _seconds(self, rest: list[str]) -> float:
        toks = [t for t in rest if t not in ('for', 'about', 'around', 'roughly', 'the')]
        value: float | None = None
        unit = 1.0
        i = 0
        while i < len(toks):
            t = toks[i]
            if match_at(toks, i, ('half', 'a')):
                value = 0.5
                i += 2
                continue
            if t.replace('.', '', 1).isdigit():
                value = float(t) * (value if value == 0.5 else 1.0)
            elif t in NUMBERS:
                value = float(NUMBERS[t])
            elif t in ('a', 'an') and value is None:
                value = 1.0
            elif t in UNITS:
                unit = UNITS[t]
                if t in ('moment', 'moments', 'bit', 'while'):
                    value = value if value not in (None, 1.0) else 1.0
            i += 1
        if value is None:
            value = 1.0
        return value * unit

    def _report_text(self, rest: list[str], quotes: list[str]) -> str:
        for t in rest:
            if t.startswith('qqq') and len(t) == 4:
                return quotes[ord(t[3]) - ord('a')][:200]
        words = [t for t in rest if t not in ('me', 'us', 'that', 'back', 'the', 'operator')]
        while words and words[0] in (
            'when',
            'once',
            'if',
            'you',
            're',
            'are',
            'have',
            'it',
            's',
            'is',
        ):
            words = words[1:]
        return (' '.join(words) or 'done')[:200]

    # -- compound intents ------------------------------------------------------------------
    def _pick(self, objs: list[str], state: _State) -> None:
        for k, o in enumerate(objs):
            if state.world.hand_holding(o):
                state.notes.append(f'{o} is already held')
                continue
            rest = [r for r in objs[k + 1 :] if not state.world.hand_holding(r)]
            hand = state.free_hand(o, rest[0] if rest else None)
            if hand is None:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    f'cannot pick {o}: both hands are full (the robot holds at most two objects)',
                )
            state.be_at(state.world.object_place(o))
            state.do('pick', object=o, hand=hand)

    def _give(self, objs: list[str], state: _State) -> None:
        for o in objs:
            if not state.world.hand_holding(o):
                self._pick([o], state)
            state.do('hand_over', object=o)

    def _empty(self, rest: list[str], state: _State, vocab: Vocabulary, ctx: Context) -> None:
        src_toks, dest, _, _ = self._split_dest(rest, state, vocab, ctx)
        src = self._ground(state, vocab, ctx, src_toks, 'dest')
        if src.kind == 'object':
            objs = state.world.contents(src.ids[0])
        else:
            objs = [
                o
                for o in state.world.objects
                if state.world.has(o, 'on', src.ids[0]) and not state.world.objects[o].is_container
            ]
        if dest is None:
            raise PlanningError(
                ErrorCode.INVALID_INSTRUCTION, f'where should the contents of {src.ids[0]} go?'
            )
        if not objs:
            state.notes.append(f'{src.ids[0]} is already empty')
            return
        ctx.remember(Ref(objs, 'object', ' '.join(src_toks)))
        self._transfer(objs, dest, state)

    def _transfer(self, objs: list[str], dest: Ref, state: _State) -> None:
        w = state.world
        target = dest.ids[0]
        if dest.kind == 'object':
            if not w.objects[target].is_container:
                raise PlanningError(
                    ErrorCode.REJECTED,
                    f'{target} is not a container; the robot can put things in containers '
                    f'({", ".join(o.id for o in w.objects.values() if o.is_container)}) or on '
                    f'tables ({", ".join(w.places)}), not stack them on objects',
                )
            skill, arg = 'place_in', 'container'
            pred = 'in'
        else:
            skill, arg = 'place_on', 'surface'
            pred = 'on'
        todo = []
        for o in objs:
            if o == target:
                raise PlanningError(ErrorCode.INVALID_INSTRUCTION, f'cannot put {o} into itself')
            if w.objects[o].is_container:
                raise PlanningError(ErrorCode.PLANNING_FAILED, f'{o} is too large for the gripper')
            if w.has(o, pred, target):
                state.notes.append(f'{o} is already {pred} {target}')
            else:
                todo.append(o)
        # Held objects first, then the others in batches of the free hands.
        held = [o for o in todo if state.world.hand_holding(o)]
        rest = [o for o in todo if o not in held]
        while held or rest:
            batch = list(held)
            held = []
            for o in batch:
                state.pending.pop(o, None)
            if rest and state.free_hand() is None and not batch:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    'both hands are full with other objects; put them down first',
                )
            free = len(state.world.free_hands())
            if rest and self._dest_place(dest, state) != state.world.object_place(rest[0]):
                # a walk follows: with an object in each hand the robot tipped over
                # backwards as the walk started (in-process, 1 of 1; over ROS 3 of 3)
                free = max(0, min(free, self.carry_per_walk - len(batch)))
            while rest and free > 0:
                o = rest.pop(0)
                place = state.world.object_place(o)
                state.be_at(place)
                partner = None  # picked next with the other hand (carried away together)
                if free > 1 and self._dest_place(dest, state) != place:
                    partner = next((r for r in rest if state.world.object_place(r) == place), None)
                hand = state.free_hand(o, partner)
                if hand is None:
                    rest.insert(0, o)
                    break
                state.do('pick', object=o, hand=hand)
                batch.append(o)
                free -= 1
                dest_place = self._dest_place(dest, state)
                if dest_place == state.world.robot_place:
                    break  # no walk needed: place right away
            if not batch:
                raise PlanningError(
                    ErrorCode.PLANNING_FAILED,
                    'both hands are full with other objects; put them down first',
                )
            state.be_at(self._dest_place(dest, state))
            for o in batch:
                state.do(skill, object=o, **{arg: target})

    def _dest_place(self, dest: Ref, state: _State) -> str | None:
        if dest.kind == 'place':
            return dest.ids[0]
        return state.world.object_place(dest.ids[0])


__all__ = ['EmbeddedPlanner']
