"""Text layer of byline extraction: credit labels, name patterns and the string
parsers that apply them. ``metadata`` holds the tree layer.

Everything here runs on text passed through
:func:`crawler.extract.zh_patterns.normalize_text` (NFKC): ``：`` ``｜``
``／`` ``（）`` and the ideographic space arrive as their ASCII forms, so no
pattern needs both spellings. Bullets (``●`` ``•``) and the name middle dot
(``·``) are not folded by NFKC.
"""

from __future__ import annotations

import re

from crawler.extract.zh_dates import scan_dates
from crawler.extract.zh_patterns import HAN, HAN_CHAR_RE, normalize_text

# --- Bylines ---------------------------------------------------------------

# Organisation prefixes of 记者/通讯员: 本报记者, 新华社记者, 本报驻京记者, 特约通讯员.
_STAFF_PREFIX = (
    r"(?:本报讯|本报|本台|本刊|本网|本站|本社|新华社|中新社|中新网|人民网|央视|央广|总台|"
    r"驻[" + HAN + r"]{1,3}|特约|特派|实习|见习|首席|全媒体|融媒体)*"
)
# (regex, role), tried as one alternation, so longer labels come first.
# Roles: author, editor (never an author), source (the outlet), photo
# (credited but neither) and stop (ends the previous value).
BYLINE_LABELS: tuple[tuple[str, str], ...] = (
    (r"责任编辑|值班编辑|实习编辑|责编|编辑|主编|编审", "editor"),
    (r"审核|审校|审稿|校对|终审|初审|复审|[一二三]审|监制", "editor"),
    (r"(?:新闻|文章|本文|信息|稿件)来源|来源|稿源|出处|转自|转载自|Source(?=\s*:)", "source"),
    (_STAFF_PREFIX + r"(?:记者|通讯员)|实习生|特约撰稿人?", "author"),
    (r"作者|撰文|撰稿|采写|编译", "author"),
    # 文 / 图 are everyday characters: only labels with a separator (文/X, 文|X).
    (r"文(?=\s*[/|:])", "author"),
    (r"图片来源|图源|摄影|摄像|图片|图(?=\s*[/|:])|视频(?=\s*[/|:])", "photo"),
    (r"(?:发布|发表|更新|修改)?时间|日期|发布于|发表于|浏览|阅读|点击|字号|分享|打印|关闭", "stop"),
)
BYLINE_LABEL_RE = re.compile(
    "|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _role) in enumerate(BYLINE_LABELS))
)
LABEL_SEPARATOR_RE = re.compile(r"\s*[:|/]\s*")
# Between several names: spaces, bullets, 、 and commas. Not · (阿卜杜拉·买买提).
NAME_SPLIT_RE = re.compile(r"[\s●•◆■▪○◇★☆、,;/|()\[\]【】<>《》\"“”'‘’]+")
EN_NAME_SPLIT_RE = re.compile(r"\s*(?:[,;、|]|\band\b|&)\s*")
# Trailing credits glued to a name: 张三摄, 李四报道.
NAME_SUFFIX_RE = re.compile(r"(?:综合报道|报道|报导|摄影|摄|供图|整理|采写|发自.*)$")
HAN_NAME_RE = re.compile(rf"^(?:[{HAN}]{{2,4}}|[{HAN}]{{1,8}}[·・][{HAN}·・]{{1,12}})$")
EN_NAME_RE = re.compile(
    r"^[A-Z][A-Za-z'’.\-]*(?:\s+(?:[A-Z][A-Za-z'’.\-]*|de|da|del|der|van|von|la|le|bin|al)){1,4}$"
)
# Characters and words that no Chinese name contains: 记者了解到 is prose.
NOT_NAME_RE = re.compile(
    r"[了的是在从到对说把被已就都也还又]|获悉|表示|采访|发现|注意|了解|得知|走访|近日|日前|今天|昨天|目前|介绍"
)
# Outlets, not people (人民网, 新华社, 央视新闻).
ORG_NAME_RE = re.compile(
    rf"^[{HAN}]{{1,}}(?:网|报|社|台|站|网站|频道|新闻|传媒|集团|中心|客户端|日报|晚报)$"
    r"|\b(?:News|Press|Media|Times|Post|Agency|Reuters|Associated|AFP|Staff|Desk|Team|Online)\b",
)
NAME_STOPWORDS = frozenset(
    "本报 记者 编辑 通讯员 实习生 综合 整理 报道 新华社 本台 本网 本站 供图 来源 作者 网络 图片 视频 "
    "原创 佚名 未知 匿名 小编 管理员 admin administrator 网友 转载 微信 客户端 责编".split()
)
# Columns and calls named after a credit label (记者专访, 【记者走基层】, 记者蹲点日记,
# 编辑推荐, 通讯员来稿): after the label stands what the reporter does or sends,
# where a byline has a name. Listed by kind, so a new column is met by its
# family. A word that starts with one names no one (蹲点日记, 现场直击, 专访张三:
# the one interviewed is no author). No name starts so: most first characters
# here are no surnames, and those that are (连 解 来 回 随) are not followed by
# 线 读 稿 访 笔 in names; a name that merely holds one after its surname (王现场,
# 李见闻) stays a name.
CREDIT_COLUMN_WORDS: dict[str, str] = {
    "interviews and visits": "专访 暗访 探访 走访 采访 回访 寻访 访谈",
    "on the spot": "现场 蹲点 走基层 一线 直击 目击 见闻 连线 实录",
    "notes": "手记 札记 日记 笔记 随笔 杂记 日志",
    "inquiries and views": "调查 观察 追踪 体验 核查 调研 探秘 聚焦 视角 解读",
    "calls and picks": "来稿 推荐 精选 荐读 寄语",
}
CREDIT_COLUMN_RE = re.compile("|".join(word for words in CREDIT_COLUMN_WORDS.values() for word in words.split()))
# 本报讯（记者 张三 通讯员 李四）1月29日，… / 新华社北京4月8日电(记者张三)
LEAD_CREDIT_RE = re.compile(r"^\s*\S{0,24}?[讯电]\s*\((?P<inner>[^()]{2,60})\)")
# A bare credit closing a Chinese article, a paragraph of its own: (肖玥 王思洋),
# (记者 张三), (编辑 李四). Only this whole shape: parenthesised, one optional
# label first, at most four names of 2-4 Han characters each (and each a
# surname's: see CREDIT_SURNAMES).
TRAILING_CREDIT_RE = re.compile(
    rf"^\(\s*(?:(?P<label>记者|通讯员|编辑)\s*)?(?P<names>[{HAN}]{{2,4}}(?:[\s、]+[{HAN}]{{2,4}}){{0,3}})\s*\)$"
)
# A bare credit's words are names only when each starts with a surname of the tables:
# (包头), (政治部), (视觉中国), (民警 张三) and (王五 制图) are places, offices,
# photo credits and roles, and nothing else in the paragraph says they are no
# names. About 300 of the commonest single surnames (over nine in ten people),
# less characters that more often start a place or an office word (公 国 海 都
# 战 和 平 明 云 南 原), and the compound ones still in use.
COMMON_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
    "莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅"
    "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项"
    "连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞"
    "敖巩佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼盘闻厉伊仝郜阚禹井祖漆卿晋宣"
)
# Rarer surnames, met in credits all the same ((仉建国 王思洋), (亓晓 嵇亮)):
# the table above alone rejected such a credit whole. Only characters that
# rarely start anything but a name: a credit's words all pass this one test,
# so a surname that also starts a place or an everyday word would make two such
# words a credit ((洪洞 芮城), (屠宰 汲取)). Left out, though surnames too:
# 鄂 (鄂尔多斯), 禄 (禄丰), 弘 (弘扬), 勾 (勾画), 毋 (毋庸), 贝 (贝壳), 茅 (茅台),
# 洪 (洪水 洪洞 洪湖), 芮 (芮城), 綦 (綦江), 谯 (谯城), 郏 (郏县), 桓 (桓仁 桓台),
# 屠 (屠宰), 汲 (汲取), 慕 (慕田峪 慕名), 雍 (雍和宫 雍容), 戎 (戎装), 夔 (夔州
# 夔门), 糜 (糜烂), 於 (於是, the traditional 于), and 广 东 杭 浦 宿 怀 寿 丰 巢
# 衡 韶 咸 濮 巴 乌 印 越 蓬 经 干 家 通 扶 融 双 计 强 富 居 步 满 利 那 空 相
# 后 红 权 益 能 从 别 终 充 秋 暴 阴 幸 索 贡 堵 薄.
LESS_COMMON_SURNAMES = frozenset(
    "赖裘钮嵇荀邴宓隗郗钭邰逄亓仉郇昝禚甯佴眭缑俎邸郦郤璩扈晁訾乜竺逯庾蒯阙"
    "茹宦蔄笪冮厍郄殳蹇"
)
CREDIT_SURNAMES = COMMON_SURNAMES | LESS_COMMON_SURNAMES
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "令狐", "端木", "西门", "南宫", "独孤", "轩辕", "呼延", "申屠", "澹台", "太史", "闻人", "赫连", "钟离",
)
# What such a paragraph holds that names no one: (未完待续), (本报综合), (资料图), (供稿).
NOT_CREDIT_NAME_RE = re.compile(r"完|待续|本报|综合|供稿|资料|图片|视频|来源|编译|整理|报道|转载|摄|讯")
# English bylines: "By Jane Doe and John Roe", "Edited by ...".
EN_BY_RE = re.compile(r"^\s*By\s+(?P<names>.+)$", re.IGNORECASE)
EN_EDITED_BY_RE = re.compile(r"\b(?:Edited|Editing)\s+by\s+(?P<names>[^;()]+)", re.IGNORECASE)
# Where an English byline's names end.
EN_BY_END_RE = re.compile(
    r"\s+[|·•—–-]\s+|\s{2,}|\b(?:Updated|Published|Posted|Reporting|Editing|Edited)\b|\d|\s+for\s+",
    re.IGNORECASE,
)


