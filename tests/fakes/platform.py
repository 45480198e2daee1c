"""A ChatPlatform kept in memory, scriptable to fail: for relay tests before the real adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.ports import Permanent, Receipt, Retryable, Target
from cards.model import Card


@dataclass
class RecordingPlatform:
    name: str = "fake"
    sent: list[tuple[str, Target, object]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # raised in order, one per call

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def send_text(self, target: Target, text: str) -> Receipt:
        self._maybe_fail()
        self.sent.append(("text", target, text))
        return Receipt(platform=self.name, target=target, message_id=f"m{len(self.sent)}")

    async def send_card(self, target: Target, card: Card) -> Receipt:
        self._maybe_fail()
        self.sent.append(("card", target, card))
        return Receipt(
            platform=self.name, target=target, card_key=card.key, message_id=f"m{len(self.sent)}"
        )

    async def update_card(self, receipt: Receipt, card: Card) -> Receipt:
        self._maybe_fail()
        self.sent.append(("update", receipt.target, card))
        return receipt.model_copy(update={"response_code": ""})

    def fail_retryable(self, times: int = 1, retry_after: float | None = None) -> None:
        self.failures.extend(Retryable("scripted", retry_after=retry_after) for _ in range(times))

    def fail_permanent(self) -> None:
        self.failures.append(Permanent("scripted permanent"))
