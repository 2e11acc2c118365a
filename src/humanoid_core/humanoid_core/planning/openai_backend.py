"""The `openai` planner backend: any OpenAI-compatible chat-completions server (vLLM, Ollama,
llama.cpp server, OpenAI).

    make_backend('openai', base_url='http://127.0.0.1:8000/v1', model='qwen2.5-7b-instruct')

The answer is requested as structured output with the plan JSON schema (skills from the
registry, ids of the objects and places in view as enums). A server that rejects
``response_format: json_schema`` (HTTP 400/422) is asked again with ``json_object``, then with
no response format; the mode that works is kept. Every answer is parsed and validated the same
way (:func:`humanoid_core.planning.model_io.parse_answer`, then the validator in the repair
loop). Server errors (5xx, 429, connection) are retried with backoff; a request that does not
answer in time gives TIMEOUT; nothing raises out of :meth:`OpenAIPlanner.propose`.

Defaults from the environment: ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` (else the server's first
model from ``GET /models``), ``OPENAI_API_KEY`` (local servers accept any key).
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any
from urllib.parse import urlparse

import openai

from humanoid_core.planning.backends import plan_json_schema
from humanoid_core.planning.errors import ErrorCode
from humanoid_core.planning.model_io import build_messages, parse_answer, screen_instruction
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import PlanProposal
from humanoid_core.world.types import WorldSnapshot

RESPONSE_FORMATS = ('auto', 'json_schema', 'json_object', 'text')
"""'auto' tries json_schema, then json_object, then text, keeping the first that works."""
_FALLBACK = {'json_schema': 'json_object', 'json_object': 'text'}
_RETRYABLE = (openai.InternalServerError, openai.RateLimitError, openai.APIConnectionError)


class _ProposalError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _error_text(exc: Exception) -> str:
    status = getattr(exc, 'status_code', None)
    body = getattr(exc, 'body', None)
    detail = ''
    if isinstance(body, dict):
        err = body.get('error', body)
        detail = str(err.get('message', err) if isinstance(err, dict) else err)
    detail = detail or str(exc)
    detail = ' '.join(detail.split())[:200]
    return f'HTTP {status}: {detail}' if status else f'{type(exc).__name__}: {detail}'


class OpenAIPlanner:
    """Planner backend 'openai' (see the module docstring).

    Args:
        base_url: the server's API root, e.g. http://127.0.0.1:8000/v1 (env OPENAI_BASE_URL).
        model: model name on the server (env OPENAI_MODEL; else the first one it lists).
        api_key: the key (env OPENAI_API_KEY; 'none' for servers without keys).
        timeout: seconds one request may take (also bounded by the planning time limit).
        max_retries: extra attempts on HTTP 5xx/429 and connection errors (not on timeouts).
        response_format: 'auto', 'json_schema', 'json_object' or 'text'.
        temperature: sampling temperature sent to the server.
        max_tokens: answer length limit sent to the server.
        seed: sent to the server (servers that support it sample reproducibly).
    """

    name = 'openai'

    def __init__(
        self,
        base_url: str = '',
        model: str = '',
        api_key: str | None = None,
        timeout: float = 30.0,
        *,
        max_retries: int = 2,
        response_format: str = 'auto',
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        retry_backoff: float = 0.5,
    ) -> None:
        base_url = (base_url or os.environ.get('OPENAI_BASE_URL', '')).strip()
        if not base_url:
            raise ValueError(
                'base_url is required (or env OPENAI_BASE_URL), e.g. http://127.0.0.1:8000/v1'
            )
        url = urlparse(base_url)
        if url.scheme not in ('http', 'https') or not url.netloc:
            raise ValueError(f'base_url {base_url!r} must be an http(s) URL')
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f'timeout must be > 0 seconds, got {timeout}')
        if max_retries < 0:
            raise ValueError(f'max_retries must be >= 0, got {max_retries}')
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(
                f'response_format {response_format!r} is not one of: {", ".join(RESPONSE_FORMATS)}'
            )
        if max_tokens < 16:
            raise ValueError(f'max_tokens must be >= 16, got {max_tokens}')
        self.base_url = base_url
        self.model = model or os.environ.get('OPENAI_MODEL', '')
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.seed = seed
        self.retry_backoff = float(retry_backoff)
        self.auto_format = response_format == 'auto'
        self.mode = 'json_schema' if self.auto_format else response_format
        """The response format in use (after any fallback)."""
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get('OPENAI_API_KEY') or 'none',
            timeout=self.timeout,
            max_retries=0,  # retries are ours, bounded by the planning time limit
        )
        self._lock = threading.Lock()
        self.last_output = ''
        """The model's last raw answer (diagnostics)."""
        self.requests = 0
        """Requests sent to the server (a screened instruction sends none)."""

    # -- backend protocol ----------------------------------------------------------------------
    def propose(
        self,
        instruction: str,
        world: WorldSnapshot,
        registry: SkillRegistry,
        feedback: str | None = None,
    ) -> PlanProposal:
        """Screen, ask the server for a plan in structured output, parse (never raises)."""
        screened = screen_instruction(instruction, registry)
        if screened is not None:
            return screened
        deadline = time.monotonic() + registry.limits.max_planning_time_s
        messages = build_messages(instruction, world, registry, feedback)
        schema = plan_json_schema(registry, world)
        try:
            model = self._model_name(deadline)
            text, finish = self._complete(model, messages, schema, deadline)
        except _ProposalError as exc:
            return PlanProposal(exc.code, None, exc.message)
        except Exception as exc:  # a model backend must never crash the planner
            return PlanProposal(
                ErrorCode.PLANNING_FAILED,
                None,
                f'the model server call failed: {type(exc).__name__}: {exc}',
            )
        self.last_output = text or ''
        if finish == 'length':
            return PlanProposal(
                ErrorCode.PLANNING_FAILED,
                None,
                f'the answer was cut off at max_tokens={self.max_tokens}',
            )
        return parse_answer(text, registry, self.name)

    # -- requests ------------------------------------------------------------------------------
    def _request_timeout(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _ProposalError(ErrorCode.TIMEOUT, 'the planning time limit was reached')
        return min(self.timeout, remaining)

    def _with_retries(self, call: Any, deadline: float) -> Any:
        delay = self.retry_backoff
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            timeout = self._request_timeout(deadline)
            self.requests += 1
            try:
                return call(timeout)
            except openai.APITimeoutError:
                raise _ProposalError(
                    ErrorCode.TIMEOUT,
                    f'the model server at {self.base_url} did not answer within {timeout:.3g} s',
                ) from None
            except _RETRYABLE as exc:
                last = exc
                if attempt == self.max_retries:
                    break
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay *= 2.0
            except openai.AuthenticationError as exc:
                raise _ProposalError(
                    ErrorCode.PLANNING_FAILED,
                    f'the model server refused the API key ({_error_text(exc)}); set it in the '
                    'environment variable named by api_key_env (default OPENAI_API_KEY)',
                ) from None
            except openai.NotFoundError as exc:
                raise _ProposalError(
                    ErrorCode.PLANNING_FAILED,
                    f'model {self.model!r} or endpoint not found at {self.base_url} '
                    f'({_error_text(exc)})',
                ) from None
        assert last is not None
        raise _ProposalError(
            ErrorCode.PLANNING_FAILED,
            f'the model server at {self.base_url} failed {self.max_retries + 1} time(s): '
            f'{_error_text(last)}',
        )

    def _model_name(self, deadline: float) -> str:
        with self._lock:
            if self.model:
                return self.model

            def call(timeout: float) -> Any:
                return self._client.models.list(timeout=timeout)

            listed = [m.id for m in self._with_retries(call, deadline).data]
            if not listed:
                raise _ProposalError(
                    ErrorCode.PLANNING_FAILED,
                    f'no model given (parameter model / env OPENAI_MODEL) and the server at '
                    f'{self.base_url} lists none',
                )
            self.model = str(listed[0])
            return self.model

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        if self.mode == 'json_schema':
            return {
                'type': 'json_schema',
                'json_schema': {'name': 'robot_plan', 'schema': schema, 'strict': False},
            }
        if self.mode == 'json_object':
            return {'type': 'json_object'}
        return None

    def _complete(
        self,
        model: str,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        deadline: float,
    ) -> tuple[str | None, str | None]:
        while True:
            mode = self.mode
            kwargs: dict[str, Any] = {
                'model': model,
                'messages': messages,
                'temperature': self.temperature,
                'max_tokens': self.max_tokens,
            }
            fmt = self._response_format(schema)
            if fmt is not None:
                kwargs['response_format'] = fmt
            if self.seed is not None:
                kwargs['seed'] = self.seed

            def call(timeout: float, kwargs: dict[str, Any] = kwargs) -> Any:
                return self._client.chat.completions.create(**kwargs, timeout=timeout)

            try:
                response = self._with_retries(call, deadline)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self.auto_format and mode in _FALLBACK:
                    # The server does not take this response_format: fall back for good.
                    with self._lock:
                        if self.mode == mode:
                            self.mode = _FALLBACK[mode]
                    continue
                raise _ProposalError(
                    ErrorCode.PLANNING_FAILED,
                    f'the model server rejected the request ({_error_text(exc)})',
                ) from None
            if not response.choices:
                raise _ProposalError(
                    ErrorCode.PLANNING_FAILED, 'the model server returned no choices'
                )
            choice = response.choices[0]
            message = choice.message
            refusal = getattr(message, 'refusal', None)
            if refusal and not message.content:
                raise _ProposalError(
                    ErrorCode.REJECTED, f'the model refused: {str(refusal)[:300]}'
                )
            return message.content, choice.finish_reason


__all__ = ['RESPONSE_FORMATS', 'OpenAIPlanner']
