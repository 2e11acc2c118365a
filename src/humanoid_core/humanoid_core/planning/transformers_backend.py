"""The `transformers` planner backend: a local causal language model with grammar-constrained
decoding.

    make_backend('transformers', model_path='/models/qwen2.5-1.5b-instruct')

Any Hugging Face causal-LM folder loads (``from_pretrained``, local files only). At every
proposal a JSON schema is built from the skill registry and the world's ids
(:func:`humanoid_core.planning.model_io.decoding_schema`), compiled by xgrammar for the model's
tokenizer, and applied as a token mask at every decoding step, so even a small model can only
emit a well-formed answer whose skills come from the registry and whose ids are objects and
places in view. The schema is length-bounded so the answer always ends within the token
budget. The chat template is used when the tokenizer has one. Decoding is greedy by default
(``temperature`` > 0 samples, seeded), stops at the planning time limit (TIMEOUT), and never
raises: failures become PLANNING_FAILED with the reason.
"""

from __future__ import annotations

from collections import OrderedDict
import json
import math
from pathlib import Path
import threading
import time
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import xgrammar as xgr

from humanoid_core.planning.errors import ErrorCode
from humanoid_core.planning.model_io import (
    build_messages,
    decoding_schema,
    parse_answer,
    plain_prompt,
    screen_instruction,
)
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import PlanProposal
from humanoid_core.world.types import WorldSnapshot

_DTYPES = {'auto': 'auto', 'float32': torch.float32, 'bfloat16': torch.bfloat16,
           'float16': torch.float16}  # fmt: skip


class _DeadlineError(Exception):
    pass


class _GenerationError(Exception):
    pass


