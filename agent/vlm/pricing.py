"""Tokens to dollars from a per-model price table.

Prices are US dollars per million tokens, input and output separately. The built-in table holds a
few public list prices and goes stale; a config file or ``SCULPT_VLM_PRICES`` overrides it. A model
that is in neither (a local vLLM or Ollama model, or a new one) costs 0, and :func:`cost` says the
price was unknown so the caller can tell the person instead of reporting a silent zero.
"""
from __future__ import annotations

from pydantic import BaseModel, Field


class Price(BaseModel):
    """Dollars per million tokens."""

    input: float = Field(ge=0.0)
    output: float = Field(ge=0.0)


# Public list prices (USD per 1M tokens) at the time of writing; override them in the config.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
}


def find_price(model: str, table: dict[str, Price]) -> Price | None:
    """The price of ``model``: an exact entry, else the longest entry the name starts with.

    Prefix matching lets dated snapshots ("gpt-4o-2024-08-06") use their family's price, and
    taking the longest prefix keeps "gpt-4o-mini" from being priced as "gpt-4o".
    """
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


def cost(model: str, input_tokens: int, output_tokens: int, table: dict[str, Price]) -> tuple[float, bool]:
    """(dollars, known): the cost of one call, and whether the model had a price."""
    price = find_price(model, table)
    if price is None:
        return 0.0, False
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000, True
