"""``provider/name`` → the OpenAI-compatible server, its API key variable and known prices.

Every provider here speaks the OpenAI chat-completions API, so one client serves them all.
Keys are read from the provider's usual environment variable and never leave this module's
``Endpoint`` (it does not print them).
"""

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from lmsys_pipeline.errors import UserError


@dataclass(frozen=True)
class Provider:
    base_url: str | None
    key_env: str | None
    key_required: bool
    self_hosted: bool = False


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(None, "OPENAI_API_KEY", key_required=True),
    "anthropic": Provider("https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY", True),
    "gemini": Provider(
        "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", True
    ),
    "openrouter": Provider("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True),
    "groq": Provider("https://api.groq.com/openai/v1", "GROQ_API_KEY", True),
    "together": Provider("https://api.together.xyz/v1", "TOGETHER_API_KEY", True),
    "ollama": Provider("http://localhost:11434/v1", None, False, self_hosted=True),
    "vllm": Provider("http://localhost:8000/v1", "VLLM_API_KEY", False, self_hosted=True),
    "litellm": Provider("http://localhost:4000/v1", "LITELLM_API_KEY", False, self_hosted=True),
}

# USD per million tokens (input, output), list prices as of 2026-11; matched by name prefix.
PRICES: dict[str, tuple[float, float]] = {
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4o": (2.50, 10.00),
    "openai/gpt-4.1-nano": (0.10, 0.40),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/gpt-4.1": (2.00, 8.00),
    "openai/gpt-5-mini": (0.25, 2.00),
    "openai/gpt-5-nano": (0.05, 0.40),
    "anthropic/claude-haiku-4-5": (1.00, 5.00),
    "anthropic/claude-sonnet-4-5": (3.00, 15.00),
    "anthropic/claude-sonnet-4": (3.00, 15.00),
    "anthropic/claude-opus-4-1": (15.00, 75.00),
}


class ProviderError(UserError, ValueError):
    pass


@dataclass(frozen=True)
class Endpoint:
    model: str
    remote_model: str
    base_url: str | None
    api_key: str = field(repr=False)

    @property
    def public_base_url(self) -> str:
        return public_url(self.base_url) if self.base_url else "https://api.openai.com/v1"

    @property
    def server(self) -> str:
        """Who answers, as part of every cached answer's key: the URL without credentials,
        query or trailing slash (so ``.../v1/`` and ``.../v1`` are one server)."""
        return self.public_base_url.rstrip("/")


def public_url(url: str) -> str:
    """The URL without user, password, query or fragment (they may hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def resolve_endpoint(
    model: str, base_url: str | None = None, *, api_key: str | None = None
) -> Endpoint:
    """Where ``model`` is served and with which key; one-sentence ``ProviderError`` if the
    provider is unknown or its key is missing. The URL comes from ``base_url``, then
    $OPENAI_BASE_URL (OpenAI and self-hosted servers), then the provider's own; the key from
    ``api_key``, then the provider's variable."""
    provider_name, _, remote_model = model.partition("/")
    provider = PROVIDERS.get(provider_name.lower())
    if provider is None:
        raise ProviderError(
            f"Unknown provider {provider_name!r} in {model}: use one of "
            f"{', '.join(sorted(PROVIDERS))} (or local/keyphrase for offline summaries)."
        )
    shared_url = (
        os.environ.get("OPENAI_BASE_URL")
        if (provider.self_hosted or provider_name == "openai")
        else None
    )
    url = base_url or shared_url or provider.base_url
    key = api_key or (os.environ.get(provider.key_env, "") if provider.key_env else "")
    if not key and provider_name == "openai" and url:
        key = "not-needed"  # a self-hosted server given by --base-url / OPENAI_BASE_URL
    if not key and provider.key_required:
        raise ProviderError(
            f"Model {model} needs {provider.key_env} in the environment (or --base-url for a "
            "self-hosted OpenAI-compatible server)."
        )
    return Endpoint(model, remote_model, url, key or "not-needed")


def known_price(model: str) -> tuple[float, float] | None:
    matches = [prefix for prefix in PRICES if model.lower().startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def estimate_cost(
    model: str,
    tokens_in: int,
    tokens_out: int,
    price: tuple[float | None, float | None] = (None, None),
) -> float | None:
    """USD for the tokens, or None when the price is not known (self-hosted, unlisted)."""
    price_in, price_out = price
    if price_in is None or price_out is None:
        listed = known_price(model)
        if listed is None:
            return None
        price_in = listed[0] if price_in is None else price_in
        price_out = listed[1] if price_out is None else price_out
    return round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)
