"""The results store: a directory of Parquet files partitioned by scenario and variant, queried
with DuckDB.

Layout (hive-style directory names; the columns scenario_hash and variant are in every file too):

    OUT/manifest.json
    OUT/points/scenario=<scenario hash>/variant=<variant, %-quoted>/part-<id>.parquet
    OUT/points-*.parquet            (stores written before partitioning; still read)

Each file is written to a hidden temp file and renamed into place (atomic on POSIX), so a killed
process leaves either the whole file or nothing; re-running the sweep skips every stored point id
(resume). A batched work unit is written under a name derived from its first point id and size,
so a retried unit replaces its own file instead of adding a duplicate.

Compaction (`compact`, run at the end of every sweep): the small files of a partition (per-point
sweeps flush every 256 points or 2 s) are merged into files of up to COMPACT_TARGET_ROWS rows. A
journal `.compact-<id>.json` names the new file and the files it replaces; a compaction killed at
any moment is rolled forward (new file in place: the old ones are deleted) or back (no new file:
the old ones stay) the next time the store is opened or queried, so no point is lost or counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from costsim.errors import InputError
from costsim.specs.overrides import short_text

PATTERN = "points-*.parquet"  # legacy (unpartitioned) files
PARTITIONED = "points/*/*/*.parquet"
TABLE = "points"
DESIGN = "design.parquet"
COMPACT_SMALL_ROWS = 10_000  # files with fewer rows are merged
COMPACT_TARGET_ROWS = 2_000_000
COMPACT_MIN_FILES = 8  # a partition with fewer small files is left alone
_MAX_PART_NAME = 96


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


def _part_name(key: str, value: Any) -> str:
    text = "_" if value is None else str(value)
    q = quote(text, safe="")
    if len(q) > _MAX_PART_NAME:  # long names: a readable prefix + a hash (the column keeps the full text)
        q = q[:48] + "~" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{key}={q}"


def partition_dir(root: Path, scenario_hash: Any, variant: Any) -> Path:
    return root / "points" / _part_name("scenario", scenario_hash) / _part_name("variant", variant)


def result_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Every Parquet results file of a store (legacy and partitioned), sorted."""
    d = Path(directory)
    return sorted(d.glob(PATTERN)) + sorted(d.glob(PARTITIONED))


def recover(directory: str | os.PathLike[str]) -> int:
    """Finish or undo compactions a killed process left half done; returns how many it found."""
    d = Path(directory)
    n = 0
    for j in sorted(d.glob("points/*/*/.compact-*.json")):
        n += 1
        try:
            doc = json.loads(j.read_text())
        except (OSError, json.JSONDecodeError):
            doc = None  # the journal is written atomically; an unreadable one predates its rename: nothing happened
        if doc is not None:
            new = j.parent / doc["new"]
            if new.is_file():  # roll forward: the merged file is in place, drop what it replaces
                for old in doc["old"]:
                    (j.parent / old).unlink(missing_ok=True)
            (j.parent / f".{doc['new']}.tmp").unlink(missing_ok=True)
        j.unlink(missing_ok=True)
    return n


