"""Paying for Fontana APIs: budgets, a UTXO pool shared by concurrent calls, HTTP clients."""
