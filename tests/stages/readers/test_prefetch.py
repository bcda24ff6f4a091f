import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from builders.configs.dilemmas import ARTIFACTS
from builders.stages.readers.layout import Artifact, LayoutError
from builders.stages.readers.prefetch import Prefetch, read_prepared
from builders.stages.readers.records import ColumnTable, RawTable

SCENES = ARTIFACTS[0]
HEADER = "index,scene,options,rot1,rot2\n"


def _artifact(root: Path, name: str, text: str) -> Artifact:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return Artifact(SCENES, path, name)


def shout(table: pa.Table) -> pa.Table:
    """A preparation: must be importable by name in the worker process."""
    return table.append_column("loud", pc.utf8_upper(table.column("scene")))


def test_prefetched_files_are_the_tables_the_build_would_read_itself(tmp_path):
    column_wise = _artifact(tmp_path, "a.csv",
                            HEADER + '0,scene a,"A：x\nB：y",规则一,规则二\n1,scene b,o,规则三,规则四\n')
    row_by_row = _artifact(tmp_path, "b.csv", HEADER + "0,scene,o,规则一,规则二\n\n1,scene,o,规则一,规则二\n")
    missing_columns = _artifact(tmp_path, "c.csv", "index,scene\n0,scene\n")
    prefetch = Prefetch([(column_wise, shout), (row_by_row, None), (missing_columns, None)])
    try:
        taken = prefetch.take(column_wise)
        expected = read_prepared(column_wise, shout)
        assert isinstance(taken, ColumnTable) and taken.table.equals(expected.table)
        assert taken.table.column("loud").to_pylist() == ["SCENE A", "SCENE B"]
        assert taken.lines.tolist() == expected.lines.tolist() == [2, 4]
        # Left to the build: files read row by row, files the worker failed on, files never asked for.
        assert isinstance(read_prepared(row_by_row, None), RawTable) and prefetch.take(row_by_row) is None
        assert prefetch.take(missing_columns) is None
        with pytest.raises(LayoutError, match="missing"):
            read_prepared(missing_columns, None)
        assert prefetch.take(column_wise) is None
    finally:
        prefetch.close()
    assert not Path(prefetch._dir).exists()
    assert taken.table.column("scene").to_pylist() == ["scene a", "scene b"]  # still readable once closed


def test_a_file_prepared_a_slice_at_a_time_is_the_file_prepared_whole(tmp_path):
    rows = "".join(f'{i},scene {i},"A：x\nB：{i}",规则{i},规则{i + 1}\n' if i % 3 else f"{i},scène {i},o,规则,规则\n"
                   for i in range(7))
    artifact = _artifact(tmp_path, "a.csv", HEADER + rows)
    prefetch = Prefetch([(artifact, shout)], slice_rows=2)
    try:
        taken = prefetch.take(artifact)
    finally:
        prefetch.close()
    expected = read_prepared(artifact, shout)
    assert taken.table.column("loud").num_chunks == 4  # written as four slices
    assert taken.table.equals(expected.table) and taken.lines.tolist() == expected.lines.tolist()


def die(table: pa.Table) -> pa.Table:
    """A preparation that kills the worker process, as the out-of-memory killer would."""
    os._exit(1)


def test_files_of_a_worker_that_died_are_left_to_the_build(tmp_path):
    first = _artifact(tmp_path, "a.csv", HEADER + "0,scene,o,规则一,规则二\n")
    second = _artifact(tmp_path, "b.csv", HEADER + "0,scene,o,规则一,规则二\n")
    prefetch = Prefetch([(first, die), (second, None)])
    try:
        assert prefetch.take(first) is None and prefetch.take(second) is None
    finally:
        prefetch.close()
