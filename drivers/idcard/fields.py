"""The 256-byte text block of a resident ID card (or permit) as the SAM returns it, and its checks.

The block is UCS-2 little-endian, each field space padded to a fixed width. One layout per card type;
the type marker is the character at byte 248 (blank on resident cards):

* resident card (GA 467): name 30, sex 2, nation 4, birth 16, address 70, ID number 36, authority 30,
  valid from 16, valid to 16 (a date or 长期), reserved 36.
* "J" HK/Macau/Taiwan residence permit: name 30, sex 2, reserved 4, birth 16, address 70, ID number 36,
  authority 30, valid from 16, valid to 16, travel permit number 18, issue count 4, reserved 6,
  marker 2, reserved 6.
* "I" foreign permanent resident card (2017): English name 120, sex 2, card number 30, nationality 6,
  Chinese name 30, valid from 16, valid to 16, birth 16, card version 4, authority code 8, marker 2,
  reserved 6.
* "Y" foreign permanent resident card (2023): Chinese name 30, sex 2, renewal count 4, birth 16,
  English name 70 (characters 1-35), ID number 36, reserved 30, valid from 16, valid to 16, English
  name 22 (characters 36-46), nationality 6, marker 2, link to the previous card number 6.

These layouts follow public vendor SDK headers and readers (e.g. the `t_idforeigner`/`t_idforeigner2023`
structs and Java parsers that switch on byte 248); the codes are GB/T 2261.1 (sex) and GB 3304 (nation).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from enum import StrEnum

TEXT_LEN = 256
PHOTO_LEN = 1024
MARKER_OFFSET = 248
FOREVER = "长期"  # "long-term": validity without an end date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


class CardDataError(ValueError):
    """The text block is unreadable or implausible. The message never holds personal data."""


class Layout(StrEnum):
    RESIDENT = ""
    HK_MACAU_TAIWAN = "J"
    FOREIGN_2017 = "I"
    FOREIGN_2023 = "Y"

    @property
    def card_type(self) -> str:
        """The `card_type` of `drivers.events.IdCardRead`."""
        if self is Layout.RESIDENT:
            return "resident"
        if self is Layout.HK_MACAU_TAIWAN:
            return "hk_macau_taiwan"
        return "foreign_permanent"


# (field, bytes); names starting with "_" are reserved areas written as spaces. "_marker" is the type.
LAYOUTS: dict[Layout, tuple[tuple[str, int], ...]] = {
    Layout.RESIDENT: (
        ("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
        ("authority", 30), ("valid_from", 16), ("valid_to", 16), ("_reserved", 36),
    ),
    Layout.HK_MACAU_TAIWAN: (
        ("name", 30), ("sex", 2), ("_reserved1", 4), ("birth", 16), ("address", 70), ("id_number", 36),
        ("authority", 30), ("valid_from", 16), ("valid_to", 16), ("pass_number", 18), ("issue_count", 4),
        ("_reserved2", 6), ("_marker", 2), ("_reserved3", 6),
    ),
    Layout.FOREIGN_2017: (
        ("english_name", 120), ("sex", 2), ("id_number", 30), ("nation", 6), ("name", 30),
        ("valid_from", 16), ("valid_to", 16), ("birth", 16), ("card_version", 4), ("authority", 8),
        ("_marker", 2), ("_reserved", 6),
    ),
    Layout.FOREIGN_2023: (
        ("name", 30), ("sex", 2), ("issue_count", 4), ("birth", 16), ("english_name", 70),
        ("id_number", 36), ("_reserved", 30), ("valid_from", 16), ("valid_to", 16),
        ("english_name_ext", 22), ("nation", 6), ("_marker", 2), ("previous_number", 6),
    ),
}  # fmt: skip

SEXES = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}  # GB/T 2261.1

# fmt: off
_NATION_NAMES = [
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家", "哈尼", "哈萨克",
    "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌",
    "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固",
    "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
]
# fmt: on
# GB 3304: code -> ethnic group as printed on the card
NATIONS = {f"{code:02d}": name for code, name in enumerate(_NATION_NAMES, start=1)} | {
    "97": "其他",
    "98": "外国血统中国籍人士",
}


@dataclass(frozen=True, slots=True)
class CardFields:
    """A card's text block field by field, as stored (codes, not display names). The simulator builds
    blocks from it; `decode_text` returns it. `name` is the Chinese name (may be empty on foreign cards)."""

    name: str = ""
    sex: str = "1"  # GB/T 2261.1 code
    nation: str = "01"  # GB 3304 code; ISO 3166-1 alpha-3 nationality on foreign cards; blank on "J"
    birth: str = ""  # YYYYMMDD
    address: str = ""
    id_number: str = ""
    authority: str = ""  # issuing authority; on "I" cards the 4-character authority code
    valid_from: str = ""  # YYYYMMDD
    valid_to: str = ""  # YYYYMMDD or 长期
    layout: Layout = Layout.RESIDENT
    english_name: str = ""  # foreign cards
    pass_number: str = ""  # "J": HK/Macau or Taiwan travel permit number
    issue_count: str = ""  # "J": times issued; "Y": times renewed
    card_version: str = ""  # "I"
    previous_number: str = ""  # "Y": link to the holder's previous card number

    def __repr__(self) -> str:  # never print personal data
        return f"CardFields(layout={self.layout.name})"

    @property
    def card_type(self) -> str:
        return self.layout.card_type

    @classmethod
    def from_mapping(cls, data: dict) -> CardFields:
        """From a scenario file's mapping: the fields above, with `card_type` ("resident",
        "hk_macau_taiwan", "foreign_permanent" = the 2023 card, "foreign_permanent_2017") or `layout`,
        and `sex`/`nation` as codes or as printed ("女", "汉"). ValueError on unknown keys."""
        data = dict(data)
        kind = data.pop("card_type", None)
        if kind is not None:
            kinds = {
                "resident": "",
                "hk_macau_taiwan": "J",
                "foreign_permanent": "Y",
                "foreign_permanent_2017": "I",
            }
            if kind not in kinds:
                raise ValueError(f"unknown card_type {kind!r}; known: {', '.join(kinds)}")
            data.setdefault("layout", kinds[kind])
        data["layout"] = Layout(data.get("layout", ""))
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown card field(s) {', '.join(unknown)}")
        by_name = {v: k for k, v in SEXES.items()}
        data["sex"] = by_name.get(data.get("sex", "1"), data.get("sex", "1"))
        if data["layout"] is Layout.RESIDENT:
            by_nation = {v: k for k, v in NATIONS.items()}
            data["nation"] = by_nation.get(data.get("nation", "01"), data.get("nation", "01"))
        return cls(**{k: (v if k == "layout" else str(v)) for k, v in data.items()})

    @property
    def sex_name(self) -> str:
        return SEXES.get(self.sex, "")

    @property
    def nation_name(self) -> str:
        """Ethnic group on resident cards, nationality code on foreign cards, blank on permits."""
        if self.layout is Layout.RESIDENT:
            return NATIONS.get(self.nation, "")
        return self.nation

    @property
    def display_name(self) -> str:
        """The holder's name: the English name on foreign cards, where the Chinese name is optional."""
        if self.layout in (Layout.FOREIGN_2017, Layout.FOREIGN_2023):
            return self.english_name or self.name
        return self.name


