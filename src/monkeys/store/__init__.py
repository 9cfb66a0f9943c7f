"""The run store: one SQLite file per run directory (see `db`, `migrations`, `writer`, `read`)."""

from monkeys.store.db import DB_NAME, connect, private_file, store_path
from monkeys.store.read import (
    Results,
    iter_samples,
    read_meta,
    read_problems,
    read_results,
    sample_indices,
    unscored_samples,
    unverified_samples,
)
from monkeys.store.writer import StoreWriter, write_meta, write_problems

__all__ = [
    "DB_NAME", "Results", "StoreWriter", "connect", "iter_samples", "private_file", "read_meta", "read_problems",
    "read_results", "sample_indices", "store_path", "unscored_samples", "unverified_samples", "write_meta",
    "write_problems",
]