# --- string parsers ------------------------------------------------------------


def is_person_name(token: str) -> bool:
    """2–4 Han characters (or a ·-joined transliteration), or 2–5 capitalised words."""
    if not token or token.lower() in NAME_STOPWORDS:
        return False
    if HAN_NAME_RE.match(token):
        return (not NOT_NAME_RE.search(token) and not CREDIT_COLUMN_RE.match(token)
                and not (len(token) >= 3 and ORG_NAME_RE.search(token)))
    return bool(EN_NAME_RE.match(token)) and not ORG_NAME_RE.search(token)


def _english_names(value: str) -> list[str]:
    names: list[str] = []
    for part in EN_NAME_SPLIT_RE.split(EN_BY_END_RE.split(value, maxsplit=1)[0]):
        part = part.strip(" .,")
        part = part.title() if part.isupper() else part  # BY JANE DOE
        if not is_person_name(part):
            break  # names come first; "CNN", "Associated Press" end them
        names.append(part)
    return names


def _names(value: str) -> list[str]:
    """The names right after a label, up to the first thing that is not a name."""
    if not HAN_CHAR_RE.search(value):
        return _english_names(value)
    value = re.split(r"\d|[)\]】》]", value, maxsplit=1)[0]  # a date, a count or the credit's end
    names: list[str] = []
    for token in filter(None, NAME_SPLIT_RE.split(value)):
        name = NAME_SUFFIX_RE.sub("", token)
        if (name != token and names) or not is_person_name(name):
            break  # 记者 张三 郑州报道: after a name, "X报道" is a place
        names.append(name)
    return names[:8]


