"""An asset: one machine at a customer's site, known by its nameplate number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


def asset_key(asset_id: str) -> str:
    """Lookups ignore case: ``hx-2000-01`` finds ``HX-2000-01``."""
    return asset_id.strip().upper()


@dataclass(frozen=True, kw_only=True)
class Asset:
    id: str
    model: str
    customer: str = ""  # a person or an organisation
    site_address: str = ""
    region: str = ""
    install_date: date | None = None
    warranty_end: date | None = None
    contract_end: date | None = None  # a service contract: jobs are free to the customer
    notes: str = ""

    def under_warranty(self, on: date) -> bool:
        return self.warranty_end is not None and on <= self.warranty_end

    def under_contract(self, on: date) -> bool:
        return self.contract_end is not None and on <= self.contract_end

    def free_reason(self, on: date) -> str:
        """ "warranty", "contract" or "" on that day (warranty first)."""
        if self.under_warranty(on):
            return "warranty"
        if self.under_contract(on):
            return "contract"
        return ""
