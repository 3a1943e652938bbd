"""Which encoding a CSV lead file is read in, decided on the whole file, and what a file in none of them gets.

The case that used to fail: a GB18030 export whose first 64 KiB are plain ASCII (English headers,
thousands of rows of digits) before the first Chinese name was read as UTF-8 and then refused.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from dialer.domain.leads.errors import ImportFileError
from dialer.domain.leads.model import LeadSource
from dialer.leads.service import LeadService
from dialer.leads.sheets import open_sheet

BLOCK = 1 << 20  # the scan reads this much at a time (dialer/leads/sheets.py); offsets must survive the seams
ASCII_ROWS = 4500  # "n,1360000nnnn\r\n" is at least 16 bytes: over 64 KiB of ASCII before the first name


def long_ascii_prefix_text() -> str:
    rows = "".join(f"{i},136{i:08d}\r\n" for i in range(ASCII_ROWS))
    return "name,mobile\r\n" + rows + "张三,13900139000\r\n李四,13700137000\r\n"


def utf16_le_with_bom(text: str) -> bytes:
    """UTF-16 little-endian with its byte order mark, as Excel's "Unicode text" writes it."""
    return b"\xff\xfe" + text.encode("utf-16-le")


def line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom"])
async def test_a_long_ascii_start_does_not_decide_the_encoding(
    service: LeadService, tmp_path: Path, encoding: str
) -> None:
    text = long_ascii_prefix_text()
    data = utf16_le_with_bom(text) if encoding == "utf-16-le-bom" else text.encode(encoding)
    if encoding in ("gb18030", "gbk"):
        assert data[: 1 << 16].isascii()  # the case at hand: nothing Chinese in the first 64 KiB
    path = tmp_path / "long.csv"
    path.write_bytes(data)
    report = await service.importer.import_file(path, actor="t", source=LeadSource.HQ)
    assert (report.rows, report.created, report.rejections) == (ASCII_ROWS + 2, ASCII_ROWS + 2, ())
    zhang = await service.store.find_by_phone("+8613900139000")
    li = await service.store.find_by_phone("+8613700137000")
    assert zhang is not None and zhang.name == "张三" and li is not None and li.name == "李四"


def test_the_scan_hashes_the_whole_file(tmp_path: Path) -> None:
    # Over one block, so the hash and the decoding both cross a seam.
    data = ("姓名,手机\r\n" + "张三,13800138000\r\n" * (BLOCK // 20 + 100)).encode("gb18030")
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with open_sheet(path, 200 * 1024 * 1024) as sheet:
        assert sheet.sha256 == hashlib.sha256(data).hexdigest()
        assert list(sheet.headers) == ["姓名", "手机"]


def straddling(prefix: bytes, char: bytes, bad: bytes) -> tuple[bytes, int]:
    """``prefix``, ASCII filler so that ``char`` (a multi-byte character) straddles the block seam,
    some more text, then ``bad``; the file and the offset of ``bad``."""
    filler = b"x" * (BLOCK - 1 - len(prefix))
    head = prefix + filler + char + b",13800138000\r\n" * 10
    return head + bad + b"\r\n", len(head)


async def test_a_file_in_neither_encoding_is_refused_naming_byte_and_line(service: LeadService, tmp_path: Path) -> None:
    # GB18030 text (chosen: its Chinese is not UTF-8), then a byte GB18030 has no use for, after the seam.
    data, bad_at = straddling("姓名,手机\r\n张三,13800138000\r\n".encode("gb18030"), "张".encode("gb18030"), b"\xff")
    path = tmp_path / "neither.csv"
    path.write_bytes(data)
    with pytest.raises(ImportFileError) as err:
        await service.importer.import_file(path, actor="t", source=LeadSource.HQ)
    # 姓 in GB18030 is D0 D5: D0 would start a UTF-8 character, D5 cannot continue it, so UTF-8 fails at 0.
    assert str(err.value) == (
        f"{path}: text is neither UTF-8 (byte offset 0, line 1 is not) "
        f"nor GBK/GB18030 (byte offset {bad_at}, line {line_of(data, bad_at)} is not)"
    )
    assert await service.store.count() == 0


async def test_a_utf8_file_broken_deep_inside_is_refused_not_read_as_gb18030(
    service: LeadService, tmp_path: Path
) -> None:
    data, bad_at = straddling(
        "姓名,手机\r\n张三,13800138000\r\n".encode(), "张".encode(), b"\xe5\xbc"
    )  # a cut-off character
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    with pytest.raises(ImportFileError) as err:
        await service.importer.import_file(path, actor="t", source=LeadSource.HQ)
    assert str(err.value) == (
        f"{path}: the byte at offset {bad_at} (line {line_of(data, bad_at)}) is not UTF-8, "
        "though the text before it is: the file is damaged or mixes encodings"
    )


async def test_a_utf16_file_cut_in_the_middle_of_a_character_is_refused(service: LeadService, tmp_path: Path) -> None:
    data = "姓名,手机\r\n张三,13800138000\r\n".encode("utf-16") + b"\x00"
    path = tmp_path / "cut.csv"
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=re.escape(f"offset {len(data) - 1} (line 3) is not UTF-16")):
        await service.importer.import_file(path, actor="t", source=LeadSource.HQ)