def _encoding(table) -> dict[str, Any]:
    """Parquet options: dictionary-encode text, flags, integers and constant columns (cheap and
    compact); write varying floats plainly (a dictionary attempt on them costs time and is then
    dropped); min/max statistics on the key and parameter columns (what queries filter on)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dict_cols, stats = [], []
    for f in table.schema:
        t = f.type
        name = f.name
        if name.startswith("param_") or name in ("point_id", "scenario_hash", "variant", "seed", "status", "sample_index", "sample_block"):
            stats.append(name)
        if not pa.types.is_floating(t):
            dict_cols.append(name)
            continue
        col = table.column(name)
        if col.null_count == len(col):
            dict_cols.append(name)
            continue
        mm = pc.min_max(col)
        if mm["min"].as_py() == mm["max"].as_py():
            dict_cols.append(name)
    return {"use_dictionary": dict_cols, "write_statistics": stats, "compression": "snappy"}


def _partition_typed(table):
    """The `variant` column as a dictionary of strings, the type pandas / pyarrow give the variant=<name> directory
    level of the hive layout: with a plain string column, pandas.read_parquet(DIR/points) refused to merge the two."""
    import pyarrow as pa

    i = table.schema.get_field_index("variant")
    if i < 0 or not pa.types.is_string(table.schema.field(i).type):
        return table
    typ = pa.dictionary(pa.int32(), pa.string())
    return table.set_column(i, pa.field("variant", typ), table.column(i).dictionary_encode().cast(typ))


def _write_atomic(table, path: Path) -> Path:
    import pyarrow.parquet as pq

    table = _partition_typed(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **_encoding(table))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


class ResultStore:
    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create sweep output directory '{self.dir}': {exc.strerror}; pass a writable --out.", field="--out") from None
        recover(self.dir)

    def files(self) -> list[Path]:
        return result_files(self.dir)

    def finished_ids(self) -> set[str]:
        import pyarrow.parquet as pq

        ids: set[str] = set()
        for f in self.files():
            ids.update(pq.read_table(f, columns=["point_id"]).column("point_id").to_pylist())
        return ids

    def finished_id_array(self):
        """Every stored point id as a numpy array of 16-byte strings (for large stores)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        chunks = []
        for f in self.files():
            col = pq.read_table(f, columns=["point_id"]).column("point_id")
            for arr in col.cast(pa.large_binary()).chunks:
                if len(arr) == 0:
                    continue
                _, offs, data = arr.buffers()
                o = np.frombuffer(offs, dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
                if arr.null_count == 0 and np.all(np.diff(o) == 16):  # the usual case: read the bytes as they lie
                    chunks.append(np.frombuffer(data, dtype=np.uint8)[o[0]:o[-1]].copy().view("S16"))
                else:
                    chunks.append(np.asarray([b or b"" for b in arr.to_pylist()], dtype="S16"))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype="S16")

    def append(self, rows: list[dict[str, Any]]) -> Path | None:
        """Write rows atomically, one new Parquet file per (scenario, variant) partition."""
        if not rows:
            return None
        parts: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        for r in rows:
            parts.setdefault((r.get("scenario_hash"), r.get("variant")), []).append(r)
        last = None
        for (h, v), rs in parts.items():
            last = _write_atomic(rows_to_table(rs), partition_dir(self.dir, h, v) / f"part-{uuid.uuid4().hex}.parquet")
        return last

    def append_table(self, table, *, scenario_hash: Any, variant: Any, name: str | None = None) -> Path | None:
        """Write one Arrow table (all rows of one partition) atomically. A given `name` makes the
        write idempotent: the same work unit written twice leaves one file."""
        if table.num_rows == 0:
            return None
        fname = f"part-{name}.parquet" if name else f"part-{uuid.uuid4().hex}.parquet"
        return _write_atomic(table, partition_dir(self.dir, scenario_hash, variant) / fname)

    def compact(self, *, small_rows: int = COMPACT_SMALL_ROWS, target_rows: int = COMPACT_TARGET_ROWS,
                min_files: int = COMPACT_MIN_FILES) -> dict[str, int]:
        """Merge the small files of each partition (see the module docstring). Returns counts."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        merged = removed = 0
        for part in sorted(p for p in self.dir.glob("points/*/*") if p.is_dir()):
            small = []
            for f in sorted(part.glob("part-*.parquet")):
                n = pq.ParquetFile(f).metadata.num_rows
                if n < small_rows:
                    small.append((f, n))
            if len(small) < min_files:
                continue
            batch: list[Path] = []
            rows = 0
            groups: list[list[Path]] = []
            for f, n in small:
                if batch and rows + n > target_rows:
                    groups.append(batch)
                    batch, rows = [], 0
                batch.append(f)
                rows += n
            if batch:
                groups.append(batch)
            for g in groups:
                if len(g) < 2:
                    continue
                tables = [pq.read_table(f) for f in g]
                try:
                    table = pa.concat_tables(tables, promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    continue  # a column with incompatible types in two files: leave them as they are
                new = f"part-c{uuid.uuid4().hex}.parquet"
                journal = part / f".compact-{uuid.uuid4().hex}.json"
                jtmp = part / f".{journal.name}.tmp"
                jtmp.write_text(json.dumps({"new": new, "old": [f.name for f in g]}))
                os.replace(jtmp, journal)
                _write_atomic(table, part / new)
                for f in g:
                    f.unlink(missing_ok=True)
                journal.unlink(missing_ok=True)
                merged += 1
                removed += len(g)
        return {"files_written": merged, "files_merged": removed, "files_conformed": self.conform_schemas()}

    def conform_schemas(self) -> int:
        """Give every file of the store the same columns and types (their union), rewriting the files that differ;
        returns how many it rewrote. pandas.read_parquet(DIR/points) and pyarrow take the schema of the first file
        they meet: a file of failed points only (11 columns, or metrics typed null) made them refuse the dataset
        ('Unsupported cast from double to null') or silently drop every column that file lacks. A column with
        incompatible types in two files leaves the store as it is (DuckDB's union_by_name still reads it)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self.files()
        schemas = [pq.read_schema(f).remove_metadata() for f in files]
        if len(files) < 2 or all(s.equals(schemas[0]) for s in schemas[1:]):
            return 0
        try:
            union = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return 0
        n = 0
        for f, schema in zip(files, schemas):
            if schema.equals(union):
                continue
            table = pq.read_table(f)
            try:
                cols = [table.column(fld.name).cast(fld.type) if fld.name in schema.names else pa.nulls(table.num_rows, fld.type)
                        for fld in union]
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                continue
            _write_atomic(pa.Table.from_arrays(cols, schema=union), f)
            n += 1
        return n

    def write_design(self, columns: dict[str, Any]) -> Path:
        """design.parquet: every position of an uncertainty design (point_id, variant, sample_index,
        sample_block), repeated points included; `costsim query` sees it as the table `design`."""
        import pyarrow as pa

        cols = {}
        for k, v in columns.items():
            if hasattr(v, "dtype") and v.dtype.kind == "S":
                cols[k] = pa.array(v, pa.binary()).cast(pa.string())
            else:
                cols[k] = pa.array(list(v) if hasattr(v, "dtype") and v.dtype == object else v)
        return _write_atomic(pa.table(cols), self.dir / DESIGN)

    def write_manifest(self, doc: dict[str, Any]) -> None:
        tmp = self.dir / ".manifest.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2, default=str))
        os.replace(tmp, self.dir / "manifest.json")

    def manifest(self) -> dict[str, Any] | None:
        p = self.dir / "manifest.json"
        return json.loads(p.read_text()) if p.is_file() else None


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: what one `costsim query` may use: DuckDB's memory limit, seconds before it is interrupted, rows it may return
QUERY_MEMORY_LIMIT_BYTES = 4.0e9
QUERY_TIMEOUT_S = 120.0
QUERY_MAX_ROWS = 1_000_000


def connect(directory: str | os.PathLike[str]):
    """A sandboxed DuckDB connection with the view `points` over every stored file: it may read
    only those Parquet files (allowed_paths), no other file, URL or extension
    (enable_external_access=false), and the query cannot change that (lock_configuration)."""
    import duckdb

    d = Path(directory)
    shown = short_text(str(d), 120)
    try:
        is_dir, exists = d.is_dir(), d.exists()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise InputError(f"sweep directory '{shown}' cannot be read: {exc.strerror}; give the --out of a `costsim sweep`.",
                         field="DIR") from None
    if not is_dir:
        what = "is a file, not a sweep directory" if exists else "does not exist"
        raise InputError(f"sweep directory '{shown}' {what}; give the --out of a `costsim sweep`.", field="DIR")
    try:
        recover(d)
    except OSError:
        pass  # a read-only store: query what is there
    files = [str(f.resolve()) for f in result_files(d)]
    if not files:
        raise InputError(f"sweep directory '{d}' holds no results ({PATTERN} or {PARTITIONED}); run `costsim sweep ... --out {d}` first.", field="DIR")
    design = str((d / DESIGN).resolve()) if (d / DESIGN).is_file() else None
    lst = ", ".join(_sql_str(f) for f in files)
    allowed = lst + (", " + _sql_str(design) if design is not None else "")
    con = duckdb.connect()
    try:
        con.execute(f"SET allowed_paths=[{allowed}]")
        con.execute("SET enable_external_access=false")
        con.execute("SET autoinstall_known_extensions=false")
        con.execute("SET autoload_known_extensions=false")
        con.execute(f"SET memory_limit='{QUERY_MEMORY_LIMIT_BYTES / 1e9:g}GB'")  # a query that would need more fails, not the machine
        con.execute("SET lock_configuration=true")
        con.execute(f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet([{lst}], union_by_name=true, hive_partitioning=false)")
        if design is not None:
            con.execute(f"CREATE VIEW design AS SELECT * FROM read_parquet({_sql_str(design)})")
    except duckdb.Error as exc:
        con.close()
        first = str(exc).splitlines()[0]
        raise InputError(f"cannot open the results in '{d}' with DuckDB: {first}. Re-run the sweep into a new --out.", field="DIR") from None
    return con


#: rows fetched from DuckDB at a time, and the most value bytes (text length, 16 a number) a query may return
QUERY_FETCH_CHUNK = 10_000
QUERY_MAX_RESULT_BYTES = 256_000_000


def _statements(sql: str) -> int:
    """SQL statements in a text (DuckDB's own parser; 1 when it cannot tell, and the query reports the error)."""
    import duckdb

    try:
        return len(duckdb.extract_statements(sql))
    except Exception:  # noqa: BLE001 - a parse error: the query itself names it
        return 1


def _short_quotes(message: str) -> str:
    """DuckDB's message with each quoted fragment at most 80 characters (it repeats the user's token whole)."""
    return re.sub(r'"([^"]{81,})"', lambda m: f'"{short_text(m.group(1))}"', message)


def query(directory: str | os.PathLike[str], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run SQL over the `points` table; returns (column names, rows). Bad SQL -> InputError."""
    import duckdb

    if _statements(sql) > 1:  # DuckDB runs them all and returns the last: the earlier results would be lost unseen
        raise InputError("give one SQL statement per query (this text holds several, separated by ';'); run each on its own.",
                         field="SQL")
    con = connect(directory)
    timer = threading.Timer(QUERY_TIMEOUT_S, con.interrupt)  # stop a query that would run for hours
    timer.daemon = True
    timer.start()
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = []
        size = 0
        while len(rows) <= QUERY_MAX_ROWS:  # in chunks, counting the text: a result is refused by its size, not only rows
            chunk = cur.fetchmany(min(QUERY_FETCH_CHUNK, QUERY_MAX_ROWS + 1 - len(rows)))
            if not chunk:
                break
            rows.extend(chunk)
            size += sum(len(v) if isinstance(v, (str, bytes)) else 16 for r in chunk for v in r)
            if size > QUERY_MAX_RESULT_BYTES:
                raise InputError(f"the query's result passes {QUERY_MAX_RESULT_BYTES / 1e6:,.0f} MB of values after {len(rows):,} "
                                 "rows; select fewer or shorter columns, aggregate, or add LIMIT.", field="SQL")
    except duckdb.Error as exc:
        lines = str(exc).splitlines()
        first = _short_quotes(lines[0]).rstrip("!. ")
        hint = next((line for line in lines[1:] if line.startswith("Candidate bindings")), "")
        if hint:  # DuckDB's nearest column names: the fix for a misspelt column
            first += f" ({_short_quotes(hint).replace('Candidate bindings', 'nearest columns')})"
        if not timer.is_alive() and "interrupt" in first.lower():
            raise InputError(f"query stopped after {QUERY_TIMEOUT_S:.0f} s (the limit): aggregate or filter the table '{TABLE}' "
                             "(GROUP BY, WHERE, LIMIT) so it answers sooner.", field="SQL") from None
        raise InputError(f"query failed: {short_text(first, 400)}. The table is named '{TABLE}'; `SELECT * FROM {TABLE} LIMIT 5` shows its "
                         f"columns (queries may use up to {QUERY_MEMORY_LIMIT_BYTES / 1e9:g} GB of memory).", field="SQL") from None
    finally:
        timer.cancel()
        con.close()
    if len(rows) > QUERY_MAX_ROWS:
        raise InputError(f"the query returns more than {QUERY_MAX_ROWS:,} rows; aggregate it or add LIMIT (or write the "
                         "sweep's Parquet files to your own tools).", field="SQL")
    return cols, rows


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
