"""Record batches from any source, and what is computed over them: a library layer like
``validators/`` (blocking code, run it in a worker thread; no I/O policy of its own).

- :mod:`.source`: one local file → its format (the validator registry's detection), schema and
  record batches (Parquet, Arrow IPC, CSV/TSV, JSON Lines, JSON arrays, Avro, xlsx; gzip text);
- :mod:`.dataset`: a listing (directory, glob, ``s3://`` prefix, Hive partitions, Delta table) →
  one stream of its files' batches;
- :mod:`.records` (+ :mod:`.avro`, :mod:`.xlsx`): formats pyarrow has no batch reader for,
  decoded record by record into bounded batches;
- :mod:`.profiling`: the ``profile`` figures, batch by batch; :mod:`.cells`: JSON-safe values.

Callers name sources through ``services.files.PathPolicy.open_source`` (the path policy first),
which is what ``open_stream``, ``preview_data`` and ``profile`` use. Imports: domain, errors,
sources and validators only (tests/test_layers.py).
"""