def id_check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    return ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number_valid(number: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{17}[0-9X]", number)) and id_check_digit(number[:17]) == number[17]


def _field_bytes(value: str, width: int, what: str) -> bytes:
    raw = value.encode("utf-16-le")
    if len(raw) > width or any(0xD800 <= ord(c) <= 0xDFFF or ord(c) > 0xFFFF for c in value):
        raise ValueError(f"{what} does not fit {width} bytes of UCS-2")
    return raw + " ".encode("utf-16-le") * ((width - len(raw)) // 2)


def encode_text(card: CardFields) -> bytes:
    """The exact 256-byte text block of `card` (no validation: the simulator can build bad cards)."""
    values = {f.name: getattr(card, f.name) for f in fields(card)}
    if card.layout is Layout.FOREIGN_2023:
        values["english_name"], values["english_name_ext"] = card.english_name[:35], card.english_name[35:]
    values["_marker"] = card.layout.value
    out = b"".join(
        _field_bytes("" if name.startswith("_") and name != "_marker" else values[name], width, name)
        for name, width in LAYOUTS[card.layout]
    )
    assert len(out) == TEXT_LEN
    return out


def decode_text(block: bytes) -> CardFields:
    """Split a 256-byte text block into fields. CardDataError when it is not one."""
    if len(block) != TEXT_LEN:
        raise CardDataError(f"text block is {len(block)} bytes, not {TEXT_LEN}")
    try:
        marker = block[MARKER_OFFSET : MARKER_OFFSET + 2].decode("utf-16-le").strip(" \x00")
        layout = Layout(marker)
    except (UnicodeDecodeError, ValueError):
        raise CardDataError("text block has an unknown card type marker") from None
    values: dict[str, str] = {}
    offset = 0
    for name, width in LAYOUTS[layout]:
        try:
            text = block[offset : offset + width].decode("utf-16-le")
        except UnicodeDecodeError:
            raise CardDataError("text block is not valid UCS-2") from None
        offset += width
        if not name.startswith("_"):
            values[name] = text
    if layout is Layout.FOREIGN_2023:
        ext = values.pop("english_name_ext").strip(" \x00")
        values["english_name"] = values["english_name"] + ext if ext else values["english_name"]
    clean = {f.name: "" for f in fields(CardFields) if f.name != "layout"}  # absent on this layout: blank
    clean |= {k: v.strip(" \x00") for k, v in values.items()}
    return CardFields(layout=layout, **clean)


# Characters printed on resident cards, permits and foreign cards: ASCII, Latin letters, general and CJK
# punctuation, CJK ideographs (with extension A and compatibility forms), fullwidth forms, and the
# private use area some issuing systems used for rare characters. Anything else (control characters,
# Hangul, symbols, ...) in a field is a transmission error the XOR checksum let through.
_PRINTABLE = re.compile(
    "[\u0020-\u007e\u00a0-\u017f\u2000-\u206f\u2100-\u218f\u2e80-\u2fdf\u3000-\u303f"
    "\u3400-\u4dbf\u4e00-\u9fff\ue000-\uf8ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]*"
)


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"[0-9]{8}", text):
        return False
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def check_fields(card: CardFields) -> None:
    """Reject implausible decoded data: the XOR frame checksum misses some multi-byte errors, and a
    silently wrong identity is worse than a re-read. CardDataError names the check, not the data."""
    for f in fields(card):
        value = getattr(card, f.name)
        if isinstance(value, str) and not _PRINTABLE.fullmatch(value):
            raise CardDataError(f"{f.name} holds characters not used on cards")
    if not card.display_name:
        raise CardDataError("name missing")
    if card.sex not in SEXES:
        raise CardDataError("sex code invalid")
    if not _is_date(card.birth):
        raise CardDataError("birth date is not a valid date")
    if not _is_date(card.valid_from):
        raise CardDataError("validity start is not a valid date")
    if card.valid_to != FOREVER and not _is_date(card.valid_to):
        raise CardDataError("validity end is not a valid date")
    number = card.id_number
    if card.layout is Layout.FOREIGN_2017:
        if not re.fullmatch(r"[A-Z]{3}[0-9]{12}", number):
            raise CardDataError("card number malformed")
        if not re.fullmatch(r"[A-Z]{3}", card.nation):
            raise CardDataError("nationality code invalid")
        return
    if card.layout is Layout.RESIDENT and card.nation not in NATIONS:
        raise CardDataError("nation code invalid")
    if card.layout is Layout.FOREIGN_2023 and not re.fullmatch(r"[A-Z]{3}", card.nation):
        raise CardDataError("nationality code invalid")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise CardDataError("ID number malformed")
    if card.layout is Layout.HK_MACAU_TAIWAN and number[:2] not in ("81", "82", "83"):
        raise CardDataError("ID number malformed")
    if card.layout is Layout.FOREIGN_2023 and number[0] != "9":
        raise CardDataError("ID number malformed")
    if id_check_digit(number[:17]) != number[17]:
        raise CardDataError("ID number check digit wrong")
    if number[6:14] != card.birth:
        raise CardDataError("ID number does not match birth date")
    if (
        card.layout is not Layout.FOREIGN_2023
        and card.sex in ("1", "2")
        and int(number[16]) % 2 != int(card.sex) % 2
    ):
        raise CardDataError("ID number does not match sex")