def _source(value: str) -> str | None:
    value = value.strip(" :|/()[]【】")
    dates = scan_dates(value)
    value = value[: dates[0].start] if dates else value
    value = re.split(r"\s{2,}|\|", value)[0].strip(" :|/()[]【】")
    if HAN_CHAR_RE.match(value):
        value = value.split(" ")[0]  # 来源：新华网 作者… (a Chinese outlet has no spaces)
    return value if 0 < len(value) <= 40 else None


def parse_byline(text: str) -> tuple[list[str], list[str], str | None]:
    """(authors, editors, source_name) of one byline-ish line.

    ``本报记者●张三●李四 通讯员 王五 (责编：赵六) 来源：大河报`` gives
    (["张三", "李四", "王五"], ["赵六"], "大河报"). Correspondents are authors;
    editors, reviewers and proofreaders are editors; 来源 is the outlet.
    """
    text = normalize_text(text)
    labels: list[tuple[int, int, str]] = []
    for m in BYLINE_LABEL_RE.finditer(text):
        sep = LABEL_SEPARATOR_RE.match(text, m.end())
        # A label glued to a preceding Han character (了解到记者…) is prose,
        # unless a colon or slash follows it (来源：新华网作者：张三).
        if m.start() and HAN_CHAR_RE.match(text[m.start() - 1]) and not sep:
            continue
        labels.append((m.start(), sep.end() if sep else m.end(), BYLINE_LABELS[int((m.lastgroup or "r0")[1:])][1]))
    authors: list[str] = []
    editors: list[str] = []
    source: str | None = None
    for i, (_start, value_start, role) in enumerate(labels):
        value = text[value_start: labels[i + 1][0] if i + 1 < len(labels) else len(text)]
        if role == "author":
            authors += _names(value)
        elif role == "editor":
            editors += _names(value)
        elif role == "source" and source is None:
            source = _source(value)
    if m := EN_BY_RE.match(text):
        authors += _english_names(m["names"])
    if m := EN_EDITED_BY_RE.search(text):
        editors += _english_names(m["names"])
    return list(dict.fromkeys(authors)), list(dict.fromkeys(editors)), source


