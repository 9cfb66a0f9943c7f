"""The run store: one SQLite file per run directory (see `db`, `migrations`, `writer`, `read`).

Writers (`run`, `import`) open it with `connect`, which creates and migrates; readers (`report`, `export`)
with `open_readonly` or `read_store`, which never write or migrate and refuse what is not a monkeys store.
"""

from monkeys.store.db import (
    DB_NAME,
    StoreReader,
    blank_store,
    connect,
    open_readonly,
    private_file,
    read_store,
    store_path,
)
from monkeys.store.read import (
    Results,
    iter_samples,
    read_config,
    read_meta,
    read_problems,
    read_results,
    run_verifier,
    sample_indices,
    scorers,
    solved_problems,
    unscored_samples,
    unverified_samples,
    verifiers,
)
from monkeys.store.writer import StoreWriter, write_meta, write_problems

__all__ = [
    "DB_NAME", "Results", "StoreReader", "StoreWriter", "blank_store", "connect", "iter_samples", "open_readonly",
    "private_file",
    "read_config", "read_meta", "read_problems", "read_results", "read_store", "run_verifier", "sample_indices",
    "scorers", "solved_problems", "store_path", "unscored_samples", "unverified_samples", "verifiers", "write_meta",
    "write_problems",
]
