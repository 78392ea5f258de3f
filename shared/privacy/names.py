"""People's names in Chinese free text: after an introducer (我是, 联系人, 姓名：), with an honorific, after a contact
verb, opening a clause before what a person does, or standing alone next to a phone number. Precision first: the
data migrations apply this to every stored row."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from shared.privacy.kinds import NAME_MASK, RESIDENT, PiiKind

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    "汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔"
    "伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙"
    "鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
)
_COMPOUND = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|夏侯|端木|长孙|宇文|司徒|独孤|南宫|西门|轩辕"
_SURNAME = f"(?:{_COMPOUND}|[{_SURNAMES}])"
_SURNAME_AT = re.compile(_SURNAME)
_HONORIFICS = (
    "女士|先生|阿姨|大爷|大妈|大娘|奶奶|爷爷|大姐|大哥|大叔|大婶|叔叔|婶婶|伯伯"
    "|老先生|老太太|老太|老人家|小姐|同志|老师"
)
# 保安大叔, 门卫大爷, 环卫大姐: a word ending in a surname's character is not a surname.
_HONORIFIC = re.compile(f"(?<![保公门环警海完])(?<!\\[){_SURNAME}(?:{_HONORIFICS})")
_CJK = "\u4e00-\u9fff\u3400-\u4dbf"
_ALL_CJK = re.compile(f"[{_CJK}]+")
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
            if len(cand) == length and _ALL_CJK.fullmatch(cand) and _END.match(norm, at + length):
                if cand[-1] not in _SINGLE_END and not _FIELD_LABEL.match(cand) and not _common_word(cand):
                    return at + length
    surname = _SURNAME_AT.match(norm, at)
    if not surname:
        return 0
    for given in (2, 1):
        end = surname.end() + given
        cand = norm[at:end]
        if len(norm) < end or not _ALL_CJK.fullmatch(norm[surname.end() : end]):
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
            # found as written, left to right and not overlapping (a pattern per name would push the detector's own
            # out of ``re``'s cache: see contacts._known_numbers)
            at = norm.find(name)
            while at >= 0:
                found.append((PiiKind.NAME, at, at + len(name), RESIDENT))
                at = norm.find(name, at + len(name))
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
            if not _HONORIFIC_WORD.match(norm, end) or _SURNAME_AT.fullmatch(norm[end - 1]):
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
