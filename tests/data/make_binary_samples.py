"""Regenerate the golden samples of the binary and XML formats (Parquet, Arrow, Avro, xlsx, XML).

    .venv/bin/python tests/data/make_binary_samples.py

Every file is small (well under 200 KB) and built from fixed data, so a regeneration changes
only writer metadata (library versions, xlsx timestamps), never what the tests assert. The
invalid samples are valid ones damaged in one precise way each; the comment next to each
says how, and the tests pin the findings they must produce.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile
from pathlib import Path

import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROWS = 300


def _table(rows: int = ROWS) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), pa.int64()),
            "name": pa.array([f"name-{i} ünïcødé" for i in range(rows)], pa.string()),
            "price": pa.array([i * 1.25 for i in range(rows)], pa.float64()),
            "active": pa.array([i % 2 == 0 for i in range(rows)], pa.bool_()),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(rows)], pa.date32()),
            "note": pa.array([None if i % 10 == 0 else f"n{i}" for i in range(rows)], pa.string()),
        }
    )


def _out(fmt: str, kind: str, name: str) -> Path:
    path = HERE / fmt / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# (offset, byte) patches found by fuzzing (tests/validators/test_*.py fuzz tests, seeds 7 and 12).
PARQUET_FUZZ_PATCH = [(63, 157), (73, 128), (112, 19), (213, 0), (229, 95), (304, 128), (345, 186), (367, 87)]
FEATHER_V1_FUZZ_PATCH = [
    (3518, 3), (3538, 14), (3615, 148), (4349, 127), (4720, 142), (5618, 68), (6102, 255), (6826, 96),
    (8749, 217), (9706, 70), (10822, 181), (11245, 69), (11643, 128), (12565, 48), (13872, 158),
    (15538, 181), (15624, 1),
]  # fmt: skip


def _patch(data: bytes, patch: list[tuple[int, int]]) -> bytes:
    damaged = bytearray(data)
    for offset, value in patch:
        if offset < len(damaged):
            damaged[offset] = value
    return bytes(damaged)


def _flip(data: bytes, offset: int) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= 0xFF
    return bytes(damaged)


# -- Parquet ---------------------------------------------------------------------------------
def parquet() -> None:
    table = _table()
    plain = {"row_group_size": 100, "compression": "none", "use_dictionary": False}
    valid = _out("parquet", "valid", "basic.parquet")
    pq.write_table(table, valid, write_page_checksum=True, **plain)
    pq.write_table(table, _out("parquet", "valid", "snappy_no_crc.parquet"), row_group_size=100)
    data = valid.read_bytes()
    # The footer is cut off: no trailing PAR1.
    _out("parquet", "invalid", "truncated.parquet").write_bytes(data[: len(data) - 100])
    # The footer length field says more bytes than the file has.
    _out("parquet", "invalid", "bad_footer_length.parquet").write_bytes(
        data[:-8] + (len(data) * 2).to_bytes(4, "little") + b"PAR1"
    )
    # Garbage in the footer's thrift metadata.
    footer_len = int.from_bytes(data[-8:-4], "little")
    footer = bytearray(data[-8 - footer_len : -8])
    footer[: footer_len // 2] = b"\xff" * (footer_len // 2)
    _out("parquet", "invalid", "corrupt_footer.parquet").write_bytes(
        data[: -8 - footer_len] + bytes(footer) + data[-8:]
    )
    # One byte flipped inside the data of row group 1, column "id": its page CRC no longer matches.
    chunk = pq.ParquetFile(valid).metadata.row_group(1).column(0)
    offset = chunk.data_page_offset + chunk.total_compressed_size // 2
    _out("parquet", "invalid", "page_crc.parquet").write_bytes(_flip(data, offset))
    # Invalid UTF-8 in a string column (no CRC written, so only the value check can catch it).
    marker = pa.table({"s": pa.array(["ok-1", "bad-ZZZ-2", "ok-3", "bad-ZZZ-4"])})
    sink = io.BytesIO()
    pq.write_table(marker, sink, compression="none", use_dictionary=False)
    _out("parquet", "invalid", "bad_utf8.parquet").write_bytes(sink.getvalue().replace(b"ZZZ", b"\xff\xfe\xfd"))
    # Found by fuzzing: a footer whose size statistics make pyarrow's column-chunk metadata abort
    # the process (std::terminate) when read; decoding the row group only raises.
    _out("parquet", "invalid", "fuzz_histogram.parquet").write_bytes(
        _patch(_out("parquet", "invalid", "bad_utf8.parquet").read_bytes(), PARQUET_FUZZ_PATCH)
    )
    # Declared-schema sample: a valid file whose values break the constraints of the tests' schema.
    pq.write_table(
        pa.table({"id": pa.array([1, 2, 2, 4], pa.int64()), "code": pa.array(["AB", "ABC", None, "x"])}),
        _out("parquet", "invalid", "constraints.parquet"),
    )


# -- Arrow IPC -------------------------------------------------------------------------------
def arrow() -> None:
    table = _table()
    batches = table.to_batches(max_chunksize=100)
    with ipc.new_file(_out("arrow", "valid", "file.arrow"), table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    options = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_file(_out("arrow", "valid", "zstd.arrow"), table.schema, options=options) as writer:
        for batch in batches:
            writer.write_batch(batch)
    stream = _out("arrow", "valid", "stream.arrows")
    with ipc.new_stream(stream, table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    feather.write_feather(table, _out("arrow", "valid", "v2.feather"), chunksize=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        feather.write_feather(table, _out("arrow", "valid", "v1.feather"), version=1)
    data = (HERE / "arrow" / "valid" / "file.arrow").read_bytes()
    # The footer is cut off: no trailing ARROW1.
    _out("arrow", "invalid", "truncated.arrow").write_bytes(data[: len(data) - 40])
    raw = stream.read_bytes()
    # The stream stops inside the third record batch.
    _out("arrow", "invalid", "truncated.arrows").write_bytes(raw[: len(raw) * 3 // 4])
    # Invalid UTF-8 inside a string buffer of the first batch (uncompressed file).
    _out("arrow", "invalid", "bad_utf8.arrow").write_bytes(data.replace("ünïcødé".encode(), b"\xff" * 11, 1))
    # A column name that is not UTF-8 (pyarrow raises on every access to it).
    _out("arrow", "invalid", "bad_name.arrow").write_bytes(data.replace(b"price", b"pr\xffce"))
    # Found by fuzzing: a Feather v1 file on which Arrow's v1 reader crashes (SIGSEGV).
    v1 = (HERE / "arrow" / "valid" / "v1.feather").read_bytes()
    _out("arrow", "invalid", "fuzz_crash_v1.feather").write_bytes(_patch(v1, FEATHER_V1_FUZZ_PATCH))
    _out("arrow", "invalid", "not_arrow.arrow").write_bytes(b"ARROW1\x00\x00" + b"\x00" * 64 + b"ARROW1")


# -- Avro ------------------------------------------------------------------------------------
AVRO_SCHEMA = {
    "type": "record",
    "name": "Item",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "price", "type": ["null", "double"]},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    ],
}


def avro() -> None:
    records = [
        {"id": i, "name": f"name-{i}", "price": None if i % 7 == 0 else i * 1.5, "day": dt.date(2024, 1, 1)}
        for i in range(1, ROWS + 1)
    ]
    schema = fastavro.parse_schema(AVRO_SCHEMA)
    for codec in ("null", "deflate"):
        with _out("avro", "valid", f"{codec}.avro").open("wb") as fh:
            fastavro.writer(fh, schema, records, codec=codec, sync_interval=1500)
    data = (HERE / "avro" / "valid" / "null.avro").read_bytes()
    sync = data[-16:]
    first_sync = data.index(sync)
    second_sync = data.index(sync, first_sync + 16)
    # The sync marker after the first block is damaged.
    _out("avro", "invalid", "bad_sync.avro").write_bytes(_flip(data, second_sync + 3))
    # The file stops in the middle of a block.
    _out("avro", "invalid", "truncated.avro").write_bytes(data[: len(data) - 200])
    deflated = (HERE / "avro" / "valid" / "deflate.avro").read_bytes()
    start = deflated.index(deflated[-16:]) + 16
    # Garbage inside the first compressed block.
    _out("avro", "invalid", "corrupt_block.avro").write_bytes(
        deflated[: start + 8] + b"\xff" * 24 + deflated[start + 32 :]
    )
    # A codec no reader knows (same length as "deflate" so the header stays consistent).
    _out("avro", "invalid", "unknown_codec.avro").write_bytes(deflated.replace(b"deflate", b"zzzzzzz", 1))


# -- xlsx ------------------------------------------------------------------------------------
def _workbook(rows: list[list[object]], path: Path, extra_sheet: bool = False) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    for row in rows:
        ws.append(row)
    if extra_sheet:
        notes = wb.create_sheet("notes")
        notes.append(["about"])
        notes.append(["golden sample"])
    wb.save(path)


def xlsx() -> None:
    header = ["id", "name", "price", "day"]
    rows = [[i, f"name-{i}", i * 1.5, dt.datetime(2024, 1, 1) + dt.timedelta(days=i)] for i in range(1, 41)]
    _workbook([header, *rows], _out("xlsx", "valid", "table.xlsx"), extra_sheet=True)
    messy = [["id", "name", None, "id"]] + [[i, f"n{i}", None, i] for i in range(1, 31)]
    messy[10] = ["ten", "n10", None, 10]  # row 10, line 11: a text in an integer column
    messy.append([])  # a blank row (line 32) followed by data
    messy.append([31, "n31", None, 31, "extra"])  # line 33: a cell beyond the header
    messy.append([])  # a trailing blank row: formatting only, not a record
    _workbook(messy, _out("xlsx", "invalid", "messy.xlsx"))
    data = (HERE / "xlsx" / "valid" / "table.xlsx").read_bytes()
    _out("xlsx", "invalid", "truncated.xlsx").write_bytes(data[: len(data) // 2])
    # A member that expands 1000x: 4 MiB of zeros.
    bomb = _out("xlsx", "invalid", "bomb.xlsx")
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            for item in src.infolist():
                zf.writestr(item, src.read(item))
        zf.writestr("xl/media/zeros.bin", b"\x00" * (4 << 20))
    # A zip that is not a workbook.
    with zipfile.ZipFile(_out("xlsx", "invalid", "not_workbook.xlsx"), "w") as zf:
        zf.writestr("hello.txt", "not a workbook")


# -- XML -------------------------------------------------------------------------------------
def xml() -> None:
    records = "\n".join(
        f'  <item id="{i}"><name>name-{i} ünïcødé</name><price>{i * 1.5}</price></item>' for i in range(1, 51)
    )
    _out("xml", "valid", "records.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<items>\n{records}\n</items>\n', encoding="utf-8"
    )
    _out("xml", "valid", "document.xml").write_text(
        '<?xml version="1.0"?>\n<!-- a document, not records -->\n<doc lang="en"><title>t</title></doc>\n',
        encoding="utf-8",
    )
    invalid = {
        # line 4: </wrong> closes <item>
        "mismatched.xml": (
            '<?xml version="1.0"?>\n<items>\n  <item id="1">a</item>\n  <item id="2">b</wrong>\n</items>\n'
        ),
        # the document ends inside <items>
        "unclosed.xml": '<?xml version="1.0"?>\n<items>\n  <item id="1">a</item>\n',
        # classic billion laughs: must be refused, never expanded
        "billion_laughs.xml": (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            + "".join(
                f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n' for n in range(1, 10)
            )
            + "]>\n<lolz>&lol9;</lolz>\n"
        ),
        # Latin-1 bytes in a document that says UTF-8
        "bad_utf8.xml": None,
        "empty.xml": "",
    }
    for name, text in invalid.items():
        path = _out("xml", "invalid", name)
        if text is None:
            path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<a>caf\xe9</a>\n')
        else:
            path.write_text(text, encoding="utf-8")


def main() -> None:
    parquet()
    arrow()
    avro()
    xlsx()
    xml()
    for path in sorted(HERE.glob("*/*/*")):
        if path.parent.parent.name in {"parquet", "arrow", "avro", "xlsx", "xml"}:
            assert path.stat().st_size < 200_000, path
            print(f"{path.relative_to(HERE)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
