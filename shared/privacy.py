"""Personal data in one place: free text redacted before it is stored, or reaches an event, a log or a public view
(phone numbers, ID and bank card numbers, people's names), and residents' contact details masked for those who may
know of a resident but not reach them (``李**``, ``138****1234``).

Names and phone numbers are stored once, in intake's household registry; everything else carries ids.

One detector (``find_pii``) reads Chinese free text as people type it:

* **NFKC first.** Chinese input methods type full-width digits and separators (``１３９－８７６５``); each character
  is normalised on its own so that a match found in the normalised text maps back to the characters typed, and the
  text around it is returned as it was.
* **Numbers are read as chains** of digit groups joined by short runs of separators (spaces, dashes, dots, commas,
  slashes, brackets), and a chain is cut into whole groups: ``13912345678 13812345678`` is two numbers,
  ``1101 0519 9003 0712 3X`` one. A group is never split, and a chain glued to a Latin letter (``GD20261204000123``,
  the project's ids ``C-3f2a…``) is an id, not a number.
* **Each kind has its own evidence.** A mobile is 11 digits ``1[3-9]…`` (after an optional 86/0086) in groups of
  three or more digits, so ``16.5、17.0、18.5、19`` is not one; a landline has a real area code; an ID number has a
  province, a birth date and (without 身份证 nearby) the GB 11643 check digit; a bank card passes Luhn and either
  starts like a card and is grouped like one or follows 卡号/银行卡. After 电话/手机/… any chain of 7 or more digits
  is a number.
* **Names** come after an introducer (我是, 居民, 业主, 联系人, …) as a surname and one or two characters followed by
  something that ends a name (a verb such as 反映, 电话, punctuation, the end); ``姓名：`` takes any two to four
  characters; a surname with an honorific (王女士, 李大爷, 刘海燕女士) is a name; so is a name after a contact verb
  (已电话联系…, 回访…, 给…打电话, 与…沟通), or standing alone next to a phone number (王建国 13800004567).
  A clause opening with a surname's character is a name only before what a person does (表示, 反映, 家 but not 家园)
  and never when it is a common word (周一, 孙子, 付款, 高温: ``_NOT_NAMES``) or a place: precision first, for the
  data migrations apply this to every stored row. ``names`` adds the people a service knows of, ``numbers`` the
  phone numbers (a 12345 caller's), however they are written.
* **Also**: e-mail addresses; WeChat and QQ ids after 微信 / QQ; mobiles glued to tel/wx or to a letter after 电话;
  numbers in Chinese numerals after 电话 (一三八…). ``redact`` repeats until nothing more is found (idempotent).
* **Photo references** (``PhotoRef``): an http(s) URL, ``photo://<id>`` or an id; another scheme or personal data
  is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from shared.inputs import web_url_refusal
from shared.text import clean

PHONE_MASK = "[电话已隐去]"
ID_MASK = "[证件号已隐去]"
CARD_MASK = "[卡号已隐去]"
EMAIL_MASK = "[邮箱已隐去]"
ACCOUNT_MASK = "[账号已隐去]"
NAME_MASK = "[姓名已隐去]"
RESIDENT = "居民"


class PiiKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    PHONE = "phone"  # a number of 7+ digits after 电话/手机/…, of no recognisable shape
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    NAME = "name"
    EMAIL = "email"
    ACCOUNT = "account"  # a WeChat or QQ id after 微信 / QQ


_MASKS = {
    PiiKind.MOBILE: PHONE_MASK,
    PiiKind.LANDLINE: PHONE_MASK,
    PiiKind.PHONE: PHONE_MASK,
    PiiKind.ID_CARD: ID_MASK,
    PiiKind.BANK_CARD: CARD_MASK,
    PiiKind.EMAIL: EMAIL_MASK,
    PiiKind.ACCOUNT: ACCOUNT_MASK,
}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data in a text: ``text[start:end]`` of the text as given (not normalised)."""

    kind: PiiKind
    start: int
    end: int
    text: str
    replacement: str


# -- normalisation --------------------------------------------------------------------------------------------


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC per character, and for each character of the result the index of the character it came from."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text, list(range(len(text)))
    parts: list[str] = []
    owner: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch) if ord(ch) >= 0x80 else ch
        parts.append(n)
        owner.extend([i] * len(n))
    return "".join(parts), owner


# -- numbers --------------------------------------------------------------------------------------------------

