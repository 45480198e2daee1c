"""The asset registry (CONTRACT §10): machines by nameplate number, their QR tokens and history."""
