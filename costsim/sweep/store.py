"""The results store: a directory of Parquet files (one per flushed batch), queried with DuckDB.

Each batch is written to a hidden temp file and renamed into place (atomic on POSIX), so a
killed process leaves either the whole batch or nothing; re-running the sweep skips every stored
point id (resume). `manifest.json` records what the sweep was (scenario, grid, seeds, ...).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterable

from costsim.errors import InputError

PATTERN = "points-*.parquet"
TABLE = "points"


def _column(values: list[Any]):
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else (json.dumps(v, default=str) if not isinstance(v, str) else v) for v in values], pa.string())


def rows_to_table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    names: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                names.append(k)
    return pa.table({k: _column([r.get(k) for r in rows]) for k in names})


class ResultStore:
    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create sweep output directory '{self.dir}': {exc.strerror}; pass a writable --out.", field="--out") from None

    def files(self) -> list[Path]:
        return sorted(self.dir.glob(PATTERN))

    def finished_ids(self) -> set[str]:
        import pyarrow.parquet as pq

        ids: set[str] = set()
        for f in self.files():
            ids.update(pq.read_table(f, columns=["point_id"]).column("point_id").to_pylist())
        return ids

    def append(self, rows: list[dict[str, Any]]) -> Path | None:
        """Write rows as one new Parquet file, atomically (temp file + rename)."""
        import pyarrow.parquet as pq

        if not rows:
            return None
        name = f"points-{uuid.uuid4().hex}.parquet"
        tmp = self.dir / f".{name}.tmp"
        pq.write_table(rows_to_table(rows), tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / name)
        return self.dir / name

    def write_manifest(self, doc: dict[str, Any]) -> None:
        tmp = self.dir / ".manifest.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2, default=str))
        os.replace(tmp, self.dir / "manifest.json")

    def manifest(self) -> dict[str, Any] | None:
        p = self.dir / "manifest.json"
        return json.loads(p.read_text()) if p.is_file() else None


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(directory: str | os.PathLike[str]):
    """A sandboxed DuckDB connection with the view `points` over every stored batch: it may read
    only those Parquet files (allowed_paths), no other file, URL or extension
    (enable_external_access=false), and the query cannot change that (lock_configuration)."""
    import duckdb

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"sweep directory '{d}' does not exist; give the --out of a `costsim sweep`.", field="DIR")
    files = sorted(str(f.resolve()) for f in d.glob(PATTERN))
    if not files:
        raise InputError(f"sweep directory '{d}' holds no results ({PATTERN}); run `costsim sweep ... --out {d}` first.", field="DIR")
    lst = ", ".join(_sql_str(f) for f in files)
    con = duckdb.connect()
    try:
        con.execute(f"SET allowed_paths=[{lst}]")
        con.execute("SET enable_external_access=false")
        con.execute("SET autoinstall_known_extensions=false")
        con.execute("SET autoload_known_extensions=false")
        con.execute("SET lock_configuration=true")
        con.execute(f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet([{lst}], union_by_name=true)")
    except duckdb.Error as exc:
        con.close()
        first = str(exc).splitlines()[0]
        raise InputError(f"cannot open the results in '{d}' with DuckDB: {first}. Re-run the sweep into a new --out.", field="DIR") from None
    return con


def query(directory: str | os.PathLike[str], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL over the `points` table; returns (column names, rows). Bad SQL -> InputError."""
    import duckdb

    con = connect(directory)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"query failed: {first}. The table is named '{TABLE}'; `SELECT * FROM {TABLE} LIMIT 5` shows its columns.", field="SQL") from None
    finally:
        con.close()


def load_rows(directory: str | os.PathLike[str], columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    import duckdb

    con = connect(directory)
    try:
        sel = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        cur = con.execute(f"SELECT {sel} FROM {TABLE} ORDER BY point_id, variant")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    except duckdb.Error as exc:
        raise InputError(f"cannot read the results in '{directory}': {str(exc).splitlines()[0]}.", field="DIR") from None
    finally:
        con.close()