# Between the groups of one number: spaces, dashes, dots, underscores, slashes, commas, brackets, middle dots and
# zero-width characters, at most three in a row (``010 - 6512 3456``). NFKC has already made full-width ones ASCII.
_SEP = r"[ \t\-\u2010-\u2015\u2212_./\\,()~\u00b7\u2022\u30fb\u200b-\u200f\u2060-\u2064\u00ad\u180e\ufeff]"
_CHAIN = re.compile(rf"(?<![A-Za-z0-9])(?<![A-Za-z][\-_])\d+(?:{_SEP}{{1,3}}\d+)*[Xx]?(?![A-Za-z0-9])")
_GROUP = re.compile(r"\d+[Xx]?")

_PHONE_WORDS = re.compile(
    r"(?:电话|手机|座机|固话|联系方式|(?<![单案编订卡证件])号码|号是|tel|phone|mobile|致电|拨打|微信)[^\d\[\]]{0,4}$",
    re.IGNORECASE,
)
_ID_WORDS = re.compile(r"(?:身份证|证件|身份号|公民身份)[^\d\[\]]{0,6}$")
_CARD_WORDS = re.compile(r"(?:卡号|银行卡|储蓄卡|信用卡|工资卡|借记卡|账号|帐号|账户|帐户)[^\d\[\]]{0,6}$")
_EXTENSION = re.compile(r"(?:\s*(?:转|分机|ext\.?|x|#)\s*\d{1,5}|-\d{1,5})(?![\d])", re.IGNORECASE)

# The first two digits of a citizen ID number: a province (GB/T 2260), Taiwan, Hong Kong, Macao, abroad.
_PROVINCE_CODES = "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65"
_PROVINCES = frozenset(f"{_PROVINCE_CODES} 71 81 82 83 91".split())
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CARD_PREFIX = re.compile(r"(?:62|60|4|5[1-5]|3[457]|9[45]|2[2-7])")
_MOBILE = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_AREA = re.compile(r"0(?:10|2\d|[3-9]\d\d)")


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character of an 18-digit citizen ID number, from its first 17 digits."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _born(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def _id_number(digits: str, *, context: bool) -> bool:
    if digits[:2] not in _PROVINCES:
        return False
    if len(digits) == 18 and digits[:17].isdigit():
        if not _born(digits[6:14]):
            return False
        return context or id_check_digit(digits[:17]) == digits[17].upper()
    if len(digits) == 15 and digits.isdigit():  # before 1999: yymmdd, no check digit
        return _born("19" + digits[6:12])
    return False


def _bank_card(digits: str, groups: list[str], seps: list[str], *, context: bool) -> bool:
    if not (16 <= len(digits) <= 19 and digits.isdigit()):
        return False
    if context:
        return True  # after 卡号 / 银行卡: a card number even when mistyped
    if not luhn_valid(digits):
        return False
    if not _CARD_PREFIX.match(digits):
        return False
    # Written as a card is: in one piece, or in fours (the last group shorter) with spaces or dashes.
    return len(groups) == 1 or (all(len(g) == 4 for g in groups[:-1]) and all(set(s) <= {" ", "-"} for s in seps))


def _mobile(digits: str, groups: list[str], *, context: bool) -> bool:
    if not _MOBILE.fullmatch(digits):
        return False
    if context or len(groups) == 1:
        return True
    if len(groups) == 11:
        return True  # typed digit by digit: 1 3 9 1 2 3 4 5 6 7 8
    # Groups of at least three digits (a leading 86 or 0086 aside): 139 8765 4321, 139.8765.4321.
    body = groups[1:] if groups[0] in ("86", "0086") else groups
    return all(len(g) >= 3 for g in body)


def _landline(digits: str, groups: list[str], *, context: bool) -> bool:
    area = _AREA.match(digits)
    if not area:
        return False
    local = len(digits) - area.end()
    if not (local == 8 or (local == 7 and area.end() == 4)):
        return False
    if len(groups) == 1 or context:
        return True
    # The area code a group of its own, the rest in groups of three or more: 0931-8123456, 010 6512 3456.
    return groups[0] == digits[: area.end()] and all(len(g) >= 3 for g in groups[1:])


