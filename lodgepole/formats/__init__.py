"""Bytes <-> arrays, one content type per module.

- :mod:`lodgepole.formats.recordio`: ``application/x-recordio-protobuf``
  (RecordIO framing and the SageMaker Record protobuf, dense and sparse);
- :mod:`lodgepole.formats.csv`: ``text/csv`` (label first, no header);
- :mod:`lodgepole.formats.libsvm`: LIBSVM / svmlight text (sparse);
- :mod:`lodgepole.formats.parquet`: Parquet through pyarrow (extra
  ``lodgepole[parquet]``).

Every decoder raises :class:`~lodgepole.exceptions.DataFormatError` naming
the source, the record or row, and the byte offset or column.
"""