def person_names(value: str) -> list[str]:
    """Names in a structured author value: "张三 李四", "Jane Doe and John Roe", "By Jane Doe"."""
    text = normalize_text(value)
    if not text or text.startswith(("http://", "https://", "/")):
        return []
    authors, editors, source = parse_byline(text)
    if authors or editors or source or BYLINE_LABEL_RE.fullmatch(text):
        # A labelled credit: its authors only (编辑：李四 names no author, 本报记者 alone no one).
        return authors
    names: list[str] = []
    for part in filter(None, EN_NAME_SPLIT_RE.split(text)):
        names += part.split() if re.fullmatch(rf"[{HAN}]+(?: [{HAN}]+)+", part) else [part]
    # Digits mean a CMS user id (<meta name="author" content="104363">), not a name.
    return [n for n in names if 1 < len(n) <= 60 and n.lower() not in NAME_STOPWORDS and not re.search(r"\d", n)]


def trailing_credit(text: str) -> tuple[list[str], list[str]]:
    """(authors, editors) of a bare credit paragraph such as ``(肖玥 王思洋)``, else two empty lists.

    For the paragraph that closes an article only (the caller's to find):
    elsewhere, parenthesised words are prose. 编辑 names editors, who are no authors.
    Every word must be a name under a surname of the tables, and without a label there
    must be two: (包头), (公安厅), (民警 张三) and (王五 制图) name no one.
    """
    m = TRAILING_CREDIT_RE.match(normalize_text(text))
    if not m:
        return [], []
    names = NAME_SPLIT_RE.split(m["names"])  # Han, spaces and 、 only: no empty pieces
    # Unlabelled, one word is as likely a place or a column ((包头), (专题)) as a
    # person: two names at least. Any word that is no name makes none of them one.
    if len(names) < (1 if m["label"] else 2):
        return [], []
    if not all(_credit_name(name) for name in names):
        return [], []
    return ([], names) if m["label"] == "编辑" else (names, [])


def _credit_name(token: str) -> bool:
    """A name of a bare credit: a surname of the tables and one or two characters more."""
    if is_person_name(token) and not NOT_CREDIT_NAME_RE.search(token):
        if token.startswith(COMPOUND_SURNAMES) and 3 <= len(token) <= 4:
            return True
        return token[0] in CREDIT_SURNAMES and 2 <= len(token) <= 3
    return False