def _numbers(norm: str) -> list[tuple[PiiKind, int, int]]:
    found: list[tuple[PiiKind, int, int]] = []
    for chain in _CHAIN.finditer(norm):
        groups = [
            (m.group(), chain.start() + m.start(), chain.start() + m.end()) for m in _GROUP.finditer(chain.group())
        ]
        i = 0
        while i < len(groups):
            if i and norm[groups[i - 1][2] : groups[i][1]] == ".":
                i += 1  # the decimals of a number (36.0611) do not start one
                continue
            before = norm[max(0, groups[i][1] - 12) : groups[i][1]]
            phone_ctx = bool(_PHONE_WORDS.search(before))
            id_ctx = bool(_ID_WORDS.search(before))
            card_ctx = bool(_CARD_WORDS.search(before))
            hit: tuple[PiiKind, int] | None = None
            for j in range(min(len(groups), i + 11) - 1, i - 1, -1):
                part = [g[0] for g in groups[i : j + 1]]
                digits = "".join(part)
                if "X" in digits.upper()[:-1]:
                    continue
                seps = [norm[groups[k][2] : groups[k + 1][1]] for k in range(i, j)]
                if _id_number(digits, context=id_ctx):
                    hit = (PiiKind.ID_CARD, j)
                elif not digits.isdigit():
                    continue
                elif _bank_card(digits, part, seps, context=card_ctx):
                    hit = (PiiKind.BANK_CARD, j)
                elif _mobile(digits, part, context=phone_ctx):
                    hit = (PiiKind.MOBILE, j)
                elif _landline(digits, part, context=phone_ctx):
                    hit = (PiiKind.LANDLINE, j)
                if hit:
                    break
            if hit is None and phone_ctx and i == 0:
                # The whole chain after 电话/手机, of no shape above: 8123456, 13 912 345 678 (not a list: 1,2,3).
                digits = "".join(g[0] for g in groups)
                joints = "".join(norm[groups[k][2] : groups[k + 1][1]] for k in range(len(groups) - 1))
                date = len(digits) == 8 and _born(digits)  # 电话回访 20261204: a day, not a number
                if 7 <= len(digits) <= 12 and digits.isdigit() and not date and not set(joints) & set(",/\\"):
                    hit = (PiiKind.PHONE, len(groups) - 1)
            if hit is None:
                i += 1
                continue
            kind, j = hit
            start, end = groups[i][1], groups[j][2]
            if kind in (PiiKind.LANDLINE, PiiKind.PHONE) and (ext := _EXTENSION.match(norm, end)):
                end = ext.end()  # 0931-8123456 转 801
            if start >= 1 and norm[start - 1] == "+" and kind is PiiKind.MOBILE:
                start -= 1
            found.append((kind, start, end))
            while j + 1 < len(groups) and groups[j + 1][1] < end:
                j += 1
            i = j + 1
    return found


