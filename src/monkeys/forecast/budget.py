"""What a forecast k costs: samples, tokens, FLOPs and dollars, priced as `monkeys report` prices a run.

k samples per problem cost k times one round (one sample of every problem): `analysis.cost.run_cost` gives a
round's FLOPs (the model table, or a pricing file's shapes) and dollars (the pricing file), from the pilot's
mean prompt and completion tokens per sample. Every cost is monotone in k, so the ends of k's interval are
the ends of each cost's interval; a k the forecast cannot bound gives a cost it cannot bound (None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from monkeys.analysis.cost import ModelSpec, Price, RunCost, TokenStats, find_model, find_price, run_cost


@dataclass(frozen=True)
class Span:
    """A forecast quantity: point and interval; None where it cannot be bounded (not reached on the grid)."""

    point: float | None
    lo: float | None
    hi: float | None

    def scaled(self, factor: float | None) -> Span:
        if factor is None:
            return Span(None, None, None)
        return Span(*(None if v is None else v * factor for v in (self.point, self.lo, self.hi)))

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.point, "lo": self.lo, "hi": self.hi}


def finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Budget:
    """Cost of k samples per problem for every problem of the pilot."""

    k: Span
    samples: Span
    tokens: Span
    flops: Span
    usd: Span
    unknown: dict[str, str] = field(default_factory=dict)  # why tokens/flops/usd cannot be given, by name


NO_TOKENS = "the run's samples record no token counts (an import of outcomes without them)"
NO_SHAPE = "unknown model shape (add parameters, layers, hidden to a --pricing file)"
NO_PRICE = "no price for this model (give a --pricing file)"


def round_cost(model: str, tokens: TokenStats, problems: int, prices: dict[str, Price] | None,
               specs: dict[str, ModelSpec] | None) -> RunCost:
    """One sample of every problem, priced like the report (`analysis.cost.run_cost`)."""
    price = find_price(model, prices) if prices else None
    return run_cost(model, tokens, problems, spec=find_model(model, specs), price=price)


def budget(k: tuple[float, float, float], problems: int, tokens: TokenStats, cost: RunCost) -> Budget:
    """Samples, tokens, FLOPs and dollars of (point, lo, hi) samples per problem; a run whose samples carry no
    token counts (imported outcomes) gets no tokens, FLOPs or dollars rather than zeros."""
    span = Span(*(finite(v) for v in k))
    per_sample = tokens.prompt + tokens.completion if tokens.samples else 0.0
    if per_sample <= 0:
        unknown = dict.fromkeys(("tokens", "flops", "usd"), NO_TOKENS)
        return Budget(span, span.scaled(problems), span.scaled(None), span.scaled(None), span.scaled(None), unknown)
    unknown = {}
    if cost.flops_per_round is None:
        unknown["flops"] = NO_SHAPE
    if cost.usd_per_round is None:
        unknown["usd"] = NO_PRICE
    return Budget(span, span.scaled(problems), span.scaled(per_sample * problems),
                  span.scaled(cost.flops_per_round), span.scaled(cost.usd_per_round), unknown)