class TransformersPlanner:
    """Planner backend 'transformers' (see the module docstring).

    Args:
        model_path: local model folder (config.json, weights, tokenizer files).
        device: torch device ('cpu', 'cuda', 'cuda:1', ...).
        dtype: 'auto', 'float32', 'bfloat16' or 'float16'.
        max_new_tokens: token budget of one answer; the plan length is capped so that every
            admissible answer fits (None: room for the registry's longest plan, or what the
            model's context leaves after the prompt if that is less).
        max_text_chars: longest free text (message, report text) the model may write.
        temperature: 0 = greedy; > 0 samples with a generator seeded by ``seed``.
        seed: seed of the sampling generator.
        timeout: seconds one proposal may take (None: the registry's planning time limit).
        use_chat_template: use the tokenizer's chat template when it has one.
        num_threads: torch CPU threads (None: leave torch's setting).
    """

    name = 'transformers'

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = 'cpu',
        dtype: str = 'auto',
        max_new_tokens: int | None = None,
        max_text_chars: int = 80,
        temperature: float = 0.0,
        seed: int = 0,
        timeout: float | None = None,
        use_chat_template: bool = True,
        num_threads: int | None = None,
    ) -> None:
        path = Path(model_path).expanduser() if str(model_path) else None
        if path is None or not path.is_dir():
            raise ValueError(f'model_path {str(model_path)!r} is not a folder')
        if not (path / 'config.json').is_file():
            raise ValueError(f'model_path {str(path)!r} is not a model folder (no config.json)')
        if dtype not in _DTYPES:
            raise ValueError(f'dtype {dtype!r} is not one of: {", ".join(_DTYPES)}')
        if max_new_tokens is not None and max_new_tokens < 16:
            raise ValueError(f'max_new_tokens must be >= 16, got {max_new_tokens}')
        if not 1 <= max_text_chars <= 300:
            raise ValueError(f'max_text_chars must be in 1..300, got {max_text_chars}')
        if not (temperature >= 0.0 and math.isfinite(temperature)):
            raise ValueError(f'temperature must be >= 0, got {temperature}')
        if timeout is not None and not timeout > 0:
            raise ValueError(f'timeout must be > 0 seconds, got {timeout}')
        if num_threads is not None:
            torch.set_num_threads(max(1, int(num_threads)))
        self.model_path = path
        self.device = torch.device(device)
        self.max_new_tokens = max_new_tokens
        self.max_text_chars = max_text_chars
        self.temperature = float(temperature)
        self.timeout = timeout
        self.use_chat_template = use_chat_template
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, dtype=_DTYPES[dtype]
            )
        except Exception as exc:  # bad files surface as many error types: name the folder
            raise ValueError(
                f'cannot load a causal language model from {str(path)!r}: {exc}'
            ) from exc
        self.model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
        self.stop_ids = self._stop_token_ids()
        self.vocab_size = self._vocab_size()
        self.context_length = self._context_length()
        info = xgr.TokenizerInfo.from_huggingface(
            self.tokenizer, vocab_size=self.vocab_size, stop_token_ids=sorted(self.stop_ids)
        )
        self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self._generator = torch.Generator(device='cpu').manual_seed(int(seed))
        self._lock = threading.Lock()
        self._bit_shifts = torch.arange(32, dtype=torch.int32)
        self.has_chat_template = bool(getattr(self.tokenizer, 'chat_template', None))
        self.last_prompt = ''
        """The text of the last prompt given to the model (diagnostics)."""
        self.last_output = ''
        """The model's last raw answer (diagnostics)."""
        self.model_calls = 0
        """Number of generations run (a screened instruction runs none)."""

    # -- model facts ---------------------------------------------------------------------------
    def _stop_token_ids(self) -> set[int]:
        ids: set[int] = set()
        candidates: list[Any] = [self.tokenizer.eos_token_id]
        gen = getattr(self.model, 'generation_config', None)
        eos = getattr(gen, 'eos_token_id', None) if gen is not None else None
        candidates += eos if isinstance(eos, list | tuple) else [eos]
        ids = {int(i) for i in candidates if i is not None}
        if not ids:
            raise ValueError(
                f'the model in {str(self.model_path)!r} has no end-of-sequence token '
                '(eos_token_id in the tokenizer or generation_config.json)'
            )
        return ids

    def _vocab_size(self) -> int:
        head = self.model.get_output_embeddings()
        if head is not None and getattr(head, 'weight', None) is not None:
            return int(head.weight.shape[0])
        return int(self.model.config.vocab_size)

    def _context_length(self) -> int | None:
        cfg = self.model.config
        for key in ('max_position_embeddings', 'n_positions', 'max_sequence_length'):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    # -- backend protocol ----------------------------------------------------------------------
    def propose(
        self,
        instruction: str,
        world: WorldSnapshot,
        registry: SkillRegistry,
        feedback: str | None = None,
    ) -> PlanProposal:
        """Screen, prompt, decode under the plan grammar and parse (never raises)."""
        screened = screen_instruction(instruction, registry)
        if screened is not None:
            return screened
        limit = registry.limits.max_planning_time_s
        if self.timeout is not None:
            limit = min(limit, self.timeout)
        try:
            with self._lock:
                text = self._generate(instruction, world, registry, feedback, limit)
        except _DeadlineError:
            return PlanProposal(
                ErrorCode.TIMEOUT, None, f'the model did not finish its answer within {limit:g} s'
            )
        except _GenerationError as exc:
            return PlanProposal(ErrorCode.PLANNING_FAILED, None, str(exc))
        except Exception as exc:  # a model backend must never crash the planner
            return PlanProposal(
                ErrorCode.PLANNING_FAILED, None, f'the model failed: {type(exc).__name__}: {exc}'
            )
        return parse_answer(text, registry, self.name)

    # -- decoding ------------------------------------------------------------------------------
    def _grammar(
        self, registry: SkillRegistry, world: WorldSnapshot, prompt_tokens: int
    ) -> tuple[Any, int]:
        try:
            schema, budget = decoding_schema(
                registry, world, self.max_new_tokens, self.max_text_chars
            )
            room = None if self.context_length is None else self.context_length - prompt_tokens
            if self.max_new_tokens is None and room is not None and budget > room:
                # No budget given: fit the answer (and so the plan length) to the context.
                schema, budget = decoding_schema(registry, world, room, self.max_text_chars)
        except ValueError as exc:
            raise _GenerationError(str(exc)) from None
        key = json.dumps(schema, sort_keys=True)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiler.compile_json_schema(
                schema, any_whitespace=False, separators=(',', ':'), strict_mode=True
            )
            self._compiled[key] = compiled
            while len(self._compiled) > 16:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        return compiled, budget

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        tok = self.tokenizer
        if self.use_chat_template and self.has_chat_template:
            try:
                text = tok.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            except Exception:  # templates without a system role: merge it into the user turn
                merged = [{'role': 'user', 'content': plain_prompt(messages)}]
                text = tok.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
            self.last_prompt = str(text)
            return list(tok(self.last_prompt, add_special_tokens=False)['input_ids'])
        self.last_prompt = plain_prompt(messages)
        return list(tok(self.last_prompt)['input_ids'])

    def _allowed(self, bitmask: torch.Tensor) -> torch.Tensor:
        bits = (bitmask[0].unsqueeze(-1) >> self._bit_shifts) & 1
        return bits.flatten()[: self.vocab_size].bool()

    def _next_logits(self, pending: list[int], cache: Any) -> tuple[torch.Tensor, Any]:
        ids = torch.tensor([pending], dtype=torch.long, device=self.device)
        out = self.model(input_ids=ids, past_key_values=cache, use_cache=True)
        return out.logits[0, -1, : self.vocab_size].float().cpu(), out.past_key_values

    def _choose(self, logits: torch.Tensor, allowed: torch.Tensor) -> int:
        logits = logits.masked_fill(~allowed, float('-inf'))
        if self.temperature <= 0.0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / self.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self._generator))

    def _generate(
        self,
        instruction: str,
        world: WorldSnapshot,
        registry: SkillRegistry,
        feedback: str | None,
        limit: float,
    ) -> str:
        deadline = time.monotonic() + limit
        self.last_output = ''
        prompt = self._encode(build_messages(instruction, world, registry, feedback))
        compiled, budget = self._grammar(registry, world, len(prompt))
        if self.context_length is not None and len(prompt) + budget > self.context_length:
            raise _GenerationError(
                f'the prompt ({len(prompt)} tokens) plus the answer budget ({budget} tokens) '
                f"exceed the model's context of {self.context_length} tokens"
            )
        self.model_calls += 1
        matcher = xgr.GrammarMatcher(compiled)
        bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)
        stop = torch.zeros(self.vocab_size, dtype=torch.bool)
        stop[[i for i in self.stop_ids if i < self.vocab_size]] = True
        out: list[int] = []
        pending = prompt
        cache: Any = None
        with torch.inference_mode():
            while True:
                if time.monotonic() > deadline:
                    raise _DeadlineError()
                matcher.fill_next_token_bitmask(bitmask)
                allowed = self._allowed(bitmask)
                if not bool(allowed.any()):
                    raise _GenerationError(
                        'the grammar allows no next token (tokenizer mismatch?)'
                    )
                if not bool((allowed & ~stop).any()):
                    break  # the answer is complete: only end-of-sequence remains
                if len(out) >= budget:
                    raise _GenerationError(f'the answer did not end within {budget} tokens')
                candidates = allowed.nonzero()
                if len(candidates) == 1:
                    token = int(candidates[0, 0])  # forced by the grammar: no forward pass
                else:
                    logits, cache = self._next_logits(pending, cache)
                    pending = []
                    token = self._choose(logits, allowed)
                if not matcher.accept_token(token):
                    raise _GenerationError(f'the grammar refused token {token}')
                out.append(token)
                pending.append(token)
        self.last_output = str(self.tokenizer.decode(out, skip_special_tokens=True))
        return self.last_output


__all__ = ['TransformersPlanner']