# -- names ----------------------------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    "汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔"
    "伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙"
    "鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
)
_COMPOUND = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|夏侯|端木|长孙|宇文|司徒|独孤|南宫|西门|轩辕"
_SURNAME = f"(?:{_COMPOUND}|[{_SURNAMES}])"
_HONORIFICS = (
    "女士|先生|阿姨|大爷|大妈|大娘|奶奶|爷爷|大姐|大哥|大叔|大婶|叔叔|婶婶|伯伯"
    "|老先生|老太太|老太|老人家|小姐|同志|老师"
)
# 保安大叔, 门卫大爷, 环卫大姐: a word ending in a surname's character is not a surname.
_HONORIFIC = re.compile(f"(?<![保公门环警海完])(?<!\\[){_SURNAME}(?:{_HONORIFICS})")
_CJK = "\u4e00-\u9fff\u3400-\u4dbf"
_INTRODUCER = re.compile(
    r"(?<!\[)(?:我是|我叫|本人|户主|居民|业主|住户|租户|联系人|来电人|报修人|反映人|投诉人|诉求人|申请人|签收人|老人|家属"
    r"|(?<![\u4e00-\u9fff])联系|联系了|联系上|电话联系|致电|回访|走访|通知|询问)"
    rf"(?:[:：]|是|为|叫|姓名[:：]?)?[ \t]*(?={_SURNAME}[{_CJK}])"
)
# 给刘海燕打电话, 与刘海燕沟通: a name between a preposition and a way of talking to someone.
_TALKED_WITH = re.compile(
    rf"(?<!\[)(?:给|与|和|同|向|跟)({_SURNAME}[{_CJK}]{{1,2}}?)"
    "(?=打电话|打了电话|打过电话|沟通|联系|通话|协商|确认|解释|说明|电话)"
)
_INTRODUCER_SPACED = re.compile(
    r"(?<!\[)(?:联系人|来电人|报修人|反映人|投诉人|姓名|我是|我叫|本人|户主|居民|业主)[:：]?[ \t]*"
)
_LABEL = re.compile(rf"(?<!\[)姓名[:：]?[ \t]*(?!{RESIDENT})(?=[{_CJK}])")
_SINGLE_END = (
    "某家的说称讲在已不没和对与及等并也都住户室楼因于给向打拨致回请需要问答叫所门处屋"
    "现今昨前后从到再又还就才刚曾将会能想让把被跟或但而着过"
)
# What ends a name but may also be in one (王和平, 赵刚) is not taken for the end inside it.
_NOT_GIVEN = frozenset(_SINGLE_END) - frozenset("和刚")
_END = re.compile(
    rf"(?:[^{_CJK}]|$|电话|手机|座机|固话|联系|反映|反应|表示|来电|要求|投诉|告知|签字|签收|本人|明天|明日|上午|下午|晚上|早上"
    rf"|中午|独居|代为|代报|夫妇|老两口|女儿|儿子|母亲|父亲|老伴|家属|目前|由于|认为|觉得|满意|居住|一家|同意|确认|称|沟通|协商"
    rf"|[{_SINGLE_END}])"
)
# Common words that begin with a surname's character: never a name, wherever they stand (周一来电, 付款称已缴费,
# 孙子在家, 高温说不热). Precision matters most: the data migrations apply the detector to every stored row.
_NOT_NAMES = frozenset(
    "房间 房子 房屋 房东 房主 房顶 房管 高度 温度 温差 温暖 温控 常温 高温 低温 时间 时候"
    " 时段 安全 安排 安装 安检 安置 安监 关于 关闭 关注 关阀 关门 万一 万科 万达 于是 常常"
    " 常年 全部 全天 全体 全楼 全市 全区 金额 金属 金色 金地 金茂 路上 路面 路口 路段 成功"
    " 成本 成员 方便 方面 方庄 方式 方向 方案 文件 文明 白天 白班 程度 程序 马上 马路 管道"
    " 管网 管理 管线 管井 管家 单位 单元 单价 单据 车辆 车库 车位 车主 卫生 卫生间 包括 齐全"
    " 连续 连接 连日 周围 周末 周边 周一 周二 周三 周四 周五 周六 周日 周天 周期 任何 任务"
    " 应该 应当 应急 严重 许多 康复 费用 简单 项目 解决 解释 尤其 阳台 阳光 司机 冷热 冷水"
    " 华北 暖气 毛病 钱款 段落 宁可 曾经 向来 向阳 易于 乔迁 施工 高区 高层 高新 党员 余下"
    " 路人 游客 时常 武警 付款 付费 江水 江边 水管 孙子 孙女 孙媳 儿子 女儿 老伴 外孙 邻居"
    " 童年 申请 申报 石油 石化 宫殿 上午 下午 左右 左侧 史上 龙头 林业 黎明 贺卡 顾客 毛巾"
    " 钱包 严格 武汉 戴帽 莫非 孔洞 汤水 常住 康乐 施救 文字 牛奶 葛洲 邢台 安徽 齐鲁 易燃"
    " 乔木 庞大 颜色 庄园 章程 鲁能 岳阳 殷切 申通 欧洲 耿直 关系 兰州 焦急 左边 柳州 甘肃"
    " 祝福 包头 宁夏 尚未 符合 舒适 纪律 梅花 童装 凌晨 毕竟 单独 季度 涂料 成都 苗圃 谷歌"
    " 盛夏 曲线 骆驼 蓝色 路灯 游戏 辛苦 管子 柴油 蒙古 鲍鱼 华为 华润 华侨 祁连 蒲公 房产"
    " 滕州 屈指 解除 牟利 艾滋 尤为 阳面 时刻 农业 农村 司法 卓越 古城 吉林 简易 车间 连带"
    " 麦当 娄底 景区 景观 党委 费时 冷气 冷却 席位 卫视 米黄 柏油 宗旨 桂花 全是 应答 闵行"
    " 苟且 边上 边缘 夏天 夏季 江南 江北 黄河 黄色 红色 白色 高压 低压 水压 温水 热水 金融"
    " 李村 王府 王府井 幸福 党支 高铁 高速 常规 余热 余额 余量 全年 全屋 全程 全面 应用 应收"
    " 应缴 应退 应付 费率 华府 华庭 华苑 金桥 金城 金沙 龙湖 龙城 龙江 龙华 万象 万和 万寿"
    " 明珠 曲江 景山 景泰 景园 秦皇 秦岭 宁波 江苏 江西 吉祥 康居 康城 方圆"
    " 韩国 全国 全民 卫星 华丽 冷静 桂林 沈阳 申明 农民 宁静 江山 高明 高峰 高山 黄金 金华 石林 温和"
    " 兰花 梅花 马达 雷达".split()
)
# What follows a name in a clause, for words that also end a place: 家园, 家属院, 园, 站, 路, … (阳光家园, 李村家属院).
_PLACE_AFTER = re.compile("家(?:园|属|苑|庄|村|湾|坡|桥|巷|营|楼|沟|寨|集|店|坝|河|岭|窑)")
# A name opening a clause, as grid workers and crews write down whom they spoke to (张建国表示满意), is a name only
# when what follows is something a person does: 表示, 反映, 称, 说, 家 (a household, not 家园), 电话, …
_CLAUSE_START = re.compile(rf"(?:^|(?<=[，。；、：:,;.!?！？\s（(]))(?={_SURNAME}[{_CJK}])")
_SPEAKS = re.compile(
    "表示|反映|反应|称|说|讲|同意|确认|要求|来电|投诉|告知|签字|签收|不在|在家|家(?!园|属|苑|庄|村|湾|坡|桥|巷|营|楼|沟|寨|集|店|坝|河|岭|窑|具|电|常|政|务|乡|里|中|门)"
    "|电话|手机|满意|不满意|认为|觉得|夫妇|一家|本人"
)
# Characters a clause-start candidate's given name does not hold: the words for places, units and things
# (高新区, 热力站, 万科园), which a clause opens with far more often than with a person.
_NOT_GIVEN_IN_CLAUSE = frozenset("园区站院村路街局司业委队部所厂办组班们款费温管阀网线楼号层户室度日期次")
# Characters people's given names are made of. A name opening a clause or standing beside a number has no word
# before it saying it is a name, so there every character of its given name must be one of these: 江面, 叶片, 韩国,
# 沈阳 (a surname's character and another) are not taken for people. Precision first: the rule is applied to every
# stored row by the data migrations, and a name it misses there has an introducer or an honorific far more often.
_GIVEN_CHARS = frozenset(
    "东丰丹为丽义乐云亮仁仲伟伯佳依俊信俭倩健光兰兴兵军冬凤凯刚利剑勇华博卫叔吉君哲喜嘉国增大妍威娇娜娟婉婷媛孝季宁宇安宏宙宝宸富寿小山岚岩岭峰川帅帆平庆康建弘强彤彦彩彬德志忠思怡恒悦惠慧成才拴振敏文斌新"
    "旭旺旻昀昊昌明昕星春昱晓晖晗晨晴晶智曜曦月朝杉杰松林柏柱栋栓根桂桃梅梓森欣武毅民永汐江河泉泓波泽洁洋洪浩浪海涛润涵淑添清湖源溪澄澈瀚炎炜烨焕然煌燕爱猛玉玮玲珀珊珍珏珠琛琥琦琪琳琴瑗瑚瑛瑜瑞瑶瑾璇璐"
    "璞璟生益盛睿碧磊礼祥禄福秀秋立粟紫繁红绿翠翡耀胜航良艳芝芬花芳芷芸若英茹荣荷莉莲莹菊菲萍萱蓉蓓蓝蕊蕙蕾薇虹诗谷豪贞贵超轩辉辰远逸金鑫钢铁铜银锁锋锐长阳隆雁雪雯雷霖霜霞露青静颖风飞香馨高鸿鹏鹤鹰麟"
    "龙"
)
_HONORIFIC_AFTER_NAME = re.compile(
    rf"(?={_SURNAME}[{_CJK}]{{1,2}}(?:女士|先生|同志|老师|阿姨|大爷|大妈|奶奶|爷爷|师傅))"
)
_HONORIFIC_WORD = re.compile("女士|先生|同志|老师|阿姨|大爷|大妈|奶奶|爷爷|师傅")
_SPACED_NAME = re.compile(rf"{_SURNAME}[ \t\u3000][{_CJK}]{{1,2}}")
# A chain of CJK characters next to a phone number, standing alone: 王建国 13800004567, 13800004567 王建国.
_NEAR_NUMBER_BEFORE = re.compile(rf"(?:^|(?<=[^{_CJK}]))({_SURNAME}[{_CJK}]{{1,2}})[ \t:：]*$")
_NEAR_NUMBER_AFTER = re.compile(rf"[ \t]+({_SURNAME}[{_CJK}]{{1,2}})(?=[^{_CJK}]|$)")


# The people of the loop by their role: a name never holds one (回访时居民不在 is not 时居民).
_ROLES = ("居民", "业主", "住户", "租户", "物业", "师傅", "家属", "邻居", "老人", "网格", "维修", "热力")


def _common_word(cand: str) -> bool:
    return (
        cand in _NOT_NAMES or cand[:2] in _NOT_NAMES or cand[-2:] in _NOT_NAMES or any(role in cand for role in _ROLES)
    )


# What follows 姓名 in a form's heading rather than a name: 姓名电话：…, 姓名不详, 姓名地址.
_FIELD_LABEL = re.compile("电话|手机|地址|住址|性别|年龄|证件|身份|联系|不详|未知|未留|不明|及|和|与|、")


def _name_at(norm: str, at: int, *, any_chars: bool, end_by: re.Pattern[str] = _END, clause: bool = False) -> int:
    """The end of a name starting at ``at`` (0: none): a surname and one or two characters, or with ``any_chars``
    (after 姓名：) any two to four, followed by something that ends a name (``end_by``)."""
    if any_chars:
        for length in (4, 3, 2):
            cand = norm[at : at + length]
            if len(cand) == length and re.fullmatch(f"[{_CJK}]+", cand) and _END.match(norm, at + length):
                if cand[-1] not in _SINGLE_END and not _FIELD_LABEL.match(cand) and not _common_word(cand):
                    return at + length
    surname = re.compile(_SURNAME).match(norm, at)
    if not surname:
        return 0
    for given in (2, 1):
        end = surname.end() + given
        cand = norm[at:end]
        if len(norm) < end or not re.fullmatch(f"[{_CJK}]+", norm[surname.end() : end]):
            continue
        given_chars = norm[surname.end() : end]
        if _common_word(cand) or any(c in _NOT_GIVEN for c in given_chars):
            continue
        if clause and (
            any(c in _NOT_GIVEN_IN_CLAUSE or c not in _GIVEN_CHARS for c in given_chars)
            or _PLACE_AFTER.match(norm, end - 1)
        ):
            continue
        if _PLACE_AFTER.match(norm, end):
            continue
        if end_by.match(norm, end):
            return end
    return 0


def _names(norm: str, names: Iterable[str]) -> list[tuple[PiiKind, int, int, str]]:
    found: list[tuple[PiiKind, int, int, str]] = []
    for name in names:
        name = unicodedata.normalize("NFKC", name).strip() if name else ""
        if len(name) >= 2:
            found += [(PiiKind.NAME, m.start(), m.end(), RESIDENT) for m in re.finditer(re.escape(name), norm)]
    found += [(PiiKind.NAME, m.start(), m.end(), RESIDENT) for m in _HONORIFIC.finditer(norm)]
    for m in _LABEL.finditer(norm):
        if end := _name_at(norm, m.end(), any_chars=True):
            found.append((PiiKind.NAME, m.end(), end, NAME_MASK))
    for m in _INTRODUCER.finditer(norm):
        if end := _name_at(norm, m.end(), any_chars=False):
            found.append((PiiKind.NAME, m.end(), end, NAME_MASK))
    for m in _CLAUSE_START.finditer(norm):
        if end := _name_at(norm, m.end(), any_chars=False, end_by=_SPEAKS, clause=True):
            found.append((PiiKind.NAME, m.end(), end, NAME_MASK))
    for m in _HONORIFIC_AFTER_NAME.finditer(norm):
        # 刘海燕女士: a full name before an honorific (王女士 alone is the rule above; 公司李女士 is not 司李).
        for given in (2, 1):
            end = m.start() + 1 + given
            cand = norm[m.start() : end]
            if not _HONORIFIC_WORD.match(norm, end) or re.fullmatch(_SURNAME, norm[end - 1]):
                continue
            if not _common_word(cand) and not any(c in _NOT_GIVEN for c in cand[1:]):
                found.append((PiiKind.NAME, m.start(), end, NAME_MASK))
                break
    for m in _TALKED_WITH.finditer(norm):
        cand = m.group(1)
        if not _common_word(cand) and not any(c in _NOT_GIVEN for c in cand[1:]):
            found.append((PiiKind.NAME, m.start(1), m.end(1), NAME_MASK))
    for m in _INTRODUCER_SPACED.finditer(norm):
        # 联系人：赵 伟 — a space typed inside the name.
        spaced = _SPACED_NAME.match(norm, m.end())
        if spaced and _END.match(norm, spaced.end()) and norm[spaced.end() - 1] not in _NOT_GIVEN:
            found.append((PiiKind.NAME, m.end(), spaced.end(), NAME_MASK))
    return found


def _names_by_numbers(norm: str, numbers: list[tuple[PiiKind, int, int]]) -> list[tuple[PiiKind, int, int, str]]:
    """A name written right next to a phone number, standing alone: ``王建国 13800004567``."""
    found: list[tuple[PiiKind, int, int, str]] = []
    for kind, start, end in numbers:
        if kind not in (PiiKind.MOBILE, PiiKind.LANDLINE, PiiKind.PHONE):
            continue
        for near in (_NEAR_NUMBER_BEFORE.search(norm, max(0, start - 8), start), _NEAR_NUMBER_AFTER.match(norm, end)):
            if near and not _common_word(cand := near.group(1)) and all(c in _GIVEN_CHARS for c in cand[1:]):
                found.append((PiiKind.NAME, near.start(1), near.end(1), NAME_MASK))
    return found


# -- what is not a digit chain: e-mail, WeChat and QQ ids, numbers glued to letters or in Chinese numerals ----------

_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_ACCOUNT = re.compile(
    r"(?:微信号?|微信账号|weixin|wechat|wx|vx|QQ号?|qq号?|扣扣号?)(?:码)?[ \t:：]*(?:是|为)?[ \t:：]*"
    r"([A-Za-z][A-Za-z0-9_\-]{5,19}|\d{5,12})(?![A-Za-z0-9_\-])",
    re.IGNORECASE,
)
# A mobile glued to a Latin contact word (tel13800138000, wx13800138000) or to a letter after 电话 (13800138000X).
_GLUED_MOBILE = re.compile(r"(?<!\d)(?:0086|86)?1[3-9]\d{9}(?!\d)")
_CONTACT_PREFIX = re.compile(r"(?:tel|phone|mobile|mob|cell|wx|vx|qq|wechat|weixin)[ \t:：#.]*$", re.IGNORECASE)
_CN_DIGITS = "零〇○一二三四五六七八九幺两"
_CN_NUMBER = re.compile(f"[{_CN_DIGITS}]{{7,}}")
_CN_MOBILE = re.compile(f"(?<![{_CN_DIGITS}])一[三四五六七八九][{_CN_DIGITS}]{{9}}(?![{_CN_DIGITS}])")


def _digits_of(number: str) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", number))
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) > 11 and digits.startswith("0086"):
        digits = digits[4:]
    return digits


def _others(norm: str, numbers: Iterable[str]) -> list[tuple[PiiKind, int, int]]:
    found: list[tuple[PiiKind, int, int]] = []
    found += [(PiiKind.EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(norm)]
    found += [(PiiKind.ACCOUNT, m.start(1), m.end(1)) for m in _ACCOUNT.finditer(norm)]
    for m in _GLUED_MOBILE.finditer(norm):
        before = norm[max(0, m.start() - 12) : m.start()]
        if _CONTACT_PREFIX.search(before) or _PHONE_WORDS.search(before):
            found.append((PiiKind.MOBILE, m.start(), m.end()))
    for m in _CN_NUMBER.finditer(norm):
        if _PHONE_WORDS.search(norm[max(0, m.start() - 12) : m.start()]):
            found.append((PiiKind.PHONE, m.start(), m.end()))
    found += [(PiiKind.MOBILE, m.start(), m.end()) for m in _CN_MOBILE.finditer(norm)]
    for number in numbers:
        # A number the service knows (a 12345 caller's), however it is written: 138-0013-8000, 138 0013 8000.
        digits = _digits_of(number) if number else ""
        if len(digits) >= 7:
            pattern = f"{_SEP}{{0,3}}".join(digits)
            found += [(PiiKind.PHONE, m.start(), m.end()) for m in re.finditer(f"(?<!\\d){pattern}(?!\\d)", norm)]
    return found


# -- the detector ---------------------------------------------------------------------------------------------


def find_pii(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, in order and not overlapping (the earlier, then the longer, wins),
    with the positions of the text as given. ``names`` and ``numbers``: people and phone numbers the caller knows
    are concerned (a 12345 order's caller), found however they are written."""
    norm, owner = _normalise(text)
    found = _numbers(norm) + _others(norm, numbers)
    spans = [(kind, s, e, _MASKS[kind]) for kind, s, e in found] + _names(norm, names) + _names_by_numbers(norm, found)
    spans.sort(key=lambda span: (span[1], -(span[2] - span[1])))
    out: list[PiiMatch] = []
    taken = 0
    for kind, s, e, replacement in spans:
        if s < taken or e <= s:
            continue
        start, end = owner[s], owner[e - 1] + 1
        out.append(PiiMatch(kind, start, end, text[start:end], replacement))
        taken = e
    return out


def contains_pii(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> bool:
    return bool(find_pii(text, names=names, numbers=numbers))


def redact(text: str, *, names: Iterable[str] = (), numbers: Iterable[str] = ()) -> str:
    """Free text with phone, ID and bank card numbers and people's names replaced by masks: stores, events, logs
    and public feeds carry only this form (a 12345 operator often types the caller's name and number into the
    order's content; a unit writes down whom it called). ``names``: people known to be concerned, e.g. the
    household's resident; ``numbers``: phone numbers known to be concerned. The characters around what is
    replaced are kept as typed. Redacting twice changes nothing: a mask can reveal a name's context (王女士王建国:
    the first mask reads as 居民, before a name), so the text is redacted until nothing more is found."""
    names, numbers = list(names), list(numbers)
    for _ in range(4):
        matches = find_pii(text, names=names, numbers=numbers)
        if not matches:
            return text
        parts: list[str] = []
        at = 0
        for m in matches:
            parts += [text[at : m.start], m.replacement]
            at = m.end
        parts.append(text[at:])
        text = "".join(parts)
    return text


PublicText = Annotated[
    str, AfterValidator(redact), Field(description="Redacted free text: no phone numbers, ID numbers or names.")
]
"""Free text of an event contract: redacted whenever a payload is built or read, so no producer can put a phone
number or a caller's name on a topic (names only the registry knows are redacted by intake beforehand)."""


def _stored(text: str) -> str:
    return redact(clean(text))


STORED = AfterValidator(_stored)
"""The validator of ``FreeText``, for an optional field whose limits must be checked first, on the text as sent:
``Annotated[str, Field(max_length=1000), STORED] | None`` (pydantic applies the ``Field`` limits of an optional field
after the validators, to the redacted text)."""

FreeText = Annotated[
    str,
    STORED,
    Field(description="Free text, stored redacted: phone, ID and bank card numbers and people's names are masked."),
]
"""Free text a request brings in (a note, a reason, a description): refused with a 422 naming the field when it holds
a character XML cannot carry (shared.text), and redacted before any service code sees it, so no store keeps what it
should not."""


def mask_phone(phone: str | None) -> str | None:
    """``138****1234``: the first three and last four digits of a number of seven or more; nothing of a shorter
    one. Spaces, dashes and a +86 prefix are dropped first."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """``李**``: the first character, one star for each other one; a one-character name is all stars."""
    if not name or not name.strip():
        return None
    name = name.strip()
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


# -- photo references -----------------------------------------------------------------------------------------

PHOTO_SCHEME = "photo://"
_PHOTO_ID = re.compile(r"[A-Za-z0-9._/\-]{1,200}")
PHOTO_REF_INVALID = "photo_ref_invalid"


def photo_ref_refusal(value: str) -> str | None:
    """Why ``value`` is not a photo reference, or None when it is: an http(s) URL (shared.inputs.WebUrl's rule),
    ``photo://<id>`` or a bare id of ``A-Z a-z 0-9 . _ / -`` (at most 200), holding no personal data."""
    if value.lower().startswith(("http://", "https://")):
        reason = web_url_refusal(value)
        if reason:
            return reason
    else:
        ident = value[len(PHOTO_SCHEME) :] if value.startswith(PHOTO_SCHEME) else value
        if not _PHOTO_ID.fullmatch(ident):
            return "only https:// and http:// links, photo://<id> and ids of letters, digits, '.', '_', '/' and '-'"
    if find_pii(value):
        return "it holds personal data (a phone, ID or card number, an e-mail address or a name)"
    return None


def _photo_ref(value: str) -> str:
    clean(value)
    reason = photo_ref_refusal(value)
    if reason:
        raise PydanticCustomError(PHOTO_REF_INVALID, "Photo reference refused: {reason}", {"reason": reason})
    return value


PhotoRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="A photo stored elsewhere: an http(s) URL, photo://<id> or an id (A-Z a-z 0-9 . _ / -); never"
        " personal data.",
    ),
    AfterValidator(_photo_ref),
]
"""A reference to a photo stored elsewhere (an object-store key, ``photo://<id>`` or an http(s) URL), never the photo
itself: refused with a 422 naming the field when it has another scheme (``javascript:``), characters an id has not, or
personal data (``刘海燕13800138000.jpg``). Shown to overseers and put on events, so it is checked like a link."""
